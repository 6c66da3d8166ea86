/// A tokenizer.json `pre_tokenizer` (tokenizers' `PreTokenizerWrapper`): splits each untokenized
/// piece into words for the model.
indirect enum TokenizerPreTokenizer {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(TokenizerPattern, SplitBehavior, invert: Bool)
    case digits(individual: Bool)
    case whitespace
    case whitespaceSplit
    case metaspace(replacement: Unicode.Scalar, prepend: MetaspacePrepend, split: Bool)
    case punctuation(SplitBehavior)
    case bert
    case charDelimiter(Unicode.Scalar)
    case sequence([TokenizerPreTokenizer])

    enum MetaspacePrepend: String, Sendable { case always, first, never }

    /// Builds the pre-tokenizer from its JSON.
    /// - Throws: `.unsupported` for unknown types and regexes Swift cannot compile; `.invalid` for
    ///   malformed entries.
    static func parse(_ v: JSONValue, file: String, path: String = "pre_tokenizer") throws(HFModelError) -> TokenizerPreTokenizer {
        guard let o = v.object, let type = o["type"]?.string else {
            throw HFModelError(.invalid, file: file, "\(path) is \(v.serialized().prefix(80)), expected an object with a 'type'")
        }
        func behavior(_ key: String, _ def: SplitBehavior?) throws(HFModelError) -> SplitBehavior {
            if let s = o[key]?.string, let b = SplitBehavior(rawValue: s) { return b }
            if o[key] == nil, let def { return def }
            throw HFModelError(.invalid, file: file, "\(path) (\(type)) has \(key) \(o[key]?.serialized() ?? "nothing"), "
                               + "expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous")
        }
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: o["add_prefix_space"]?.bool ?? true, useRegex: o["use_regex"]?.bool ?? true)
        case "Split":
            let pattern = try TokenizerPattern.parse(o["pattern"], file: file, what: "\(path) (Split)")
            return .split(pattern, try behavior("behavior", nil), invert: o["invert"]?.bool ?? false)
        case "Digits": return .digits(individual: o["individual_digits"]?.bool ?? false)
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Punctuation": return .punctuation(try behavior("behavior", .isolated))
        case "BertPreTokenizer": return .bert
        case "CharDelimiterSplit":
            guard let d = o["delimiter"]?.string?.unicodeScalars, d.count == 1, let c = d.first else {
                throw HFModelError(.invalid, file: file, "\(path) (CharDelimiterSplit) needs a one-character 'delimiter'")
            }
            return .charDelimiter(c)
        case "Metaspace": return try metaspace(o, file: file, path: path)
        case "Sequence":
            guard let list = o["pretokenizers"]?.array else {
                throw HFModelError(.invalid, file: file, "\(path) (Sequence) has no 'pretokenizers' list")
            }
            var out: [TokenizerPreTokenizer] = []
            for (i, e) in list.enumerated() { out.append(try parse(e, file: file, path: "\(path).pretokenizers[\(i)]")) }
            return .sequence(out)
        default:
            throw HFModelError(.unsupported, file: file, "\(path) type '\(type)' is not supported, expected ByteLevel, Split, "
                               + "Digits, Whitespace, WhitespaceSplit, Metaspace, Punctuation, BertPreTokenizer, "
                               + "CharDelimiterSplit or Sequence")
        }
    }

    /// Metaspace's fields, with the legacy `add_prefix_space` reconciled as tokenizers does.
    private static func metaspace(_ o: JSONObject, file: String, path: String) throws(HFModelError) -> TokenizerPreTokenizer {
        guard let r = o["replacement"]?.string?.unicodeScalars, r.count == 1, let rep = r.first else {
            throw HFModelError(.invalid, file: file, "\(path) (Metaspace) needs a one-character 'replacement'")
        }
        var scheme = MetaspacePrepend.always
        if let s = o["prepend_scheme"]?.string {
            guard let p = MetaspacePrepend(rawValue: s) else {
                throw HFModelError(.invalid, file: file, "\(path) (Metaspace) has prepend_scheme '\(s)', expected always, first or never")
            }
            scheme = p
        }
        if o["add_prefix_space"]?.bool == false {
            guard scheme == .never || o["prepend_scheme"] == nil else {
                throw HFModelError(.invalid, file: file, "\(path) (Metaspace): add_prefix_space does not match declared prepend_scheme")
            }
            scheme = .never
        }
        return .metaspace(replacement: rep, prepend: scheme, split: o["split"]?.bool ?? true)
    }

    /// Pre-tokenizes every untokenized piece (tokenized pieces pass through).
    func apply(_ pieces: [TextPiece]) -> [TextPiece] {
        switch self {
        case .sequence(let list):
            var p = pieces
            for pre in list { p = pre.apply(p) }
            return p
        case .byteLevel(let addPrefixSpace, let useRegex):
            var out: [TextPiece] = []
            for piece in pieces {
                guard piece.ids == nil else { out.append(piece); continue }
                var p = piece
                if addPrefixSpace && p.text.first != " " { p.text.insert(" ", at: 0) }
                let parts = useRegex ? splitPiece(p, matchList(gpt2Matches(p.text), length: p.text.count), .isolated) : [p]
                for var part in parts {
                    part.text = ByteLevelAlphabet.encode(part.text)
                    out.append(part)
                }
            }
            return out
        default:
            var out: [TextPiece] = []
            for piece in pieces {
                if piece.ids != nil { out.append(piece) } else { out += split(piece) }
            }
            return out
        }
    }

    /// One untokenized piece through a non-sequence, non-ByteLevel pre-tokenizer.
    private func split(_ piece: TextPiece) -> [TextPiece] {
        let t = piece.text
        switch self {
        case .split(let pattern, let behavior, let invert):
            var m = pattern.findMatches(t)
            if invert { m = m.map { ($0.range, !$0.isMatch) } }
            return splitPiece(piece, m, behavior)
        case .digits(let individual):
            return splitPiece(piece, findCharMatches(t, CharClass.isNumeric), individual ? .isolated : .contiguous)
        case .whitespace:
            return splitPiece(piece, wordMatches(t), .removed)
        case .whitespaceSplit:
            return splitPiece(piece, findCharMatches(t, CharClass.isWhitespace), .removed)
        case .punctuation(let behavior):
            return splitPiece(piece, findCharMatches(t, CharClass.isPunctuation), behavior)
        case .bert:
            return splitPiece(piece, findCharMatches(t, CharClass.isWhitespace), .removed).flatMap {
                splitPiece($0, findCharMatches($0.text, CharClass.isPunctuation), .isolated)
            }
        case .charDelimiter(let c):
            return splitPiece(piece, findCharMatches(t) { $0 == c }, .removed)
        case .metaspace(let rep, let prepend, let doSplit):
            var p = piece
            p.text = t.map { $0 == " " ? rep : $0 }
            let add = prepend == .always || (prepend == .first && piece.atStart)
            if add && p.text.first != rep { p.text.insert(rep, at: 0) }
            return doSplit ? splitPiece(p, findCharMatches(p.text) { $0 == rep }, .mergedWithNext) : [p]
        case .byteLevel, .sequence:
            return apply([piece])
        }
    }
}

/// The Whitespace pre-tokenizer's `\w+|[^\w\s]+` with the match flags inverted, so that splitting
/// with `.removed` keeps the runs and drops the whitespace between them.
private func wordMatches(_ t: [Unicode.Scalar]) -> MatchList {
    var runs: [Range<Int>] = []
    var i = 0
    while i < t.count {
        if CharClass.isWordChar(t[i]) {
            var j = i + 1
            while j < t.count && CharClass.isWordChar(t[j]) { j += 1 }
            runs.append(i..<j); i = j
        } else if !CharClass.isWhitespace(t[i]) {
            var j = i + 1
            while j < t.count && !CharClass.isWordChar(t[j]) && !CharClass.isWhitespace(t[j]) { j += 1 }
            runs.append(i..<j); i = j
        } else {
            i += 1
        }
    }
    return matchList(runs, length: t.count).map { ($0.range, !$0.isMatch) }
}
