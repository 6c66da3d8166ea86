import Architectures
import HFModel

/// transformers' view of config.json: the keys its config class fills in when the file leaves them
/// out (the architecture's `configDefaults` for the file's `model_type`). llama.cpp b10572 reads
/// `AutoConfig.from_pretrained(dir).to_dict()`, so these defaults reach its GGUF metadata; a file
/// without `model_type` is read as it is (AutoConfig fails and b10572 falls back to the raw JSON).
enum ConfigDefaults {
    static func apply(_ table: [String: [ConfigDefault]], to config: ModelConfig) throws(ConvertError) -> ModelConfig {
        let modelType: String?
        do { modelType = try config.modelType() } catch { throw ConvertError(error.description) }
        guard let modelType, let defaults = table[modelType] else { return config }
        var object = config.json.object
        for d in defaults where !object.contains(d.key) {
            switch d {
            case .int(let k, let v):
                object.append(k, .number(JSONNumber(text: String(v), isInteger: true)))
            case .double(let k, let v):
                object.append(k, .number(JSONNumber(text: String(v), isInteger: false)))
            case .copy(let k, let from):
                if let v = object[from] { object.append(k, v) }
            case .headDimFromHeads:
                let hidden: Int?, heads: Int?
                do {
                    hidden = try config.int("hidden_size")
                    heads = try config.int("num_attention_heads")
                } catch { throw ConvertError(error.description) }
                if let hidden, let heads, heads > 0 {
                    object.append(d.key, .number(JSONNumber(text: String(hidden / heads), isInteger: true)))
                }
            }
        }
        return ModelConfig(json: HFJSONFile(path: config.path, object: object))
    }

    /// A tensor shape error caused by a transformers default (typically `head_dim`, which
    /// Gemma2Config / Gemma3TextConfig set to 256 whatever the width and head count): the message
    /// says which defaults were assumed.
    /// Only constant defaults count (not those derived from other keys, like Llama's head_dim).
    static func explainShapeError(_ error: ConvertError, table: [String: [ConfigDefault]], raw: ModelConfig,
                                  filled: ModelConfig) -> ConvertError {
        guard error.message.contains(" has shape "), let type = (try? raw.modelType()).flatMap({ $0 }),
              let defaults = table[type] else { return error }
        let shapeKeys: Set = ["head_dim", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "vocab_size"]
        let assumed = defaults.compactMap { d -> String? in
            guard case .int(let k, let v) = d, shapeKeys.contains(k), !raw.json.contains(k) else { return nil }
            return "\(k) = \(v)"
        }
        guard !assumed.isEmpty else { return error }
        return ConvertError(error.message + " (config.json does not set it: transformers' default for model_type '\(type)', "
                            + "\(assumed.joined(separator: ", ")), was assumed, as llama.cpp b10572 does; set the right value in config.json)")
    }

}
