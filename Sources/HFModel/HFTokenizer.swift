/// A Hugging Face `tokenizer.json` with a BPE model, encoding text the way the `tokenizers`
/// library does (`Tokenizer.encode(text, add_special_tokens)`): added tokens are cut out, the rest
/// is normalized, pre-tokenized, run through BPE, and the post-processor adds special tokens.
///
/// Supported components: normalizers NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents,
/// Replace, Prepend, ByteLevel, BertNormalizer, Sequence; pre-tokenizers ByteLevel, Split, Digits,
/// Whitespace, WhitespaceSplit, Metaspace, Punctuation, BertPreTokenizer, CharDelimiterSplit,
/// Sequence; the BPE model (both merge formats, byte fallback, unk/fuse_unk, ignore_merges,
/// subword prefix/suffix); post-processors TemplateProcessing, ByteLevel, RobertaProcessing,
/// BertProcessing, Sequence; decoders ByteLevel, Metaspace, Replace, Strip, Fuse, ByteFallback,
/// BPEDecoder, WordPiece, Sequence. Anything else is refused when loading (decoders: when decoding).
/// Split and Replace regexes run on Swift Regex with Unicode-scalar semantics, standing in for
/// Oniguruma; the GPT-2 expression of ByteLevel is matched by hand.
///
/// `HFTokenizer.autoTokenizer(directory:)` adds what transformers' `AutoTokenizer` changes on
/// top of tokenizer.json (see there); the converter's pre-tokenizer hash needs that variant.
///
/// Unicode tables follow tokenizers 0.23: regex classes as of Unicode 16, Punctuation as of 8.0,
/// normalization as of 9.0 (see `CharClass`, `UnicodeNormalization`). Token text is compared by
/// Unicode scalars everywhere, never with Swift's canonical-equivalence `==`. Not `Sendable`: it
/// holds compiled Swift `Regex` values; use one instance per thread.
public final class HFTokenizer {
    public let path: String
    /// The whole tokenizer.json object.
    public let json: JSONObject
    let normalizer: TokenizerNormalizer?
    let preTokenizer: TokenizerPreTokenizer?
    let model: BPEModel
    let postProcessor: TokenizerPostProcessor?
    let decoder: TokenizerDecoder?
    let added: AddedVocabulary
    /// Apply transformers' `clean_up_tokenization` after decoding.
    public let cleanUpTokenizationSpaces: Bool
    /// The transformers tokenizer class whose behaviour `autoTokenizer` reproduced
    /// ("GPT2TokenizerFast", ...); nil for a plain tokenizer.json.
    public let transformersClass: String?

    /// Reads `path` (a tokenizer.json).
    /// - Throws: `.missingFile`, `.malformedJSON` with the position, `.unsupported` naming the
    ///   component, or `.invalid` naming the malformed entry.
    public convenience init(path: String) throws(HFModelError) {
        try self.init(json: try JSONParser.parseFile(path), path: path)
    }

    /// Builds the tokenizer from parsed tokenizer.json content (`path` is used in messages).
    public convenience init(json value: JSONValue, path: String) throws(HFModelError) {
        guard let o = value.object else {
            throw HFModelError(.invalid, file: path, "top-level value is \(value.typeDescription), expected an object")
        }
        let parts = try Parts(o, file: path)
        try self.init(parts: parts, added: try HFTokenizer.addedTokens(o, model: parts.model, file: path))
    }

    init(parts: Parts, added tokens: [HFAddedToken], encodeSpecialTokens: Bool = false,
         cleanUp: Bool = false, transformersClass: String? = nil) throws(HFModelError) {
        path = parts.file
        json = parts.json
        normalizer = parts.normalizer
        preTokenizer = parts.preTokenizer
        model = parts.model
        postProcessor = parts.postProcessor
        decoder = parts.decoder
        added = AddedVocabulary(tokens: tokens, normalizer: parts.normalizer, encodeSpecialTokens: encodeSpecialTokens)
        cleanUpTokenizationSpaces = cleanUp
        self.transformersClass = transformersClass
    }

    /// The parsed components of a tokenizer.json.
    struct Parts {
        var file: String
        var json: JSONObject
        var normalizer: TokenizerNormalizer?
        var preTokenizer: TokenizerPreTokenizer?
        var model: BPEModel
        var postProcessor: TokenizerPostProcessor?
        var decoder: TokenizerDecoder?

        init(_ o: JSONObject, file: String) throws(HFModelError) {
            self.file = file
            json = o
            if let v = o["version"]?.string, v != "1.0" {
                throw HFModelError(.unsupported, file: file, "tokenizer version '\(v)' is not supported, expected 1.0")
            }
            guard let m = o["model"]?.object else {
                throw HFModelError(.invalid, file: file, "key 'model' is \(o["model"]?.typeDescription ?? "missing"), expected an object")
            }
            model = try BPEModel(m, file: file)
            func present(_ k: String) -> JSONValue? { o[k].flatMap { $0.isNull ? nil : $0 } }
            normalizer = try present("normalizer").map { v throws(HFModelError) in try TokenizerNormalizer.parse(v, file: file) }
            preTokenizer = try present("pre_tokenizer").map { v throws(HFModelError) in try TokenizerPreTokenizer.parse(v, file: file) }
            postProcessor = try present("post_processor").map { v throws(HFModelError) in try TokenizerPostProcessor.parse(v, file: file) }
            decoder = try present("decoder").map { v throws(HFModelError) in try TokenizerDecoder.parse(v, file: file) }
        }
    }

    /// tokenizer.json `added_tokens`, with ids resolved as tokenizers does: a content already in the
    /// model vocabulary keeps that id; otherwise the id written in the file.
    static func addedTokens(_ o: JSONObject, model: BPEModel, file: String) throws(HFModelError) -> [HFAddedToken] {
        guard let v = o["added_tokens"], !v.isNull else { return [] }
        guard let list = v.array else {
            throw HFModelError(.invalid, file: file, "key 'added_tokens' is \(v.typeDescription), expected a list")
        }
        var out: [HFAddedToken] = []
        var index: [ExactKey: Int] = [:]
        for (i, e) in list.enumerated() {
            guard let id = e["id"]?.int, id >= 0 else {
                throw HFModelError(.invalid, file: file, "added_tokens[\(i)] has no non-negative integer 'id'")
            }
            var t = try HFAddedToken.parse(e, id: id, file: file, what: "added_tokens[\(i)]")
            guard !t.content.isEmpty else { continue }
            if let existing = model.id(t.content) { t.id = existing }
            let key = ExactKey(t.content)
            if let k = index[key] { out[k] = t } else { index[key] = out.count; out.append(t) }
        }
        return out
    }

    // MARK: encoding

    /// Token ids of `text` (tokenizers' `encode(text, add_special_tokens)`).
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var pieces = added.extractAndNormalize(Array(text.unicodeScalars), normalizer: normalizer)
        if let preTokenizer { pieces = preTokenizer.apply(pieces) }
        var cache: [ExactKey: [Int]] = [:]
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3)
        for p in pieces {
            if let t = p.ids { ids += t } else { ids += model.tokenize(p.text, cache: &cache) }
        }
        if addSpecialTokens, let postProcessor { ids = postProcessor.apply(ids) }
        return ids
    }

    /// The pre-tokenized words of `text` (after added-token extraction, normalization and
    /// pre-tokenization), with added tokens as their content: tokenizers'
    /// `pre_tokenizer.pre_tokenize_str` on the stretches between added tokens.
    public func preTokenize(_ text: String) -> [String] {
        var pieces = added.extractAndNormalize(Array(text.unicodeScalars), normalizer: normalizer)
        if let preTokenizer { pieces = preTokenizer.apply(pieces) }
        return pieces.map { $0.text.string }
    }

    /// Text of `ids` (tokenizers' `decode`, then transformers' cleanup when enabled).
    /// Ids that name no token are skipped, as tokenizers does.
    /// - Throws: `.unsupported` when the decoder type is not implemented.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws(HFModelError) -> String {
        let tokens: [String] = ids.compactMap { id in
            if let t = added.tokenByID[id] { return skipSpecialTokens && t.special ? nil : t.content }
            return model.idToToken[id]
        }
        var text: String
        if let decoder {
            do { text = try decoder.decodeChain(tokens).joined() } catch {
                throw HFModelError(.unsupported, file: path, "decoder \(error.message)")
            }
        } else {
            text = tokens.joined(separator: " ")
        }
        if cleanUpTokenizationSpaces { text = cleanUpTokenization(text) }
        return text
    }

    // MARK: vocabulary

    // Lookups compare token text by Unicode scalars (Swift's String == would merge canonically
    // equivalent tokens such as "é" and "e\u{301}"), so no [String: Int] dictionary is exposed.

    /// Added tokens, sorted by id, with the flags in effect (`added_tokens_decoder`).
    public var addedTokens: [HFAddedToken] { added.tokens }

    /// Number of distinct tokens in the model vocabulary plus added tokens not in it
    /// (`len(tokenizer.get_vocab())`).
    public var vocabCount: Int {
        model.count + added.tokens.filter { model.id($0.content) == nil }.count
    }

    /// Largest id of the model vocabulary and the added tokens (-1 when both are empty).
    public var maxTokenID: Int {
        max(model.idToToken.keys.max() ?? -1, added.tokens.map(\.id).max() ?? -1)
    }

    /// The token text of model id `id`, ignoring added tokens.
    public func modelToken(id: Int) -> String? { model.idToToken[id] }

    /// Id of `token` in the model vocabulary, ignoring added tokens.
    public func modelTokenID(_ token: String) -> Int? { model.id(token) }

    /// The added token with this id, if any (`added_tokens_decoder[id]`).
    public func addedToken(id: Int) -> HFAddedToken? { added.tokenByID[id] }

    /// Id of `token`: added tokens first, then the model vocabulary.
    public func tokenToID(_ token: String) -> Int? { added.idByContent[ExactKey(token)] ?? model.id(token) }

    /// Token text of `id`: added tokens first, then the model vocabulary.
    public func idToToken(_ id: Int) -> String? { added.tokenByID[id]?.content ?? model.idToToken[id] }

    /// Merges in rank order.
    public var merges: [BPEMerge] { model.merges }

    /// `model.merges` as gguf-py's SpecialVocab writes `tokenizer.ggml.merges`: legacy strings as
    /// written; pairs joined with a space after replacing spaces inside each part by U+0120.
    public var ggufMerges: [String] {
        guard let list = json["model"]?["merges"]?.array, !list.isEmpty else { return [] }
        if list[0].string != nil { return list.compactMap(\.string) }
        func enc(_ s: String) -> String { s.replacingAll(" ", with: "\u{120}") }
        return model.merges.map { enc($0.left) + " " + enc($0.right) }
    }

    public var unknownToken: String? { model.unkToken }
    public var byteFallback: Bool { model.byteFallback }

    // Raw component definitions, for recognising a pre-tokenizer by its definition.
    public var normalizerJSON: JSONValue? { json["normalizer"] }
    public var preTokenizerJSON: JSONValue? { json["pre_tokenizer"] }
    public var modelJSON: JSONValue? { json["model"] }
    public var postProcessorJSON: JSONValue? { json["post_processor"] }
    public var decoderJSON: JSONValue? { json["decoder"] }
}
