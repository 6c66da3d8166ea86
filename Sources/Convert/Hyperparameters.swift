import Architectures
import GGUF
import HFModel

/// The `{arch}.*` hyper-parameter keys, in llama.cpp b10572's order and with its value types
/// (`TextModel.set_gguf_parameters` in conversion/base.py, then the architecture's extras, e.g.
/// `LlamaModel.set_gguf_parameters`). All integers are UINT32 and all floats FLOAT32, like gguf-py's
/// `add_*` helpers. `config` has the architecture's transformers defaults applied
/// (`ConfigDefaults`), as b10572 reads config.json through `AutoConfig`.
enum Hyperparameters {
    static func u32(_ key: String, _ v: Int, config: ModelConfig, from: String) throws(ConvertError) -> GGUFKeyValue {
        guard let x = UInt32(exactly: v) else {
            throw ConvertError("\(config.path): '\(from)' is \(v), which does not fit a UINT32 for \(key)")
        }
        return GGUFKeyValue(key, .uint32(x))
    }

    /// Keys from `set_gguf_parameters`, ending with `general.file_type`, plus the LlamaModel extras.
    static func metadata(config: ModelConfig, spec: ArchitectureSpec, fileType: Int) throws(ConvertError) -> [GGUFKeyValue] {
        if spec.converter.parameters == .phi3 { return try phi3(config: config, arch: spec.arch, fileType: fileType) }
        if spec.converter.parameters == .gemma2 { return try gemma2(config: config, spec: spec, fileType: fileType) }
        let a = spec.arch
        var out: [GGUFKeyValue] = []
        func int(_ keys: [String]) throws(ConvertError) -> (String, Int)? {
            do {
                guard let hit = config.json.firstPresent(keys), let v = try config.int([hit.key]) else { return nil }
                return (hit.key, v)
            } catch { throw ConvertError(error.description) }
        }
        func dbl(_ keys: [String]) throws(ConvertError) -> Double? {
            do { return try config.double(keys) } catch { throw ConvertError(error.description) }
        }
        func addInt(_ key: String, _ names: [String]) throws(ConvertError) {
            if let v = try int(names) { out.append(try u32(key, v.1, config: config, from: v.0)) }
        }
        let layerKeys = ["n_layers", "num_hidden_layers", "n_layer", "num_layers"]
        guard let blocks = try int(layerKeys) else {
            throw ConvertError("\(config.path): none of \(layerKeys.joined(separator: ", ")) is present (the number of layers)")
        }
        out.append(try u32(GGUFKey.LLM.blockCount(a), blocks.1, config: config, from: blocks.0))
        try addInt(GGUFKey.LLM.contextLength(a), ["max_position_embeddings", "n_ctx", "n_positions", "max_length",
                                                  "max_sequence_length", "model_max_length"])
        try addInt(GGUFKey.LLM.embeddingLength(a), ["hidden_size", "n_embd", "dim"])
        try addInt(GGUFKey.LLM.feedForwardLength(a), ["prefix_dense_intermediate_size", "dense_intermediate_size",
                                                      "intermediate_size", "n_inner", "hidden_dim"])
        try addInt(GGUFKey.LLM.headCount(a), ["num_attention_heads", "n_head", "n_heads"])
        try addInt(GGUFKey.LLM.headCountKV(a), ["num_key_value_heads", "n_kv_heads"])
        let rope = try RopeParameters(config: config)
        out += try ropeScaling(rope, config: config, arch: a)
        if let theta = rope.theta { out.append(GGUFKeyValue(GGUFKey.LLM.ropeFreqBase(a), .float32(Float(theta)))) }
        if let local = rope.localTheta { out.append(GGUFKeyValue(GGUFKey.LLM.ropeFreqBaseSWA(a), .float32(Float(local)))) }
        if let v = try dbl(["rms_norm_eps", "norm_eps"]) {
            out.append(GGUFKeyValue(GGUFKey.LLM.layerNormRMSEpsilon(a), .float32(Float(v))))
        }
        if let v = try dbl(["layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"]) {
            out.append(GGUFKeyValue(GGUFKey.LLM.layerNormEpsilon(a), .float32(Float(v))))
        }
        try addInt(GGUFKey.LLM.expertCount(a), ["num_local_experts", "num_experts", "n_routed_experts"])
        try addInt(GGUFKey.LLM.expertUsedCount(a), ["num_experts_per_tok", "num_experts_per_token", "top_k_experts"])
        try addInt(GGUFKey.LLM.expertGroupCount(a), ["n_group"])
        try addInt(GGUFKey.LLM.expertGroupUsedCount(a), ["topk_group"])
        if let v = try int(["head_dim"]) {
            out.append(try u32(GGUFKey.LLM.keyLength(a), v.1, config: config, from: v.0))
            out.append(try u32(GGUFKey.LLM.valueLength(a), v.1, config: config, from: v.0))
        }
        out.append(GGUFKeyValue(GGUFKey.General.fileType, .uint32(UInt32(fileType))))
        if spec.converter.writesExpertFeedForwardLengths {
            try addInt(GGUFKey.LLM.expertFeedForwardLength(a), ["moe_intermediate_size"])
            try addInt(GGUFKey.LLM.expertSharedFeedForwardLength(a), ["shared_expert_intermediate_size"])
        }
        if spec.converter.writesVocabSizeAndRopeDims {
            guard let vocab = try int(["vocab_size"]) else { throw ConvertError("\(config.path): 'vocab_size' is missing") }
            out.append(try u32(GGUFKey.LLM.vocabSize(a), vocab.1, config: config, from: vocab.0))
            let dims = try ModelDims(config: config)
            out.append(try u32(GGUFKey.LLM.ropeDimensionCount(a), dims.headDim, config: config, from: "head_dim"))
        }
        if spec.converter.parameters == .gemma3 { out += try gemma3Extras(config: config, spec: spec) }
        return out
    }

    /// The rope scaling keys of `rope_parameters` (or the legacy `rope_scaling`; Gemma 3's
    /// `full_attention` entry when it has one): linear → type + factor; yarn → type, factor, original
    /// context length and the optional yarn factors; longrope → type; llama3 is handled by the
    /// `rope_freqs` tensor instead (no keys); "default" and unknown types write nothing.
    static func ropeScaling(_ rope: RopeParameters, config: ModelConfig, arch a: String) throws(ConvertError) -> [GGUFKeyValue] {
        guard let p = rope.scaling, let type = p["rope_type"]?.string ?? p["type"]?.string else { return [] }
        let factor = p["factor"]?.double
        switch type {
        case "linear":
            guard let factor else { return [] }
            return [GGUFKeyValue(GGUFKey.LLM.ropeScalingType(a), .string("linear")),
                    GGUFKeyValue(GGUFKey.LLM.ropeScalingFactor(a), .float32(Float(factor)))]
        case "yarn":
            guard let factor else { return [] }
            guard let orig = p["original_max_position_embeddings"]?.int ?? rope.originalContext else {
                throw ConvertError("\(config.path): rope scaling 'yarn' needs 'original_max_position_embeddings'")
            }
            var out = [GGUFKeyValue(GGUFKey.LLM.ropeScalingType(a), .string("yarn")),
                       GGUFKeyValue(GGUFKey.LLM.ropeScalingFactor(a), .float32(Float(factor))),
                       try u32(GGUFKey.LLM.ropeScalingOrigContext(a), orig, config: config, from: "original_max_position_embeddings")]
            if let v = p["extrapolation_factor"]?.double { out.append(GGUFKeyValue(GGUFKey.LLM.ropeScalingYarnExtFactor(a), .float32(Float(v)))) }
            if let v = (p["attention_factor"] ?? p["attn_factor"])?.double {
                out.append(GGUFKeyValue(GGUFKey.LLM.ropeScalingYarnAttnFactor(a), .float32(Float(v))))
            }
            if let v = p["beta_fast"]?.double { out.append(GGUFKeyValue(GGUFKey.LLM.ropeScalingYarnBetaFast(a), .float32(Float(v)))) }
            if let v = p["beta_slow"]?.double { out.append(GGUFKeyValue(GGUFKey.LLM.ropeScalingYarnBetaSlow(a), .float32(Float(v)))) }
            return out
        case "su", "longrope":
            return [GGUFKeyValue(GGUFKey.LLM.ropeScalingType(a), .string("longrope"))]
        default:
            return []
        }
    }
}

/// b10572's `TextModel.__init__` view of RoPE: `rope_parameters` (or `rope_scaling`), its
/// `full_attention` entry when split by attention kind, and the global/local thetas found under
/// any of their names (`find_hparam`).
struct RopeParameters {
    /// The parameters that scaling keys are read from.
    var scaling: JSONObject?
    var theta: Double?
    var localTheta: Double?
    var originalContext: Int?

    init(config: ModelConfig) throws(ConvertError) {
        do throws(HFModelError) {
            var all = try config.ropeParameters()
            if all == nil { all = try config.ropeScaling() }
            let full = all?["full_attention"]?.object
            let sliding = all?["sliding_attention"]?.object
            scaling = full ?? all
            let globalNames = ["global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"]
            let localNames = ["local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"]
            if full != nil || sliding != nil {
                theta = full?["rope_theta"]?.double
                localTheta = sliding?["rope_theta"]?.double
            } else {
                if let t = all?["rope_theta"]?.double { theta = t } else { theta = try config.double(globalNames) }
                localTheta = try config.double(localNames)
            }
            originalContext = try config.int(["original_max_position_embeddings"])
        } catch { throw ConvertError(error.description) }
    }
}

/// Dimensions the tensor shapes are checked against, from config.json.
struct ModelDims {
    var vocab: Int
    var embd: Int
    var ffn: Int
    var heads: Int
    var headsKV: Int
    var headDim: Int
    var layers: Int
    /// Routed experts (0: a dense model) and the hidden size of one expert's FFN.
    var experts = 0
    var expertFFN = 0
    /// Experts each token is routed to (`num_experts_per_tok`), when given.
    var expertsUsed: Int?

    init(config: ModelConfig) throws(ConvertError) {
        func need(_ keys: [String]) throws(ConvertError) -> Int {
            do {
                guard let v = try config.int(keys) else {
                    throw ConvertError("\(config.path): none of \(keys.map { "'\($0)'" }.joined(separator: ", ")) is present")
                }
                guard v > 0 else { throw ConvertError("\(config.path): '\(keys[0])' is \(v), expected a positive integer") }
                return v
            } catch let e as ConvertError { throw e } catch { throw ConvertError(String(describing: error)) }
        }
        layers = try need(["n_layers", "num_hidden_layers", "n_layer", "num_layers"])
        embd = try need(["hidden_size", "n_embd"])
        ffn = try need(["intermediate_size", "n_inner"])
        heads = try need(["num_attention_heads", "n_head"])
        vocab = try need(["vocab_size"])
        do {
            headsKV = try config.int(["num_key_value_heads"]) ?? heads
            headDim = try config.int(["head_dim"]) ?? embd / heads
        } catch { throw ConvertError(error.description) }
        guard headsKV > 0, headDim > 0 else {
            throw ConvertError("\(config.path): num_key_value_heads \(headsKV) and head_dim \(headDim) must be positive")
        }
        do {
            experts = try config.int(["num_local_experts", "num_experts", "n_routed_experts"]) ?? 0
            expertFFN = try config.int(["moe_intermediate_size"]) ?? ffn
            expertsUsed = try config.int(["num_experts_per_tok", "num_experts_per_token", "top_k_experts"])
        } catch { throw ConvertError(error.description) }
    }

    func value(_ d: Dim) -> Int {
        switch d {
        case .vocab: return vocab
        case .embd: return embd
        case .ffn: return ffn
        case .headDim: return headDim
        case .qDim: return heads * headDim
        case .kvDim: return headsKV * headDim
        case .qkvDim: return (heads + 2 * headsKV) * headDim
        case .ffnPair: return 2 * ffn
        case .experts: return experts
        case .expertFFN: return expertFFN
        }
    }
}

/// A conversion error with a message naming the file, tensor or key.
public struct ConvertError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
