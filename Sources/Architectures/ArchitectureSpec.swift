import GGUF

// One description per architecture, read by every module that needs to know one: the converter
// (tensor mapping, vocabulary sources, extra keys), the engine (block wiring), AWQ (scaling groups)
// and the quantizer's type plan (llama.cpp's model-size quirks). Each architecture is one file in
// this folder (`Llama.swift`, `Qwen2.swift`, ...) plus one line in `ArchitectureSpec.all`.

/// Everything the toolkit knows about one model architecture.
public struct ArchitectureSpec: Sendable {
    /// `architectures[0]` values in config.json that select this description.
    public let hfNames: [String]
    /// `general.architecture` of the GGUF file.
    public let arch: String
    /// What `convert_hf_to_gguf.py` does for it.
    public let converter: ConverterRules
    /// How llama.cpp's graph for it wires a decoder block.
    public let engine: EngineWiring
    /// AutoAWQ's scaling groups of one block (`get_layers_for_scaling`), in its order.
    public let awqGroups: [AWQGroup]
    /// llama-quantize's architecture-dependent facts.
    public let quantization: QuantizationQuirks

    public init(hfNames: [String], arch: String, converter: ConverterRules, engine: EngineWiring,
                awqGroups: [AWQGroup], quantization: QuantizationQuirks) {
        self.hfNames = hfNames
        self.arch = arch
        self.converter = converter
        self.engine = engine
        self.awqGroups = awqGroups
        self.quantization = quantization
    }

    /// The tensor families (converter rules).
    public var tensors: [TensorRule] { converter.tensors }
    public var vocabSources: [VocabSource] { converter.vocabSources }

    /// HF name suffixes the converter drops silently (`prepare_tensors`).
    public static let ignoredSuffixes = [".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq"]
}

// MARK: - Registry

extension ArchitectureSpec {
    /// Every supported architecture. Adding one: a new file with its `static let`, and a line here.
    public static let all: [ArchitectureSpec] = [llama, qwen2, qwen3, phi3, gemma2, gemma3, mixtral, qwen3moe]

    /// The description for a config.json `architectures[0]` value, or nil.
    public static func named(_ hfName: String) -> ArchitectureSpec? {
        all.first { $0.hfNames.contains(hfName) }
    }

    /// The description for a GGUF `general.architecture` value, or nil.
    public static func gguf(_ arch: String) -> ArchitectureSpec? {
        all.first { $0.arch == arch }
    }

    /// Every supported `architectures[0]` value, for error messages.
    public static var supportedNames: [String] { all.flatMap(\.hfNames) }

    /// Every supported `general.architecture` value, for error messages.
    /// (Several descriptions may share one: Mixtral converts to "llama", whose description `gguf`
    /// returns first.)
    public static var supportedGGUFNames: [String] {
        var seen = Set<String>()
        return all.map(\.arch).filter { seen.insert($0).inserted }
    }
}

// MARK: - Converter

/// A dimension of a tensor shape, resolved from config.json.
public enum Dim: Sendable, Equatable {
    case vocab, embd, ffn, headDim
    /// n_head * head_dim (rows of q_proj)
    case qDim
    /// n_head_kv * head_dim (rows of k_proj / v_proj)
    case kvDim
    /// qDim + 2 · kvDim (rows of a fused qkv_proj)
    case qkvDim
    /// 2 · ffn (rows of a fused gate_up_proj)
    case ffnPair
    /// Number of routed experts (rows of the MoE router).
    case experts
    /// Hidden size of one routed expert's FFN (`moe_intermediate_size`, else `intermediate_size`).
    case expertFFN
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
    /// Whether a `.bias` must be present.
    public let biasRequired: Bool
    public let permutation: RowPermutation
    /// Added to every element of the weight after widening to f32 (Gemma stores its RMS norm
    /// weights as `w` with the norm computing `x * (1 + w)`; the converter writes `1 + w`).
    public let shift: Float

    public init(_ hf: String, _ gguf: TensorName, _ shape: [Dim], required: Bool = true, bias: Bool = false,
                permutation: RowPermutation = .none, shift: Float = 0) {
        self.hf = hf
        self.gguf = gguf
        self.shape = shape
        self.required = required
        self.biasRequired = bias
        self.permutation = permutation
        self.shift = shift
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
    /// `Phi3MiniModel.set_vocab`: GPT-2 BPE when tokenizer_config names `GPT2Tokenizer` (Phi-4),
    /// otherwise its own SentencePiece reading (added tokens from added_tokens.json, tokenizer_config
    /// and tokenizer.json, all user-defined or control).
    case phi3
}

/// Which `set_gguf_parameters` writes the `{arch}.*` keys.
/// What the converter class of an architecture writes beyond the common keys.
public struct ConverterRules: Sendable {
    public let vocabSources: [VocabSource]
    /// LlamaModel writes `{arch}.vocab_size` and `{arch}.rope.dimension_count`.
    public let writesVocabSizeAndRopeDims: Bool
    /// LlamaModel copies `add_prefix_space` from tokenizer_config.json to `tokenizer.ggml.add_space_prefix`.
    public let copiesAddPrefixSpace: Bool
    /// LlamaModel writes `add_bos_token = false` for this vocabulary size (Granite small models).
    public let noBOSForVocabSize: Int?
    /// LlamaModel turns a `rope_scaling` of type llama3 into a `rope_freqs` tensor.
    public let generatesLlama3RopeFreqs: Bool
    /// The tensor families; anything else in the checkpoint is an error (except ignored names).
    public let tensors: [TensorRule]
    /// The defaults transformers' config class fills in for keys config.json leaves out, by
    /// `model_type` (b10572 reads config.json through `AutoConfig(...).to_dict()`, so these reach
    /// the GGUF: e.g. `head_dim`, hence `attention.key_length`, for a Llama config without one).
    public let configDefaults: [String: [ConfigDefault]]
    /// Which `set_gguf_parameters` writes the `{arch}.*` keys.
    public let parameters: ParameterStyle
    /// HF tensor names dropped without a word (Gemma 2's `filter_tensors` drops `lm_head.weight`).
    public let skippedTensors: [String]
    /// After a SentencePiece vocabulary (tokenizer.model), `tokenizer.ggml.add_space_prefix` is
    /// written with this value (Gemma: false); nil writes nothing.
    public let sentencePieceAddSpacePrefix: Bool?
    /// The token embedding keeps only as many rows as the vocabulary has tokens (Gemma 3's
    /// `modify_tensors` drops out-of-vocabulary rows).
    public let trimsEmbeddingToVocabulary: Bool

    /// One tensor per expert in the checkpoint, stacked into 3-D GGUF tensors (nil: no experts).
    public let experts: ExpertStacking?
    /// Qwen2MoeModel writes `expert_feed_forward_length` (`moe_intermediate_size`) and
    /// `expert_shared_feed_forward_length` after `general.file_type`.
    public let writesExpertFeedForwardLengths: Bool

    public init(vocabSources: [VocabSource], writesVocabSizeAndRopeDims: Bool, copiesAddPrefixSpace: Bool,
                noBOSForVocabSize: Int?, generatesLlama3RopeFreqs: Bool, tensors: [TensorRule],
                configDefaults: [String: [ConfigDefault]] = [:], parameters: ParameterStyle = .textModel,
                skippedTensors: [String] = [], sentencePieceAddSpacePrefix: Bool? = nil,
                trimsEmbeddingToVocabulary: Bool = false, experts: ExpertStacking? = nil,
                writesExpertFeedForwardLengths: Bool = false) {
        self.experts = experts
        self.writesExpertFeedForwardLengths = writesExpertFeedForwardLengths
        self.vocabSources = vocabSources
        self.writesVocabSizeAndRopeDims = writesVocabSizeAndRopeDims
        self.copiesAddPrefixSpace = copiesAddPrefixSpace
        self.noBOSForVocabSize = noBOSForVocabSize
        self.generatesLlama3RopeFreqs = generatesLlama3RopeFreqs
        self.tensors = tensors
        self.configDefaults = configDefaults
        self.parameters = parameters
        self.skippedTensors = skippedTensors
        self.sentencePieceAddSpacePrefix = sentencePieceAddSpacePrefix
        self.trimsEmbeddingToVocabulary = trimsEmbeddingToVocabulary
    }
}

/// The hyper-parameter writer of a converter class.
public enum ParameterStyle: Sendable, Equatable {
    /// `TextModel.set_gguf_parameters` (plus the class's extras, e.g. LlamaModel's).
    case textModel
    /// `Gemma2Model.set_gguf_parameters`: its own list (no RoPE keys), then both logit
    /// soft-capping values and the sliding window.
    case gemma2
    /// `Gemma3Model.set_gguf_parameters`: TextModel's keys, then the final logit soft-capping
    /// (when set) and the sliding window (unless `sliding_window_pattern` is 1).
    case gemma3
    /// `Phi3MiniModel.set_gguf_parameters`: its own keys and order, the sliding window, and the
    /// long-context RoPE factor tensors.
    case phi3
}

/// One config key's default in a transformers config class (used only when config.json has no
/// such key).
public enum ConfigDefault: Sendable, Equatable {
    case int(String, Int)
    case double(String, Double)
    /// The value of another key (e.g. `num_key_value_heads` = `num_attention_heads`).
    case copy(String, from: String)
    /// `head_dim` = `hidden_size / num_attention_heads` (integer division).
    case headDimFromHeads

    /// The key this default fills.
    public var key: String {
        switch self {
        case .int(let k, _), .double(let k, _), .copy(let k, _): return k
        case .headDimFromHeads: return "head_dim"
        }
    }
}

// MARK: - Engine

/// How RoPE pairs the dimensions of a head (ggml's `GGML_ROPE_TYPE_*`).
public enum RopeStyle: Sendable, Equatable {
    /// Adjacent pairs (2i, 2i+1): llama (whose converter permutes Q and K for it).
    case normal
    /// Halves (i, i + n/2): qwen2, qwen3.
    case neox
}

/// Whether the engine requires, accepts or ignores a family of optional tensors.
public enum TensorPresence: Sendable, Equatable {
    /// Every layer must have it (llama.cpp's `create_tensor` without `TENSOR_NOT_REQUIRED`).
    case required
    /// Used when present (`TENSOR_NOT_REQUIRED`).
    case optional
}

/// The order of norms, attention, feed-forward and residual adds in one block.
public enum BlockLayout: Sendable, Equatable {
    /// attn_norm → attention → + residual → ffn_norm → feed-forward → + residual (`build_llama`).
    case preNorm
    /// attn_norm → attention → post_attention_norm → + residual → ffn_norm → feed-forward →
    /// post_ffw_norm → + residual (Gemma 2/3).
    case sandwichNorm
}

/// The feed-forward network of a block.
public enum FeedForwardKind: Sendable, Equatable {
    /// down(silu(gate(x)) · up(x)).
    case swiGLU
    /// down(gelu_tanh(gate(x)) · up(x)) (ggml `geglu_split`; Gemma).
    case geGLU
}

/// How the attention scores are scaled.
public enum QueryScaling: Sendable, Equatable {
    /// `softmax(scores / sqrt(head_dim))` (llama, qwen).
    case softmax
    /// Q is multiplied by 1/sqrt(head_dim) after RoPE, and by 1/sqrt(n_embd/n_head) when the model
    /// has `fullWidthLayers` layers (llama.cpp's rule for Gemma 2/3 27B); the softmax scale is 1.
    case query(fullWidthLayers: Int)
}

/// A tanh soft-capping `cap · tanh(x / cap)` read from a GGUF key.
public enum SoftCapping: Sendable, Equatable {
    case none
    /// The key's value, else `default`; 0 turns it off.
    case fromKey(default: Float)
}

/// Sliding-window attention on some layers (llama.cpp `LLAMA_SWA_TYPE_STANDARD`): a query at
/// position p sees keys p - window < key ≤ p. Layer il slides when `il % period < period - 1`
/// (period from `attention.sliding_window_pattern`, else `defaultPeriod`). Those layers use
/// `rope.freq_base_swa` when present.
public struct SlidingWindowRule: Sendable, Equatable {
    /// The window when `attention.sliding_window` is absent (nil: no sliding window at all).
    public let defaultWindow: Int?
    public let defaultPeriod: Int

    public init(defaultWindow: Int?, defaultPeriod: Int) {
        self.defaultWindow = defaultWindow
        self.defaultPeriod = defaultPeriod
    }
}

/// How llama.cpp's graph builds a block of this architecture (llama-model.cpp `build_*`,
/// `load_tensors`).
public struct EngineWiring: Sendable, Equatable {
    public let layout: BlockLayout
    public let feedForward: FeedForwardKind
    public let rope: RopeStyle
    /// q/k/v biases (qwen2: required).
    public let qkvBias: TensorPresence
    /// Per-head RMS norms of Q and K before RoPE (qwen3: required).
    public let qkNorm: TensorPresence
    /// `rope_freqs` divisors (llama3 rope scaling) are read when present.
    public let ropeFreqs: Bool
    /// `output.weight` may be absent, in which case the token embedding is used (tied output).
    public let tiedOutputAllowed: Bool
    /// The output is always the token embedding (Gemma 2 reads no `output.weight`).
    public let alwaysTiedOutput: Bool
    /// The token embeddings are multiplied by sqrt(n_embd) (Gemma).
    public let scalesEmbedding: Bool
    public let queryScaling: QueryScaling
    /// Soft-capping of the attention scores (`attn_logit_softcapping`, Gemma 2).
    public let attentionSoftCapping: SoftCapping
    /// Soft-capping of the output logits (`final_logit_softcapping`).
    public let finalSoftCapping: SoftCapping
    public let slidingWindow: SlidingWindowRule?
    /// Q and K/V come from one fused `attn_qkv` and gate/up from one `ffn_up` of 2·ffn rows
    /// (gate first), as Phi-3 stores them; the engine reads them as row ranges of those tensors.
    public let fusedProjections: Bool
    /// Phi-3's `rope_factors_long` / `rope_factors_short` are read when present.
    public let longContextRopeFactors: Bool

    public init(layout: BlockLayout, feedForward: FeedForwardKind, rope: RopeStyle, qkvBias: TensorPresence,
                qkNorm: TensorPresence, ropeFreqs: Bool, tiedOutputAllowed: Bool, alwaysTiedOutput: Bool = false,
                scalesEmbedding: Bool = false, queryScaling: QueryScaling = .softmax,
                attentionSoftCapping: SoftCapping = .none, finalSoftCapping: SoftCapping = .none,
                slidingWindow: SlidingWindowRule? = nil, fusedProjections: Bool = false,
                longContextRopeFactors: Bool = false) {
        self.fusedProjections = fusedProjections
        self.longContextRopeFactors = longContextRopeFactors
        self.layout = layout
        self.feedForward = feedForward
        self.rope = rope
        self.qkvBias = qkvBias
        self.qkNorm = qkNorm
        self.ropeFreqs = ropeFreqs
        self.tiedOutputAllowed = tiedOutputAllowed
        self.alwaysTiedOutput = alwaysTiedOutput
        self.scalesEmbedding = scalesEmbedding
        self.queryScaling = queryScaling
        self.attentionSoftCapping = attentionSoftCapping
        self.finalSoftCapping = finalSoftCapping
        self.slidingWindow = slidingWindow
    }
}

// MARK: - AWQ

/// One AWQ scaling group of a decoder block (spec §6.4, AutoAWQ `get_layers_for_scaling`): the
/// operation before the scaled linears, the linears whose input columns are multiplied by the
/// scales, and the module whose output error scores a candidate.
public enum AWQGroup: String, CaseIterable, Sendable, Hashable {
    /// input_layernorm → q_proj, k_proj, v_proj; loss on the attention output (`self_attn`).
    case attention = "attn_norm>attn_q,attn_k,attn_v"
    /// v_proj → o_proj (only when v_proj and o_proj have the same shape); loss on o_proj's output.
    case valueOutput = "attn_v>attn_output"
    /// post_attention_layernorm → gate_proj, up_proj; loss on the feed-forward output (`mlp`).
    case feedForward = "ffn_norm>ffn_gate,ffn_up"
    /// up_proj → down_proj; loss on down_proj's output.
    case down = "ffn_up>ffn_down"

    /// The tensors whose input columns are scaled.
    public var scaled: [TensorName] {
        switch self {
        case .attention: return [.attnQ, .attnK, .attnV]
        case .valueOutput: return [.attnOutput]
        case .feedForward: return [.ffnGate, .ffnUp]
        case .down: return [.ffnDown]
        }
    }

    /// The linear before the group whose output rows are divided by the scales (nil: a norm).
    public var previousLinear: TensorName? {
        switch self {
        case .valueOutput: return .attnV
        case .down: return .ffnUp
        case .attention, .feedForward: return nil
        }
    }

    /// The norm before the group whose weight is divided by the scales (nil: a linear).
    public var previousNorm: TensorName? {
        switch self {
        case .attention: return .attnNorm
        case .feedForward: return .ffnNorm
        case .valueOutput, .down: return nil
        }
    }

    /// AutoAWQ adds v → o only when `v_proj.weight.shape == o_proj.weight.shape` (no GQA and
    /// heads · head_dim = embedding length).
    public var needsSquareValueProjection: Bool { self == .valueOutput }
}

// MARK: - Quantization

/// llama-quantize's architecture-dependent facts (llama-model.cpp `load_hparams` model types that
/// llama-quant.cpp's rules test).
public struct QuantizationQuirks: Sendable {
    /// When llama.cpp types the model as 70B (the attn_v rule of Q3_K/Q4_K mixes raises it to Q5_K).
    public let seventyB: SeventyBRule

    public init(seventyB: SeventyBRule) { self.seventyB = seventyB }

    public enum SeventyBRule: Sendable, Equatable {
        /// Never (no 70B size in the architecture's table).
        case never
        /// 80 layers.
        case eightyLayers
        /// 80 layers with grouped-query attention (80 layers without GQA is llama's 65B).
        case eightyLayersWithGQA
    }

    /// Whether a model of this shape is llama.cpp's `LLM_TYPE_70B`.
    public func isSeventyB(layers: Int, heads: Int, headsKV: Int) -> Bool {
        switch seventyB {
        case .never: return false
        case .eightyLayers: return layers == 80
        case .eightyLayersWithGQA: return layers == 80 && heads != headsKV
        }
    }
}
