// config.json and the other small JSON files of a Hugging Face model folder.

/// File names inside a model folder.
public enum HFModelFiles {
    public static let config = "config.json"
    public static let tokenizer = "tokenizer.json"
    public static let tokenizerConfig = "tokenizer_config.json"
    public static let generationConfig = "generation_config.json"
    public static let specialTokensMap = "special_tokens_map.json"
    public static let addedTokens = "added_tokens.json"
    public static let sentencePieceModel = "tokenizer.model"
    public static let safetensorsIndex = "model.safetensors.index.json"

    /// `directory/name`.
    public static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// generation_config.json, or nil when the folder has none.
    public static func generationConfig(directory: String) throws(HFModelError) -> HFJSONFile? {
        try HFJSONFile.loadIfPresent(path(directory, generationConfig))
    }

    /// special_tokens_map.json, or nil when the folder has none.
    public static func specialTokensMap(directory: String) throws(HFModelError) -> HFJSONFile? {
        try HFJSONFile.loadIfPresent(path(directory, specialTokensMap))
    }

    /// added_tokens.json (`{"<token>": id, ...}`) in file order, or nil when the folder has none.
    /// Read by `_create_vocab_sentencepiece`.
    /// - Throws: `.invalid` naming the token whose id is not a non-negative integer.
    public static func addedTokens(directory: String) throws(HFModelError) -> [(content: String, id: Int)]? {
        guard let f = try HFJSONFile.loadIfPresent(path(directory, addedTokens)) else { return nil }
        var out: [(content: String, id: Int)] = []
        for m in f.object.members {
            guard let id = m.value.int, id >= 0 else {
                throw HFModelError(.invalid, file: f.path, "token '\(m.key)' has id \(m.value.serialized()), expected a non-negative integer")
            }
            out.append((m.key, id))
        }
        return out
    }
}

/// config.json: the model hyper-parameters (`Model.load_hparams` in convert_hf_to_gguf.py).
public struct ModelConfig: Sendable {
    public let json: HFJSONFile

    /// Reads `directory/config.json`.
    /// - Throws: `.missingFile` or `.malformedJSON` naming config.json and the position.
    public init(directory: String) throws(HFModelError) {
        json = try HFJSONFile(path: HFModelFiles.path(directory, HFModelFiles.config))
    }

    public init(json: HFJSONFile) { self.json = json }

    public var path: String { json.path }

    /// `architectures[0]`, which picks the converter class; nil when absent or empty.
    /// - Throws: `.invalid` when `architectures` is not a list of strings.
    public func architecture() throws(HFModelError) -> String? { try architectures().first }

    public func architectures() throws(HFModelError) -> [String] {
        guard let v = json["architectures"], !v.isNull else { return [] }
        guard let a = v.array else {
            throw HFModelError(.invalid, file: path, "key 'architectures' is \(v.typeDescription), expected a list of strings")
        }
        var out: [String] = []
        for (i, e) in a.enumerated() {
            guard let s = e.string else {
                throw HFModelError(.invalid, file: path, "architectures[\(i)] is \(e.typeDescription), expected a string")
            }
            out.append(s)
        }
        return out
    }

    /// `model_type` ("llama", "qwen2", ...).
    public func modelType() throws(HFModelError) -> String? { try json.string("model_type") }

    /// config.json `rope_scaling` (what convert_hf_to_gguf b4748 reads); nil when absent or null.
    /// - Throws: `.invalid` when the value is neither an object nor null.
    public func ropeScaling() throws(HFModelError) -> JSONObject? { try json.object("rope_scaling") }

    /// config.json `rope_parameters` (written by transformers 5 in place of `rope_scaling`; newer
    /// converters read it first); nil when absent or null.
    public func ropeParameters() throws(HFModelError) -> JSONObject? { try json.object("rope_parameters") }

    /// The method named by a rope object: `rope_type`, else the legacy `type` ("linear", "yarn",
    /// "llama3", ...), as `rope_scaling.get("rope_type", rope_scaling.get("type"))` reads it.
    public func ropeType(of rope: JSONObject) throws(HFModelError) -> String? {
        let v = rope["rope_type"] ?? rope["type"]
        guard let v, !v.isNull else { return nil }
        guard let s = v.string else {
            throw HFModelError(.invalid, file: path, "key 'rope_type' is \(v.typeDescription), expected a string")
        }
        return s
    }

    // Forwarded accessors (see `HFJSONFile`).
    public subscript(key: String) -> JSONValue? { json[key] }
    public func contains(_ key: String) -> Bool { json.contains(key) }
    public func int(_ keys: String...) throws(HFModelError) -> Int? { try json.int(keys) }
    public func double(_ keys: String...) throws(HFModelError) -> Double? { try json.double(keys) }
    public func string(_ keys: String...) throws(HFModelError) -> String? { try json.string(keys) }
    public func bool(_ keys: String...) throws(HFModelError) -> Bool? { try json.bool(keys) }
    public func int(_ keys: [String]) throws(HFModelError) -> Int? { try json.int(keys) }
    public func double(_ keys: [String]) throws(HFModelError) -> Double? { try json.double(keys) }
    public func string(_ keys: [String]) throws(HFModelError) -> String? { try json.string(keys) }
    public func bool(_ keys: [String]) throws(HFModelError) -> Bool? { try json.bool(keys) }
}
