/// A tokenizer.json `normalizer` (tokenizers' `NormalizerWrapper`), applied to each stretch of
/// input between added tokens before pre-tokenization.
indirect enum TokenizerNormalizer {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case strip(left: Bool, right: Bool)
    case stripAccents
    case replace(TokenizerPattern, content: [Unicode.Scalar])
    case prepend([Unicode.Scalar])
    case byteLevel
    case bert(cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case sequence([TokenizerNormalizer])

    /// Builds the normalizer from its JSON (`null` is handled by the caller).
    /// - Throws: `.unsupported` for `Precompiled`, `Nmt` and unknown types; `.invalid` for
    ///   malformed entries.
    static func parse(_ v: JSONValue, file: String, path: String = "normalizer") throws(HFModelError) -> TokenizerNormalizer {
        guard let o = v.object, let type = o["type"]?.string else {
            throw HFModelError(.invalid, file: file, "\(path) is \(v.serialized().prefix(80)), expected an object with a 'type'")
        }
        func flag(_ key: String, _ def: Bool) -> Bool { o[key]?.bool ?? def }
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Strip": return .strip(left: flag("strip_left", true), right: flag("strip_right", true))
        case "StripAccents": return .stripAccents
        case "ByteLevel": return .byteLevel
        case "Prepend":
            guard let p = o["prepend"]?.string else {
                throw HFModelError(.invalid, file: file, "\(path) (Prepend) has no string 'prepend'")
            }
            return .prepend(Array(p.unicodeScalars))
        case "Replace":
            let pattern = try TokenizerPattern.parse(o["pattern"], file: file, what: "\(path) (Replace)")
            guard let c = o["content"]?.string else {
                throw HFModelError(.invalid, file: file, "\(path) (Replace) has no string 'content'")
            }
            return .replace(pattern, content: Array(c.unicodeScalars))
        case "BertNormalizer":
            let lower = flag("lowercase", true)
            let strip = o["strip_accents"]?.bool ?? lower
            return .bert(cleanText: flag("clean_text", true), chineseChars: flag("handle_chinese_chars", true),
                         stripAccents: strip, lowercase: lower)
        case "Sequence":
            guard let list = o["normalizers"]?.array else {
                throw HFModelError(.invalid, file: file, "\(path) (Sequence) has no 'normalizers' list")
            }
            var out: [TokenizerNormalizer] = []
            for (i, e) in list.enumerated() { out.append(try parse(e, file: file, path: "\(path).normalizers[\(i)]")) }
            return .sequence(out)
        default:
            throw HFModelError(.unsupported, file: file, "\(path) type '\(type)' is not supported, expected NFC, NFD, NFKC, NFKD, "
                               + "Lowercase, Strip, StripAccents, Replace, Prepend, ByteLevel, BertNormalizer or Sequence")
        }
    }

    /// Normalizes `text`.
    func apply(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch self {
        case .nfc: return UnicodeNormalization.nfc(text)
        case .nfd: return UnicodeNormalization.nfd(text)
        case .nfkc: return UnicodeNormalization.nfkc(text)
        case .nfkd: return UnicodeNormalization.nfkd(text)
        case .lowercase: return lowercased(text)
        case .strip(let left, let right):
            var lo = 0, hi = text.count
            if left { while lo < hi && CharClass.isWhitespace(text[lo]) { lo += 1 } }
            if right { while hi > lo && CharClass.isWhitespace(text[hi - 1]) { hi -= 1 } }
            return Array(text[lo..<hi])
        case .stripAccents: return text.filter { !CharClass.isMark($0) }
        case .replace(let pattern, let content):
            var out: [Unicode.Scalar] = []
            for m in pattern.findMatches(text) {
                if m.isMatch { out += content } else { out += text[m.range] }
            }
            return out
        case .prepend(let p): return text.isEmpty ? text : p + text
        case .byteLevel: return ByteLevelAlphabet.encode(text)
        case .bert(let clean, let chinese, let strip, let lower):
            return bertNormalize(text, clean: clean, chinese: chinese, strip: strip, lower: lower)
        case .sequence(let list):
            var t = text
            for n in list { t = n.apply(t) }
            return t
        }
    }
}

/// Full Unicode lowercase mapping per character (Rust `char::to_lowercase`, no context rules).
private func lowercased(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(text.count)
    for u in text {
        if u.value < 0x80 {
            out.append(u.value >= 0x41 && u.value <= 0x5A ? Unicode.Scalar(u.value + 32)! : u)
        } else {
            out.append(contentsOf: u.properties.lowercaseMapping.unicodeScalars)
        }
    }
    return out
}

/// tokenizers' BertNormalizer: drop NUL, U+FFFD and control/format/private-use characters
/// (Unicode 8.0 categories), map whitespace to spaces, pad CJK ideographs with spaces, strip
/// accents (NFD then drop Mn), lowercase.
private func bertNormalize(_ text: [Unicode.Scalar], clean: Bool, chinese: Bool, strip: Bool,
                           lower: Bool) -> [Unicode.Scalar] {
    var t: [Unicode.Scalar] = []
    for u in text {
        if clean {
            if u.value == 0 || u.value == 0xFFFD { continue }
            if u != "\t" && u != "\n" && u != "\r" && CharClass.isOther8(u) { continue }
            if CharClass.isWhitespace(u) { t.append(" "); continue }
        }
        if chinese && isCJK(u) {
            t.append(" "); t.append(u); t.append(" ")
        } else {
            t.append(u)
        }
    }
    if strip {
        t = UnicodeNormalization.nfd(t).filter { !CharClass.isNonspacingMark8($0) }
    }
    if lower { t = lowercased(t) }
    return t
}

/// The CJK Unified Ideograph blocks BERT pads with spaces.
private func isCJK(_ u: Unicode.Scalar) -> Bool {
    switch u.value {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
         0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
    default: return false
    }
}
