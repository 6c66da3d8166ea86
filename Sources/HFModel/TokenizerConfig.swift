/// One entry of tokenizer_config.json `added_tokens_decoder` or tokenizer.json `added_tokens`
/// (the fields of tokenizers' `AddedToken`).
public struct HFAddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    /// Matched after normalization (true) or on the raw input (false).
    public var normalized: Bool
    public var special: Bool

    public init(id: Int, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = true, special: Bool = false) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }

    /// Reads `{"content": ..., "single_word": ..., ...}`. Missing flags take tokenizers' defaults
    /// (`normalized` defaults to `!special`, the rest to false).
    /// - Throws: `.invalid` naming `what` (e.g. "added_tokens[3]") when a field has the wrong type.
    static func parse(_ v: JSONValue, id: Int, file: String, what: String) throws(HFModelError) -> HFAddedToken {
        guard let o = v.object else {
            throw HFModelError(.invalid, file: file, "\(what) is \(v.typeDescription), expected an object")
        }
        guard let content = o["content"]?.string else {
            throw HFModelError(.invalid, file: file, "\(what) has no string 'content'")
        }
        func flag(_ key: String, _ def: Bool) throws(HFModelError) -> Bool {
            guard let f = o[key], !f.isNull else { return def }
            guard let b = f.bool else {
                throw HFModelError(.invalid, file: file, "\(what).\(key) is \(f.typeDescription), expected a boolean")
            }
            return b
        }
        let special = try flag("special", false)
        return HFAddedToken(id: id, content: content, singleWord: try flag("single_word", false),
                            lstrip: try flag("lstrip", false), rstrip: try flag("rstrip", false),
                            normalized: try flag("normalized", !special), special: special)
    }
}

/// tokenizer_config.json: the transformers-side tokenizer settings.
public struct TokenizerConfig: Sendable {
    public let json: HFJSONFile

    /// Reads `directory/tokenizer_config.json`, or returns nil when the folder has none.
    public static func load(directory: String) throws(HFModelError) -> TokenizerConfig? {
        guard let f = try HFJSONFile.loadIfPresent(HFModelFiles.path(directory, HFModelFiles.tokenizerConfig)) else {
            return nil
        }
        return TokenizerConfig(json: f)
    }

    public init(json: HFJSONFile) { self.json = json }

    public var path: String { json.path }

    /// `add_bos_token`, `add_eos_token`, ... as SpecialVocab reads them: only a JSON boolean counts.
    public func addSpecialToken(_ type: String) -> Bool? { json["add_\(type)_token"]?.bool }

    /// The text of `<type>_token` ("bos" → `bos_token`), written either as a string or as an
    /// object with a `content` string; nil otherwise (SpecialVocab ignores other shapes).
    public func specialTokenContent(_ type: String) -> String? {
        guard let v = json["\(type)_token"] else { return nil }
        if let s = v.string { return s }
        return v["content"]?.string
    }

    /// `tokenizer_class` ("GPT2Tokenizer", "LlamaTokenizerFast", "PreTrainedTokenizerFast", ...).
    public func tokenizerClass() throws(HFModelError) -> String? { try json.string("tokenizer_class") }

    /// `add_prefix_space`, when set to a boolean.
    public func addPrefixSpace() throws(HFModelError) -> Bool? { try json.bool("add_prefix_space") }

    /// `chat_template` as written: a string, a list of `{"name", "template"}` objects, or nil.
    /// Other shapes are returned too; SpecialVocab ignores them with a warning.
    public var chatTemplate: JSONValue? {
        guard let v = json["chat_template"], !v.isNull else { return nil }
        return v
    }

    /// `added_tokens_decoder` entries sorted by id.
    /// - Throws: `.invalid` when a key is not an integer or an entry is malformed.
    public func addedTokensDecoder() throws(HFModelError) -> [HFAddedToken] {
        guard let v = json["added_tokens_decoder"], !v.isNull else { return [] }
        guard let o = v.object else {
            throw HFModelError(.invalid, file: path, "key 'added_tokens_decoder' is \(v.typeDescription), expected an object")
        }
        var out: [HFAddedToken] = []
        for m in o.members {
            guard let id = Int(m.key), id >= 0 else {
                throw HFModelError(.invalid, file: path, "added_tokens_decoder key '\(m.key)' is not a token id")
            }
            out.append(try HFAddedToken.parse(m.value, id: id, file: path, what: "added_tokens_decoder['\(m.key)']"))
        }
        return out.sorted { $0.id < $1.id }
    }
}
