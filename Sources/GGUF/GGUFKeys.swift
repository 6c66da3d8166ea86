// Every metadata key and tensor name the project reads or writes, in one place
// (gguf-py constants.py `Keys`, `TENSOR_NAMES`). No other file spells these strings.

/// GGUF metadata keys.
public enum GGUFKey {
    public enum General {
        public static let architecture = "general.architecture"
        public static let quantizationVersion = "general.quantization_version"
        public static let alignment = "general.alignment"
        public static let fileType = "general.file_type"
        public static let type = "general.type"
        public static let name = "general.name"
        public static let author = "general.author"
        public static let version = "general.version"
        public static let organization = "general.organization"
        public static let finetune = "general.finetune"
        public static let basename = "general.basename"
        public static let description = "general.description"
        public static let quantizedBy = "general.quantized_by"
        public static let sizeLabel = "general.size_label"
        public static let license = "general.license"
        public static let licenseName = "general.license.name"
        public static let licenseLink = "general.license.link"
        public static let url = "general.url"
        public static let doi = "general.doi"
        public static let uuid = "general.uuid"
        public static let repoURL = "general.repo_url"
        public static let sourceURL = "general.source.url"
        public static let sourceDOI = "general.source.doi"
        public static let sourceUUID = "general.source.uuid"
        public static let sourceRepoURL = "general.source.repo_url"
        public static let baseModelCount = "general.base_model.count"
        public static func baseModel(_ i: Int, _ field: String) -> String { "general.base_model.\(i).\(field)" }
        public static let datasetCount = "general.dataset.count"
        public static func dataset(_ i: Int, _ field: String) -> String { "general.dataset.\(i).\(field)" }
        public static let tags = "general.tags"
        public static let languages = "general.languages"
    }

    /// Per-architecture hyper-parameters, `{arch}.…`.
    public enum LLM {
        public static func vocabSize(_ a: String) -> String { "\(a).vocab_size" }
        public static func contextLength(_ a: String) -> String { "\(a).context_length" }
        public static func embeddingLength(_ a: String) -> String { "\(a).embedding_length" }
        public static func blockCount(_ a: String) -> String { "\(a).block_count" }
        public static func feedForwardLength(_ a: String) -> String { "\(a).feed_forward_length" }
        public static func headCount(_ a: String) -> String { "\(a).attention.head_count" }
        public static func headCountKV(_ a: String) -> String { "\(a).attention.head_count_kv" }
        public static func layerNormRMSEpsilon(_ a: String) -> String { "\(a).attention.layer_norm_rms_epsilon" }
        public static func layerNormEpsilon(_ a: String) -> String { "\(a).attention.layer_norm_epsilon" }
        public static func expertCount(_ a: String) -> String { "\(a).expert_count" }
        public static func expertUsedCount(_ a: String) -> String { "\(a).expert_used_count" }
        public static func keyLength(_ a: String) -> String { "\(a).attention.key_length" }
        public static func valueLength(_ a: String) -> String { "\(a).attention.value_length" }
        public static func ropeDimensionCount(_ a: String) -> String { "\(a).rope.dimension_count" }
        public static func ropeFreqBase(_ a: String) -> String { "\(a).rope.freq_base" }
        public static func ropeFreqBaseSWA(_ a: String) -> String { "\(a).rope.freq_base_swa" }
        public static func expertGroupCount(_ a: String) -> String { "\(a).expert_group_count" }
        public static func expertGroupUsedCount(_ a: String) -> String { "\(a).expert_group_used_count" }
        public static func ropeScalingType(_ a: String) -> String { "\(a).rope.scaling.type" }
        public static func ropeScalingFactor(_ a: String) -> String { "\(a).rope.scaling.factor" }
        public static func ropeScalingOrigContext(_ a: String) -> String { "\(a).rope.scaling.original_context_length" }
        public static func ropeScalingFinetuned(_ a: String) -> String { "\(a).rope.scaling.finetuned" }
        public static func ropeScalingAttnFactor(_ a: String) -> String { "\(a).rope.scaling.attn_factor" }
        public static func ropeScalingYarnLogMul(_ a: String) -> String { "\(a).rope.scaling.yarn_log_multiplier" }
        public static func ropeScalingYarnExtFactor(_ a: String) -> String { "\(a).rope.scaling.yarn_ext_factor" }
        public static func ropeScalingYarnAttnFactor(_ a: String) -> String { "\(a).rope.scaling.yarn_attn_factor" }
        public static func ropeScalingYarnBetaFast(_ a: String) -> String { "\(a).rope.scaling.yarn_beta_fast" }
        public static func ropeScalingYarnBetaSlow(_ a: String) -> String { "\(a).rope.scaling.yarn_beta_slow" }
        public static func slidingWindow(_ a: String) -> String { "\(a).attention.sliding_window" }
        public static func ropeScalingAttnFactors(_ a: String) -> String { "\(a).rope.scaling.attn_factor" }
    }

    public enum Tokenizer {
        public static let model = "tokenizer.ggml.model"
        public static let pre = "tokenizer.ggml.pre"
        public static let tokens = "tokenizer.ggml.tokens"
        public static let tokenType = "tokenizer.ggml.token_type"
        public static let tokenTypeCount = "tokenizer.ggml.token_type_count"
        public static let scores = "tokenizer.ggml.scores"
        public static let merges = "tokenizer.ggml.merges"
        public static let bosID = "tokenizer.ggml.bos_token_id"
        public static let eosID = "tokenizer.ggml.eos_token_id"
        public static let unknownID = "tokenizer.ggml.unknown_token_id"
        /// The spelling is llama.cpp's own ("seperator").
        public static let separatorID = "tokenizer.ggml.seperator_token_id"
        public static let paddingID = "tokenizer.ggml.padding_token_id"
        public static let clsID = "tokenizer.ggml.cls_token_id"
        public static let maskID = "tokenizer.ggml.mask_token_id"
        public static let eotID = "tokenizer.ggml.eot_token_id"
        public static let eomID = "tokenizer.ggml.eom_token_id"
        public static let addBOS = "tokenizer.ggml.add_bos_token"
        public static let addEOS = "tokenizer.ggml.add_eos_token"
        public static let addSEP = "tokenizer.ggml.add_sep_token"
        public static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
        public static let removeExtraWhitespaces = "tokenizer.ggml.remove_extra_whitespaces"
        public static let chatTemplate = "tokenizer.chat_template"
        public static func chatTemplate(named n: String) -> String { "tokenizer.chat_template.\(n)" }
        public static let chatTemplates = "tokenizer.chat_templates"
        /// `tokenizer.ggml.<kind>_token_id` for the SpecialVocab kinds bos, eos, unk, sep, pad, cls, mask.
        public static func specialID(_ kind: String) -> String {
            switch kind {
            case "unk": return unknownID
            case "sep": return separatorID
            case "pad": return paddingID
            default: return "tokenizer.ggml.\(kind)_token_id"
            }
        }
    }

    public enum Split {
        public static let count = "split.count"
        public static let no = "split.no"
        public static let tensorsCount = "split.tensors.count"
    }

    public enum Quantize {
        public static let imatrixFile = "quantize.imatrix.file"
        public static let imatrixDataset = "quantize.imatrix.dataset"
        public static let imatrixEntriesCount = "quantize.imatrix.entries_count"
        public static let imatrixChunksCount = "quantize.imatrix.chunks_count"
        public static let awqFile = "quantize.awq.file"
        public static let awqSamples = "quantize.awq.samples"
        public static let awqSeqLen = "quantize.awq.seqlen"
        public static let awqGrid = "quantize.awq.grid"
        public static let awqClip = "quantize.awq.clip"
        public static let awqGroups = "quantize.awq.groups"
        public static let awqImportance = "quantize.awq.importance"
    }
}

/// GGUF tensor names (gguf-py `TENSOR_NAMES`). `name(layer:)` gives the base name without the
/// `.weight` / `.bias` suffix.
public enum TensorName: String, CaseIterable, Sendable {
    case tokenEmbd = "token_embd"
    case outputNorm = "output_norm"
    case output = "output"
    case ropeFreqs = "rope_freqs"
    /// Phi-3 long-context RoPE divisors (`rope_factors_long` / `rope_factors_short`).
    case ropeFactorsLong = "rope_factors_long"
    case ropeFactorsShort = "rope_factors_short"
    case attnNorm = "blk.{bid}.attn_norm"
    case attnQ = "blk.{bid}.attn_q"
    case attnK = "blk.{bid}.attn_k"
    case attnV = "blk.{bid}.attn_v"
    case attnOutput = "blk.{bid}.attn_output"
    case attnQNorm = "blk.{bid}.attn_q_norm"
    case attnKNorm = "blk.{bid}.attn_k_norm"
    case attnQKV = "blk.{bid}.attn_qkv"
    case attnRotEmbd = "blk.{bid}.attn_rot_embd"
    case ffnNorm = "blk.{bid}.ffn_norm"
    case ffnGate = "blk.{bid}.ffn_gate"
    case ffnUp = "blk.{bid}.ffn_up"
    case ffnDown = "blk.{bid}.ffn_down"
    /// Gemma 2/3: the norm after attention, before the residual add.
    case postAttentionNorm = "blk.{bid}.post_attention_norm"
    /// Gemma 2/3: the norm after the feed-forward network, before the residual add.
    case postFFWNorm = "blk.{bid}.post_ffw_norm"
    // Mixture of experts: the router and the experts' FFNs stacked into 3-D tensors.
    case ffnGateInp = "blk.{bid}.ffn_gate_inp"
    case ffnGateExps = "blk.{bid}.ffn_gate_exps"
    case ffnUpExps = "blk.{bid}.ffn_up_exps"
    case ffnDownExps = "blk.{bid}.ffn_down_exps"

    public var isPerLayer: Bool { rawValue.hasPrefix("blk.") }

    /// `blk.3.attn_q` for layer 3; the layer is ignored for global tensors.
    public func name(layer: Int? = nil) -> String {
        guard isPerLayer else { return rawValue }
        return "blk.\(layer ?? 0)." + rawValue.dropFirst("blk.{bid}.".count)
    }

    public func weight(_ layer: Int? = nil) -> String { name(layer: layer) + ".weight" }
    public func bias(_ layer: Int? = nil) -> String { name(layer: layer) + ".bias" }

    /// The layer number of a `blk.N.` name, or nil for global tensors (llama.cpp's `blk.%d.` parse).
    public static func layer(of name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, rest.dropFirst(digits.count).first == "." else { return nil }
        return Int(digits)
    }
}

extension GGUFKey.LLM {
    /// The older spelling of the linear RoPE factor (llama.cpp `LLM_KV_ROPE_SCALE_LINEAR`), read
    /// when `rope.scaling.factor` is absent.
    public static func ropeScaleLinear(_ a: String) -> String { "\(a).rope.scale_linear" }
}

extension GGUFKey.Tokenizer {
    /// Fill-in-the-middle and other special ids llama.cpp reads (llama-arch.cpp `LLM_KV_TOKENIZER_*`).
    public static let fimPreID = "tokenizer.ggml.fim_pre_token_id"
    public static let fimSufID = "tokenizer.ggml.fim_suf_token_id"
    public static let fimMidID = "tokenizer.ggml.fim_mid_token_id"
    public static let fimPadID = "tokenizer.ggml.fim_pad_token_id"
    public static let fimRepID = "tokenizer.ggml.fim_rep_token_id"
    public static let fimSepID = "tokenizer.ggml.fim_sep_token_id"
    /// Deprecated spellings of the first three, still read by llama.cpp.
    public static let prefixID = "tokenizer.ggml.prefix_token_id"
    public static let suffixID = "tokenizer.ggml.suffix_token_id"
    public static let middleID = "tokenizer.ggml.middle_token_id"
}
