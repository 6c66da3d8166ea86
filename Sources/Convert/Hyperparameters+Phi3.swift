import Architectures
import Foundation
import GGUF
import HFModel

// Phi-3's own parameters (b10572 conversion/phi.py `Phi3MiniModel.set_gguf_parameters` and
// `generate_extra_tensors`), which do not go through TextModel's.
extension Hyperparameters {
    static func phi3(config: ModelConfig, arch a: String, fileType: Int) throws(ConvertError) -> [GGUFKeyValue] {
        func need(_ keys: [String]) throws(ConvertError) -> (String, Int) {
            do {
                guard let hit = config.json.firstPresent(keys), let v = try config.int([hit.key]) else {
                    throw ConvertError("\(config.path): none of \(keys.map { "'\($0)'" }.joined(separator: ", ")) is present")
                }
                return (hit.key, v)
            } catch let e as ConvertError { throw e } catch { throw ConvertError(String(describing: error)) }
        }
        let embd = try need(["hidden_size", "n_embd"]), heads = try need(["num_attention_heads", "n_head"])
        let headsKV = try need(["num_key_value_heads", "n_head_kv"])
        let ctx = try need(["n_positions", "max_position_embeddings"])
        let ffn = try need(["intermediate_size"])
        let blocks = try need(["n_layers", "num_hidden_layers", "n_layer", "num_layers"])
        let rope = try RopeParameters(config: config)
        guard let orig = rope.scaling?["original_max_position_embeddings"]?.int ?? rope.originalContext else {
            throw ConvertError("\(config.path): 'original_max_position_embeddings' is missing (Phi-3 needs it)")
        }
        let eps: Double?
        do { eps = try config.double(["rms_norm_eps"]) } catch { throw ConvertError(error.description) }
        guard let eps else { throw ConvertError("\(config.path): 'rms_norm_eps' is missing") }
        guard let theta = rope.theta else { throw ConvertError("\(config.path): 'rope_theta' is missing") }
        guard heads.1 > 0 else { throw ConvertError("\(config.path): 'num_attention_heads' is \(heads.1)") }
        let ropeDims = try phi3RopeDimensions(config: config, rope: rope, embd: embd.1, heads: heads.1)
        var out: [GGUFKeyValue] = []
        out.append(try u32(GGUFKey.LLM.contextLength(a), ctx.1, config: config, from: ctx.0))
        out.append(try u32(GGUFKey.LLM.ropeScalingOrigContext(a), orig, config: config, from: "original_max_position_embeddings"))
        out.append(try u32(GGUFKey.LLM.embeddingLength(a), embd.1, config: config, from: embd.0))
        out.append(try u32(GGUFKey.LLM.feedForwardLength(a), ffn.1, config: config, from: ffn.0))
        out.append(try u32(GGUFKey.LLM.blockCount(a), blocks.1, config: config, from: blocks.0))
        out.append(try u32(GGUFKey.LLM.headCount(a), heads.1, config: config, from: heads.0))
        out.append(try u32(GGUFKey.LLM.headCountKV(a), headsKV.1, config: config, from: headsKV.0))
        out.append(GGUFKeyValue(GGUFKey.LLM.layerNormRMSEpsilon(a), .float32(Float(eps))))
        out.append(try u32(GGUFKey.LLM.ropeDimensionCount(a), ropeDims, config: config, from: "partial_rotary_factor"))
        out.append(GGUFKeyValue(GGUFKey.LLM.ropeFreqBase(a), .float32(Float(theta))))
        out.append(GGUFKeyValue(GGUFKey.General.fileType, .uint32(UInt32(fileType))))
        // A null or absent sliding_window is written as 0 (how llama.cpp tells Phi-4 apart).
        let window: Int?
        do { window = try config.int(["sliding_window"]) } catch { throw ConvertError(error.description) }
        out.append(try u32(GGUFKey.LLM.slidingWindow(a), window ?? 0, config: config, from: "sliding_window"))
        return out
    }

    /// `int(partial_rotary_factor · n_embd) // n_head`.
    static func phi3RopeDimensions(config: ModelConfig, rope: RopeParameters, embd: Int, heads: Int) throws(ConvertError) -> Int {
        var pct = 1.0
        if let p = rope.scaling?["partial_rotary_factor"]?.double { pct = p } else {
            do throws(HFModelError) { if let p = try config.double(["partial_rotary_factor", "rope_pct", "rope_percent"]) { pct = p } }
            catch { throw ConvertError(error.description) }
        }
        return Int((pct * Double(embd)).rounded(.towardZero)) / heads
    }

    /// Phi-3's long-context RoPE: the `rope_factors_long` / `rope_factors_short` tensors and the
    /// `rope.scaling.attn_factor` key, when `rope_scaling` has a `long_factor` (128k models); nil otherwise.
    static func phi3LongRope(config: ModelConfig, dims: ModelDims) throws(ConvertError)
        -> (attnFactor: Float, long: [Float], short: [Float])? {
        let rope = try RopeParameters(config: config)
        guard let p = rope.scaling, let longV = p["long_factor"], !longV.isNull else { return nil }
        if let a = longV.array, a.isEmpty { return nil }
        func floats(_ v: JSONValue?, _ key: String) throws(ConvertError) -> [Float] {
            guard let arr = v?.array else { throw ConvertError("\(config.path): rope_scaling '\(key)' is missing or not a list") }
            var out: [Float] = []
            for x in arr {
                guard let n = x.number else { throw ConvertError("\(config.path): rope_scaling '\(key)' holds a non-number") }
                out.append(Float(n.double))
            }
            return out
        }
        let ctx: Int?, orig: Int?
        do throws(HFModelError) {
            ctx = try config.int(["n_positions", "max_position_embeddings"])
            if let o = p["original_max_position_embeddings"]?.int { orig = o } else { orig = try config.int(["original_max_position_embeddings"]) }
        } catch { throw ConvertError(error.description) }
        guard let ctx, let orig, orig > 0 else {
            throw ConvertError("\(config.path): long-context Phi-3 needs max_position_embeddings and original_max_position_embeddings")
        }
        let scale = Double(ctx) / Double(orig)
        let type = (p["rope_type"]?.string ?? p["type"]?.string ?? "").lowercased()
        let attn: Double
        switch type {
        case "su", "longrope": attn = scale > 1 ? (1 + log(scale) / log(Double(orig))).squareRoot() : 1
        case "yarn": attn = scale > 1 ? 0.1 * log(scale) + 1 : 1
        case "": throw ConvertError("\(config.path): rope_scaling has no type")
        default: throw ConvertError("\(config.path): rope_scaling type '\(type)' is not supported for Phi-3")
        }
        let long = try floats(p["long_factor"], "long_factor"), short = try floats(p["short_factor"], "short_factor")
        let ropeDims = try phi3RopeDimensions(config: config, rope: rope, embd: dims.embd, heads: dims.heads)
        guard long.count == short.count, long.count * 2 == ropeDims else {
            throw ConvertError("\(config.path): rope long/short factors have \(long.count)/\(short.count) values, expected \(ropeDims / 2)")
        }
        return (Float(attn), long, short)
    }
}
