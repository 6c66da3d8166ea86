// Hyper-parameter keys of the Gemma 2/3 graphs (gguf-py `Keys.LLM` / `Keys.Attention`).
extension GGUFKey.LLM {
    /// tanh soft-capping of the attention scores: `cap * tanh(score / cap)` (Gemma 2).
    public static func attnLogitSoftcapping(_ a: String) -> String { "\(a).attn_logit_softcapping" }
    /// tanh soft-capping of the output logits (Gemma 2, optional in Gemma 3).
    public static func finalLogitSoftcapping(_ a: String) -> String { "\(a).final_logit_softcapping" }
}

extension GGUFKey.LLM {
    /// Period of the sliding-window layers (an integer, or one boolean per layer in some models).
    public static func slidingWindowPattern(_ a: String) -> String { "\(a).attention.sliding_window_pattern" }
}
