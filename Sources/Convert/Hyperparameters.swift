import Architectures
import GGUF
import HFModel

/// The `{arch}.*` hyper-parameter keys, in llama.cpp's order and with its value types
/// (b4748 `Model.set_gguf_parameters`, then `LlamaModel.set_gguf_parameters`). All integers are
/// UINT32 and all floats FLOAT32, like gguf-py's `add_*` helpers.
enum Hyperparameters {
    static func u32(_ key: String, _ v: Int, config: ModelConfig, from: String) throws(ConvertError) -> GGUFKeyValue {
        guard let x = UInt32(exactly: v) else {
            throw ConvertError("\(config.path): '\(from)' is \(v), which does not fit a UINT32 for \(key)")
        }
        return GGUFKeyValue(key, .uint32(x))
    }

    /// Keys from `set_gguf_parameters`, ending with `general.file_type`, plus the LlamaModel extras and
    /// rope scaling.
    static func metadata(config: ModelConfig, spec: ArchitectureSpec, fileType: Int) throws(ConvertError) -> [GGUFKeyValue] {
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
        let layerKeys = ["n_layers", "num_hidden_layers", "n_layer", "num_layers"]
        guard let blocks = try int(layerKeys) else {
            throw ConvertError("\(config.path): none of \(layerKeys.joined(separator: ", ")) is present (the number of layers)")
        }
        out.append(try u32(GGUFKey.LLM.blockCount(a), blocks.1, config: config, from: blocks.0))
        if let v = try int(["max_position_embeddings", "n_ctx"]) { out.append(try u32(GGUFKey.LLM.contextLength(a), v.1, config: config, from: v.0)) }
        if let v = try int(["hidden_size", "n_embd"]) { out.append(try u32(GGUFKey.LLM.embeddingLength(a), v.1, config: config, from: v.0)) }
        if let v = try int(["intermediate_size", "n_inner"]) { out.append(try u32(GGUFKey.LLM.feedForwardLength(a), v.1, config: config, from: v.0)) }
        if let v = try int(["num_attention_heads", "n_head"]) { out.append(try u32(GGUFKey.LLM.headCount(a), v.1, config: config, from: v.0)) }
        if let v = try int(["num_key_value_heads"]) { out.append(try u32(GGUFKey.LLM.headCountKV(a), v.1, config: config, from: v.0)) }
        if let v = try dbl(["rope_theta"]) { out.append(GGUFKeyValue(GGUFKey.LLM.ropeFreqBase(a), .float32(Float(v)))) }
        if let v = try dbl(["rms_norm_eps"]) { out.append(GGUFKeyValue(GGUFKey.LLM.layerNormRMSEpsilon(a), .float32(Float(v)))) }
        if let v = try dbl(["layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"]) {
            out.append(GGUFKeyValue(GGUFKey.LLM.layerNormEpsilon(a), .float32(Float(v))))
        }
        if let v = try int(["num_local_experts"]) { out.append(try u32(GGUFKey.LLM.expertCount(a), v.1, config: config, from: v.0)) }
        if let v = try int(["num_experts_per_tok"]) { out.append(try u32(GGUFKey.LLM.expertUsedCount(a), v.1, config: config, from: v.0)) }
        if let v = try int(["head_dim"]) {
            out.append(try u32(GGUFKey.LLM.keyLength(a), v.1, config: config, from: v.0))
            out.append(try u32(GGUFKey.LLM.valueLength(a), v.1, config: config, from: v.0))
        }
        out.append(GGUFKeyValue(GGUFKey.General.fileType, .uint32(UInt32(fileType))))
        if spec.converter.writesVocabSizeAndRopeDims {
            guard let vocab = try int(["vocab_size"]) else { throw ConvertError("\(config.path): 'vocab_size' is missing") }
            out.append(try u32(GGUFKey.LLM.vocabSize(a), vocab.1, config: config, from: vocab.0))
            let dims = try ModelDims(config: config)
            out.append(try u32(GGUFKey.LLM.ropeDimensionCount(a), dims.headDim, config: config, from: "head_dim"))
        }
        out += try ropeScaling(config: config, arch: a)
        return out
    }

    /// `rope_scaling` (or `rope_parameters`) with a factor: linear → type + factor; yarn → type, factor and
    /// original context length; llama3 is handled by the `rope_freqs` tensor instead (no keys).
    static func ropeScaling(config: ModelConfig, arch a: String) throws(ConvertError) -> [GGUFKeyValue] {
        let rope: JSONObject?
        do throws(HFModelError) {
            if let scaling = try config.ropeScaling() { rope = scaling } else { rope = try config.ropeParameters() }
        } catch { throw ConvertError(error.description) }
        guard let rope, let factor = rope["factor"]?.double else { return [] }
        let type = (rope["type"]?.string ?? rope["rope_type"]?.string ?? "").lowercased()
        switch type {
        case "linear":
            return [GGUFKeyValue(GGUFKey.LLM.ropeScalingType(a), .string("linear")),
                    GGUFKeyValue(GGUFKey.LLM.ropeScalingFactor(a), .float32(Float(factor)))]
        case "yarn":
            var out = [GGUFKeyValue(GGUFKey.LLM.ropeScalingType(a), .string("yarn")),
                       GGUFKeyValue(GGUFKey.LLM.ropeScalingFactor(a), .float32(Float(factor)))]
            if let orig = rope["original_max_position_embeddings"]?.int, let o = UInt32(exactly: orig) {
                out.append(GGUFKeyValue(GGUFKey.LLM.ropeScalingOrigContext(a), .uint32(o)))
            }
            return out
        default:
            return []
        }
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
    }

    func value(_ d: Dim) -> Int {
        switch d {
        case .vocab: return vocab
        case .embd: return embd
        case .ffn: return ffn
        case .headDim: return headDim
        case .qDim: return heads * headDim
        case .kvDim: return headsKV * headDim
        }
    }
}

/// A conversion error with a message naming the file, tensor or key.
public struct ConvertError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
