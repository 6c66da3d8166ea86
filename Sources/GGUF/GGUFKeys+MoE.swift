extension GGUFKey.LLM {
    /// The hidden size of one routed expert's FFN when it differs from `feed_forward_length`
    /// (llama.cpp `LLM_KV_EXPERT_FEED_FORWARD_LENGTH`).
    public static func expertFeedForwardLength(_ a: String) -> String { "\(a).expert_feed_forward_length" }
    /// The hidden size of the shared expert (`LLM_KV_EXPERT_SHARED_FEED_FORWARD_LENGTH`).
    public static func expertSharedFeedForwardLength(_ a: String) -> String { "\(a).expert_shared_feed_forward_length" }
}
