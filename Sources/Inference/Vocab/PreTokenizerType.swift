// llama.cpp's pre-tokenizer kinds and how `tokenizer.ggml.pre` names map onto them
// (llama-vocab.cpp, `llama_vocab::impl::load`, b4748).

/// The pre-tokenizer llama.cpp selects for a BPE vocabulary (`enum llama_vocab_pre_type`).
public enum PreTokenizerType: String, Sendable, CaseIterable {
    case `default`, llama3, deepseekLLM, deepseekCoder, deepseek3LLM, falcon, mpt, starcoder, gpt2
    case refact, commandR, stablelm2, qwen2, olmo, dbrx, smaug, poro, chatglm4, viking, jais
    case tekken, smollm, codeshell, bloom, gpt3Finnish, exaone, chameleon, minerva
}

/// What one `tokenizer.ggml.pre` name selects: the pre-tokenizer and the flag defaults the
/// loader changes for it (before `tokenizer.ggml.add_bos_token` and friends override them).
struct PreTokenizerChoice: Sendable {
    var type: PreTokenizerType
    var ignoreMerges = false
    var addBOS = false
    var cleanSpaces = true
    /// chatglm-bpe has no BOS token.
    var clearsBOS = false
}

extension PreTokenizerType {
    /// Every name llama.cpp b4748 accepts in `tokenizer.ggml.pre` for a `gpt2` (BPE) vocabulary,
    /// in the order the loader tests them.
    static let knownNames: [(name: String, choice: PreTokenizerChoice)] = [
        ("default", .init(type: .default)),
        ("llama3", .init(type: .llama3, ignoreMerges: true, addBOS: true)),
        ("llama-v3", .init(type: .llama3, ignoreMerges: true, addBOS: true)),
        ("llama-bpe", .init(type: .llama3, ignoreMerges: true, addBOS: true)),
        ("falcon3", .init(type: .llama3, ignoreMerges: true, addBOS: true)),
        ("deepseek-llm", .init(type: .deepseekLLM, cleanSpaces: false)),
        ("deepseek-coder", .init(type: .deepseekCoder, cleanSpaces: false)),
        ("deepseek-v3", .init(type: .deepseek3LLM, cleanSpaces: false)),
        ("falcon", .init(type: .falcon)),
        ("mpt", .init(type: .mpt)),
        ("starcoder", .init(type: .starcoder)),
        ("gpt-2", .init(type: .gpt2)),
        ("phi-2", .init(type: .gpt2)),
        ("jina-es", .init(type: .gpt2)),
        ("jina-de", .init(type: .gpt2)),
        ("gigachat", .init(type: .gpt2)),
        ("jina-v1-en", .init(type: .gpt2)),
        ("jina-v2-es", .init(type: .gpt2)),
        ("jina-v2-de", .init(type: .gpt2)),
        ("jina-v2-code", .init(type: .gpt2)),
        ("roberta-bpe", .init(type: .gpt2)),
        ("refact", .init(type: .refact)),
        ("command-r", .init(type: .commandR, cleanSpaces: false)),
        ("qwen2", .init(type: .qwen2, cleanSpaces: false)),
        ("deepseek-r1-qwen", .init(type: .qwen2, cleanSpaces: false)),
        ("stablelm2", .init(type: .stablelm2)),
        ("olmo", .init(type: .olmo)),
        ("dbrx", .init(type: .dbrx)),
        ("smaug-bpe", .init(type: .smaug)),
        ("poro-chat", .init(type: .poro, cleanSpaces: false)),
        ("chatglm-bpe", .init(type: .chatglm4, clearsBOS: true)),
        ("viking", .init(type: .viking, cleanSpaces: false)),
        ("jais", .init(type: .jais)),
        ("tekken", .init(type: .tekken, ignoreMerges: true, addBOS: true, cleanSpaces: false)),
        ("smollm", .init(type: .smollm, cleanSpaces: false)),
        ("codeshell", .init(type: .codeshell)),
        ("bloom", .init(type: .bloom)),
        ("gpt3-finnish", .init(type: .gpt3Finnish)),
        ("exaone", .init(type: .exaone)),
        ("chameleon", .init(type: .chameleon, addBOS: true, cleanSpaces: false)),
        ("minerva-7b", .init(type: .minerva)),
        ("megrez", .init(type: .qwen2)),
    ]

    /// The choice for a `tokenizer.ggml.pre` value; nil for a name llama.cpp rejects.
    /// A missing or empty value selects `default` (llama.cpp warns that quality will degrade).
    static func choice(forName name: String?) -> PreTokenizerChoice? {
        guard let name, !name.isEmpty else { return PreTokenizerChoice(type: .default) }
        return knownNames.first(where: { $0.name == name })?.choice
    }
}
