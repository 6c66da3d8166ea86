import Architectures
import GGUF
import HFModel

// The `{arch}.*` keys of the Gemma converter classes (b10572 conversion/gemma.py), which depart
// from TextModel's list.
extension Hyperparameters {
    /// `Gemma2Model.set_gguf_parameters`: a fixed list (every key required, no RoPE keys), then
    /// the attention and final logit soft-capping values and the sliding window.
    static func gemma2(config: ModelConfig, spec: ArchitectureSpec, fileType: Int) throws(ConvertError) -> [GGUFKeyValue] {
        let a = spec.arch
        var out: [GGUFKeyValue] = []
        func need<T>(_ key: String, _ what: String, _ read: (String) throws(HFModelError) -> T?) throws(ConvertError) -> T {
            do {
                guard let v = try read(key) else {
                    throw ConvertError("\(config.path): '\(key)' (\(what)) is missing or null; Gemma 2 needs it")
                }
                return v
            } catch let e as ConvertError { throw e } catch { throw ConvertError(String(describing: error)) }
        }
        func int(_ key: String) throws(ConvertError) -> Int { try need(key, "an integer") { k throws(HFModelError) in try config.int(k) } }
        func float(_ gguf: String, _ key: String) throws(ConvertError) {
            out.append(GGUFKeyValue(gguf, .float32(Float(try need(key, "a number") { k throws(HFModelError) in try config.double(k) }))))
        }
        func u32(_ gguf: String, _ key: String) throws(ConvertError) {
            out.append(try Hyperparameters.u32(gguf, try int(key), config: config, from: key))
        }
        try u32(GGUFKey.LLM.contextLength(a), "max_position_embeddings")
        try u32(GGUFKey.LLM.embeddingLength(a), "hidden_size")
        try u32(GGUFKey.LLM.blockCount(a), "num_hidden_layers")
        try u32(GGUFKey.LLM.feedForwardLength(a), "intermediate_size")
        try u32(GGUFKey.LLM.headCount(a), "num_attention_heads")
        let kvKey = config.json.contains("num_key_value_heads") ? "num_key_value_heads" : "num_attention_heads"
        try u32(GGUFKey.LLM.headCountKV(a), kvKey)
        try float(GGUFKey.LLM.layerNormRMSEpsilon(a), "rms_norm_eps")
        try u32(GGUFKey.LLM.keyLength(a), "head_dim")
        try u32(GGUFKey.LLM.valueLength(a), "head_dim")
        out.append(GGUFKeyValue(GGUFKey.General.fileType, .uint32(UInt32(fileType))))
        try float(GGUFKey.LLM.attnLogitSoftcapping(a), "attn_logit_softcapping")
        try float(GGUFKey.LLM.finalLogitSoftcapping(a), "final_logit_softcapping")
        try u32(GGUFKey.LLM.slidingWindow(a), "sliding_window")
        return out
    }

    /// `Gemma3Model.set_gguf_parameters`' additions after TextModel's keys: the final logit
    /// soft-capping when set (and not zero) and the sliding window unless the config's
    /// `sliding_window_pattern` is 1 (every layer global). Its other calls rewrite keys TextModel
    /// already wrote with the same values (the transformers defaults fill them in first).
    static func gemma3Extras(config: ModelConfig, spec: ArchitectureSpec) throws(ConvertError) -> [GGUFKeyValue] {
        let a = spec.arch
        var out: [GGUFKeyValue] = []
        do {
            if let cap = try config.double(["final_logit_softcapping"]), cap != 0 {
                out.append(GGUFKeyValue(GGUFKey.LLM.finalLogitSoftcapping(a), .float32(Float(cap))))
            }
            if try config.int(["sliding_window_pattern"]) != 1 {
                guard let w = try config.int(["sliding_window"]) else {
                    throw ConvertError("\(config.path): 'sliding_window' is missing or null; Gemma 3 needs it unless sliding_window_pattern is 1")
                }
                out.append(try u32(GGUFKey.LLM.slidingWindow(a), w, config: config, from: "sliding_window"))
            }
            if config.json["attn_logit_softcapping"].map({ !$0.isNull }) ?? false {
                throw ConvertError("\(config.path): 'attn_logit_softcapping' is set, but Gemma 3 has no attention soft-capping (b10572 refuses it too)")
            }
        } catch let e as ConvertError { throw e } catch { throw ConvertError(String(describing: error)) }
        return out
    }
}
