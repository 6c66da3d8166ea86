// Reads a vocabulary from GGUF metadata the way `llama_vocab::impl::load` (llama-vocab.cpp,
// b4748) does: model and pre-tokenizer, flag defaults, tokens, special ids, the control tokens
// it recognises by their text, and the special-token list used to cut text before tokenizing.
// The control / end-of-generation rules follow b10572 (more texts, flags added rather than
// replaced, the gpt-oss and harmony fix-ups): a user-defined `</s>`, as Phi-3 has, becomes a
// control token there and is no longer cut out of the text without parse_special.

import GGUF

/// Special token ids; nil where llama.cpp has `LLAMA_TOKEN_NULL`.
public struct SpecialTokenIDs: Sendable, Equatable {
    public var bos: Int32?
    public var eos: Int32?
    public var eot: Int32?
    public var eom: Int32?
    public var unknown: Int32?
    public var separator: Int32?
    public var padding: Int32?
    public var mask: Int32?
    public var fimPrefix: Int32?
    public var fimSuffix: Int32?
    public var fimMiddle: Int32?
    public var fimPad: Int32?
    public var fimRepo: Int32?
    public var fimSeparator: Int32?
}

struct VocabularyLoader {
    let meta: VocabularyMetadata
    var model: GGUFVocabulary.Model = .spm
    var choice = PreTokenizerChoice(type: .default)
    var preName: String?
    var tokens: [String] = []
    var textTable = ByteStringTable()
    var scores: [Float] = []
    var attributes: [UInt32] = []
    var special = SpecialTokenIDs()
    var addBOS = false, addEOS = false, addSpacePrefix = false, removeExtraWhitespaces = false
    var endOfGeneration: Set<Int32> = []
    var specialCache: [Int32] = []

    init(metadata: GGUFMetadata, file: String) throws(VocabularyError) {
        meta = VocabularyMetadata(metadata: metadata, file: file)
        try readModel()
        try readTokens()
        try readSpecialIDs()
        detectControlTokens()
        buildSpecialCache()
        try applyNameAttributes()
    }

    private mutating func readModel() throws(VocabularyError) {
        let key = GGUFKey.Tokenizer.model
        guard let name = try meta.string(key) else { throw meta.missing(key) }
        switch name {
        case "llama": model = .spm
        case "gpt2": model = .bpe
        default:
            let what: String
            switch name {
            case "bert": what = "'bert' (WordPiece)"
            case "t5": what = "'t5' (Unigram)"
            case "rwkv": what = "'rwkv' (RWKV world)"
            case "no_vocab", "none": what = "'\(name)' (no vocabulary)"
            default: what = "'\(name)', which llama.cpp does not know either"
            }
            throw VocabularyError(.unsupported, file: meta.file, key: key,
                                  "key '\(key)' is \(what); supported: 'gpt2' (BPE), 'llama' (SentencePiece)")
        }
        preName = try meta.string(GGUFKey.Tokenizer.pre)
        switch model {
        case .bpe:
            guard let c = PreTokenizerType.choice(forName: preName) else {
                let known = PreTokenizerType.knownNames.map(\.name).joined(separator: ", ")
                throw VocabularyError(.unsupported, file: meta.file, key: GGUFKey.Tokenizer.pre,
                                      "key '\(GGUFKey.Tokenizer.pre)' is '\(preName ?? "")', not a pre-tokenizer llama.cpp knows; known: \(known)")
            }
            choice = c
            addBOS = c.addBOS
        case .spm:
            // Only BPE vocabularies have pre-tokenizers; llama.cpp ignores the name here.
            choice = PreTokenizerChoice(type: .default, cleanSpaces: false)
            addSpacePrefix = true
            addBOS = true
        }
        if let v = try meta.bool(GGUFKey.Tokenizer.addSpacePrefix) { addSpacePrefix = v }
        if let v = try meta.bool(GGUFKey.Tokenizer.removeExtraWhitespaces) { removeExtraWhitespaces = v }
    }

    private mutating func readTokens() throws(VocabularyError) {
        let key = GGUFKey.Tokenizer.tokens
        guard let list = try meta.strings(key) else { throw meta.missing(key) }
        guard list.count < Int(Int32.max) else { throw meta.invalid(key, "has \(list.count) tokens, too many") }
        textTable = ByteStringTable(expectedCount: list.count)
        tokens.reserveCapacity(list.count)
        for (i, raw) in list.enumerated() {
            // llama.cpp reads token texts as C strings and renames empty ones.
            var text = raw.utf8.firstIndex(of: 0).map { String(raw.utf8[..<$0]) ?? "" } ?? raw
            if text.isEmpty { text = "[EMPTY_\(i)]" }
            if let first = textTable.insertIfAbsent(Array(text.utf8), value: Int32(i)) {
                throw meta.invalid(key, "has the token '\(text)' twice, at \(first) and \(i)")
            }
            tokens.append(text)
        }
        scores = try meta.floats(GGUFKey.Tokenizer.scores, count: list.count)
            ?? [Float](repeating: 0, count: list.count)
        if let types = try meta.int32s(GGUFKey.Tokenizer.tokenType, count: list.count) {
            attributes = types.map { TokenAttribute.of(type: $0) }
        } else {
            attributes = [UInt32](repeating: TokenAttribute.normal, count: list.count)
        }
    }

    private mutating func readSpecialIDs() throws(VocabularyError) {
        let n = Int32(tokens.count)
        func fallback(_ id: Int32?) -> Int32? { id.flatMap { $0 < n ? $0 : nil } }
        switch model {
        case .spm:
            special.bos = fallback(1); special.eos = fallback(2); special.unknown = fallback(0)
        case .bpe:
            special.bos = choice.clearsBOS ? nil : fallback(11); special.eos = fallback(11)
        }
        typealias Slot = WritableKeyPath<SpecialTokenIDs, Int32?>
        let keys: [(String, Slot)] = [
            (GGUFKey.Tokenizer.bosID, \.bos), (GGUFKey.Tokenizer.eosID, \.eos),
            (GGUFKey.Tokenizer.eotID, \.eot), (GGUFKey.Tokenizer.eomID, \.eom),
            (GGUFKey.Tokenizer.unknownID, \.unknown), (GGUFKey.Tokenizer.separatorID, \.separator),
            (GGUFKey.Tokenizer.paddingID, \.padding), (GGUFKey.Tokenizer.maskID, \.mask),
            (GGUFKey.Tokenizer.fimPreID, \.fimPrefix), (GGUFKey.Tokenizer.fimSufID, \.fimSuffix),
            (GGUFKey.Tokenizer.fimMidID, \.fimMiddle), (GGUFKey.Tokenizer.fimPadID, \.fimPad),
            (GGUFKey.Tokenizer.fimRepID, \.fimRepo), (GGUFKey.Tokenizer.fimSepID, \.fimSeparator),
            (GGUFKey.Tokenizer.prefixID, \.fimPrefix), (GGUFKey.Tokenizer.suffixID, \.fimSuffix),
            (GGUFKey.Tokenizer.middleID, \.fimMiddle),
        ]
        for (key, slot) in keys {
            guard let id = try meta.uint32(key) else { continue }
            // llama.cpp only warns and keeps the default here; an id past the vocabulary is an error.
            guard id < UInt32(n) else {
                throw meta.invalid(key, "is \(id), expected less than \(n) (the number of tokens)")
            }
            special[keyPath: slot] = Int32(id)
        }
        if let v = try meta.bool(GGUFKey.Tokenizer.addBOS) { addBOS = v }
        if let v = try meta.bool(GGUFKey.Tokenizer.addEOS) { addEOS = v }
    }

    func id(of text: String) -> Int32? {
        let t = textTable.lookup(Array(text.utf8))
        return t >= 0 ? t : nil
    }

    /// Adds the control flag, keeping the token's other flags (b10572; b4748 replaced them).
    private mutating func markControl(_ id: Int32) {
        attributes[Int(id)] |= TokenAttribute.control
    }

    /// Texts that name an EOT, EOM or FIM token when no key gives its id (llama-vocab.cpp b10572).
    static var slotTexts: [(WritableKeyPath<SpecialTokenIDs, Int32?>, [String])] { [
        (\.eot, ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                 "<EOT>", "_<EOT>", "[EOT]", "<\u{FF5C}end\u{2581}of\u{2581}sentence\u{FF5C}>", "<end_of_utterance>"]),
        (\.eom, ["<|eom_id|>"]),
        (\.fimPrefix, ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\u{FF5C}fim\u{2581}begin\u{FF5C}>", "<PRE>",
                       "\u{2581}<PRE>", "<|code_prefix|>", "<|prefix|>"]),
        (\.fimSuffix, ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\u{FF5C}fim\u{2581}hole\u{FF5C}>", "<SUF>",
                       "\u{2581}<SUF>", "<|code_suffix|>", "<|suffix|>"]),
        (\.fimMiddle, ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\u{FF5C}fim\u{2581}end\u{FF5C}>", "<MID>",
                       "\u{2581}<MID>", "<|code_middle|>", "<|middle|>"]),
        (\.fimPad, ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
        (\.fimRepo, ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
        (\.fimSeparator, ["<|file_sep|>"]),
    ] }

    /// Texts of the tokens that end generation (and so are control tokens), b10572.
    static let endOfGenerationTexts = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<\u{FF5C}end\u{2581}of\u{2581}sentence\u{FF5C}>", "[e~[",
    ]

    /// The token text contains the bytes of "unused" (C `strstr`).
    static func containsUnused(_ text: String) -> Bool {
        let needle = Array("unused".utf8)
        let t = Array(text.utf8)
        guard t.count >= needle.count else { return false }
        for i in 0...(t.count - needle.count) where t[i] == needle[0] && Array(t[i..<(i + needle.count)]) == needle {
            return true
        }
        return false
    }

    /// Finds EOT, EOM and FIM tokens by their text when no key names them, marks them and the
    /// end-of-generation tokens as control tokens (and control tokens named "unused" as unused),
    /// then applies b10572's fix-ups: gpt-oss channel tokens are user-defined, `<|end|>` is not
    /// end-of-generation next to `<|return|>` + `<|call|>` (or `<|calls|>` + `<|flush|>`), and `</s>`
    /// is a normal token next to `<|tool_response>`. Where several texts match one slot,
    /// llama.cpp takes the first in hash-map order; this takes the lowest id.
    private mutating func detectControlTokens() {
        for (slot, names) in Self.slotTexts where special[keyPath: slot] == nil {
            guard let id = names.compactMap({ self.id(of: $0) }).min() else { continue }
            special[keyPath: slot] = id
            markControl(id)
        }
        for i in attributes.indices where attributes[i] & TokenAttribute.control != 0 {
            if Self.containsUnused(tokens[i]) { attributes[i] |= TokenAttribute.unused }
        }
        var eog: Set<Int32> = []
        for id in [special.fimPad, special.fimRepo, special.fimSeparator].compactMap({ $0 }) { eog.insert(id) }
        for name in Self.endOfGenerationTexts {
            guard let id = id(of: name) else { continue }
            eog.insert(id)
            markControl(id)
        }
        for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let id = id(of: name) { attributes[Int(id)] = TokenAttribute.userDefined }
        }
        for id in [special.eos, special.eot, special.eom].compactMap({ $0 }) { eog.insert(id) }
        func eogID(_ text: String) -> Int32? { id(of: text).flatMap { eog.contains($0) ? $0 : nil } }
        if let end = eogID("<|end|>"),
           (eogID("<|return|>") != nil && (eogID("<|call|>") ?? eogID("<|calls|>")) != nil)
            || ((eogID("<|call|>") ?? eogID("<|calls|>")) != nil && eogID("<|flush|>") != nil) {
            eog.remove(end)
            attributes[Int(end)] = TokenAttribute.userDefined
        }
        if eogID("<|tool_response>") != nil, let s = eogID("</s>") {
            eog.remove(s)
            attributes[Int(s)] = TokenAttribute.normal
        }
        endOfGeneration = eog
    }

    /// Control, user-defined and unknown tokens, longest text first (`cache_special_tokens`;
    /// llama.cpp's std::sort is not stable, equal lengths are kept in id order here).
    private mutating func buildSpecialCache() {
        let mask = TokenAttribute.control | TokenAttribute.userDefined | TokenAttribute.unknown
        let ids = (0..<Int32(tokens.count)).filter { attributes[Int($0)] & mask != 0 }
        let lengths = tokens.map { $0.utf8.count }
        specialCache = ids.sorted { a, b in
            let la = lengths[Int(a)], lb = lengths[Int(b)]
            return la != lb ? la > lb : a < b
        }
    }

    /// Strip flags llama.cpp sets by model name (jina-v2 `<mask>`, Phi-3 special tokens).
    private mutating func applyNameAttributes() throws(VocabularyError) {
        let pre = preName ?? ""
        let rawName = try meta.string(GGUFKey.General.name) ?? ""
        let name = String(decoding: rawName.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
        if ["jina-v2-de", "jina-v2-es", "jina-v2-code"].contains(where: { pre.contains($0) }) {
            if let id = id(of: "<mask>") { attributes[Int(id)] |= TokenAttribute.lstrip }
        } else if name.contains("phi-3") || name.contains("phi3") {
            for id in specialCache { attributes[Int(id)] |= TokenAttribute.rstrip }
            if let id = id(of: "</s>") { attributes[Int(id)] |= TokenAttribute.rstrip }
            for t in ["<unk>", "<s>", "<|endoftext|>"] {
                if let id = id(of: t) { attributes[Int(id)] &= ~TokenAttribute.rstrip }
            }
        }
    }
}
