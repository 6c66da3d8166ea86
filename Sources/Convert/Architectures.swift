import GGUF

// One table per supported Hugging Face architecture: what llama.cpp's converter (b4748
// convert_hf_to_gguf.py `LlamaModel`, `Qwen2Model`; `Qwen3Model` from later versions) writes for it.
// Adding an architecture means adding a table here, not new branches in the converter.

/// A dimension of a tensor shape, resolved from config.json.
public enum Dim: Sendable, Equatable {
    case vocab, embd, ffn, headDim
    /// n_head * head_dim (rows of q_proj)
    case qDim
    /// n_head_kv * head_dim (rows of k_proj / v_proj)
    case kvDim
}

/// Which rows to reorder for llama.cpp's rope layout (llama.py `LlamaModel.permute`).
public enum RowPermutation: Sendable, Equatable {
    case none
    /// Interleave the two halves of every head; heads = n_head.
    case queryHeads
    /// Same with heads = n_head_kv (falls back to n_head when absent).
    case keyHeads
}

/// One HF tensor family and its GGUF counterpart.
public struct TensorRule: Sendable {
    /// HF name without suffix; `{bid}` stands for the layer number.
    public let hf: String
    public let gguf: TensorName
    /// HF (PyTorch) shape of the `.weight`, outermost first.
    public let shape: [Dim]
    /// Whether `.weight` must be present.
    public let required: Bool
    /// Whether a `.bias` must be present (`nil`: optional, `false`: forbidden is not enforced).
    public let biasRequired: Bool
    public let permutation: RowPermutation

    public init(_ hf: String, _ gguf: TensorName, _ shape: [Dim], required: Bool = true, bias: Bool = false,
                permutation: RowPermutation = .none) {
        self.hf = hf
        self.gguf = gguf
        self.shape = shape
        self.required = required
        self.biasRequired = bias
        self.permutation = permutation
    }

    public var isPerLayer: Bool { hf.contains("{bid}") }
}

/// Where the vocabulary may come from, tried in order (`set_vocab` of each converter class).
public enum VocabSource: Sendable, Equatable {
    /// tokenizer.model (SentencePiece): `_set_vocab_sentencepiece`.
    case sentencePiece
    /// tokenizer.json of a byte-fallback BPE (Llama 2 style HF tokenizer): `_set_vocab_llama_hf`.
    case llamaHF
    /// tokenizer.json byte-level BPE: `_set_vocab_gpt2`.
    case gpt2
}

public struct ArchitectureSpec: Sendable {
    /// `architectures[0]` values in config.json that select this table.
    public let hfNames: [String]
    /// `general.architecture`.
    public let arch: String
    public let vocabSources: [VocabSource]
    /// LlamaModel writes `{arch}.vocab_size` and `{arch}.rope.dimension_count`.
    public let writesVocabSizeAndRopeDims: Bool
    /// LlamaModel copies `add_prefix_space` from tokenizer_config.json to `tokenizer.ggml.add_space_prefix`.
    public let copiesAddPrefixSpace: Bool
    /// LlamaModel writes `add_bos_token = false` for this vocabulary size (Granite small models).
    public let noBOSForVocabSize: Int?
    /// The tensor families; anything else in the checkpoint is an error (except ignored names).
    public let tensors: [TensorRule]

    /// HF name suffixes the converter drops silently (`prepare_tensors`).
    public static let ignoredSuffixes = [".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq"]
}

extension ArchitectureSpec {
    private static let commonGlobal: [TensorRule] = [
        TensorRule("model.embed_tokens", .tokenEmbd, [.vocab, .embd]),
        TensorRule("model.norm", .outputNorm, [.embd]),
        TensorRule("lm_head", .output, [.vocab, .embd], required: false),
    ]

    private static func layer(qkvBias: Bool, permute: Bool, qkNorm: Bool) -> [TensorRule] {
        var t: [TensorRule] = [
            TensorRule("model.layers.{bid}.input_layernorm", .attnNorm, [.embd]),
            TensorRule("model.layers.{bid}.self_attn.q_proj", .attnQ, [.qDim, .embd], bias: qkvBias,
                       permutation: permute ? .queryHeads : .none),
            TensorRule("model.layers.{bid}.self_attn.k_proj", .attnK, [.kvDim, .embd], bias: qkvBias,
                       permutation: permute ? .keyHeads : .none),
            TensorRule("model.layers.{bid}.self_attn.v_proj", .attnV, [.kvDim, .embd], bias: qkvBias),
            TensorRule("model.layers.{bid}.self_attn.o_proj", .attnOutput, [.embd, .qDim]),
            TensorRule("model.layers.{bid}.post_attention_layernorm", .ffnNorm, [.embd]),
            TensorRule("model.layers.{bid}.mlp.gate_proj", .ffnGate, [.ffn, .embd]),
            TensorRule("model.layers.{bid}.mlp.up_proj", .ffnUp, [.ffn, .embd]),
            TensorRule("model.layers.{bid}.mlp.down_proj", .ffnDown, [.embd, .ffn]),
        ]
        if qkNorm {
            t.append(TensorRule("model.layers.{bid}.self_attn.q_norm", .attnQNorm, [.headDim]))
            t.append(TensorRule("model.layers.{bid}.self_attn.k_norm", .attnKNorm, [.headDim]))
        }
        return t
    }

    /// `LlamaModel`: Llama 1/2/3, Mistral, SmolLM, TinyLlama. Q/K rows permuted for ggml's rope.
    public static let llama = ArchitectureSpec(
        hfNames: ["LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM"],
        arch: "llama",
        vocabSources: [.sentencePiece, .llamaHF, .gpt2],
        writesVocabSizeAndRopeDims: true,
        copiesAddPrefixSpace: true,
        noBOSForVocabSize: 49152,
        tensors: commonGlobal + layer(qkvBias: false, permute: true, qkNorm: false))

    /// `Qwen2Model`: q/k/v biases, NEOX rope (no permutation).
    public static let qwen2 = ArchitectureSpec(
        hfNames: ["Qwen2ForCausalLM"],
        arch: "qwen2",
        vocabSources: [.sentencePiece, .gpt2],
        writesVocabSizeAndRopeDims: false,
        copiesAddPrefixSpace: false,
        noBOSForVocabSize: nil,
        tensors: commonGlobal + layer(qkvBias: true, permute: false, qkNorm: false))

    /// `Qwen3Model` (llama.cpp after b4748): like Qwen2 with q_norm/k_norm and no q/k/v biases.
    public static let qwen3 = ArchitectureSpec(
        hfNames: ["Qwen3ForCausalLM"],
        arch: "qwen3",
        vocabSources: [.sentencePiece, .gpt2],
        writesVocabSizeAndRopeDims: false,
        copiesAddPrefixSpace: false,
        noBOSForVocabSize: nil,
        tensors: commonGlobal + layer(qkvBias: false, permute: false, qkNorm: true))

    public static let all: [ArchitectureSpec] = [llama, qwen2, qwen3]

    /// The table for `architectures[0]`, or nil.
    public static func named(_ hfName: String) -> ArchitectureSpec? {
        all.first { $0.hfNames.contains(hfName) }
    }

    /// Every supported `architectures[0]` value, for error messages.
    public static var supportedNames: [String] { all.flatMap(\.hfNames) }
}
