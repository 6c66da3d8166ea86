/// A tokenizer.json `decoder`: turns token strings back into text (tokenizers' `decode_chain`
/// followed by joining the results).
indirect enum TokenizerDecoder {
    case byteLevel
    case metaspace(replacement: Unicode.Scalar, prependScheme: String)
    case replace(TokenizerPattern, content: String)
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case fuse
    case byteFallback
    case bpe(suffix: String)
    case wordPiece(prefix: String, cleanup: Bool)
    case sequence([TokenizerDecoder])
    /// A decoder this module does not implement; decoding with it throws.
    case unsupported(String)

    static func parse(_ v: JSONValue, file: String, path: String = "decoder") throws(HFModelError) -> TokenizerDecoder {
        guard let o = v.object, let type = o["type"]?.string else {
            throw HFModelError(.invalid, file: file, "\(path) is \(v.serialized().prefix(80)), expected an object with a 'type'")
        }
        switch type {
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            let rep = o["replacement"]?.string?.unicodeScalars.first ?? "\u{2581}"
            var scheme = o["prepend_scheme"]?.string ?? "always"
            if o["add_prefix_space"]?.bool == false { scheme = "never" }
            return .metaspace(replacement: rep, prependScheme: scheme)
        case "Replace":
            let p = try TokenizerPattern.parse(o["pattern"], file: file, what: "\(path) (Replace)")
            return .replace(p, content: o["content"]?.string ?? "")
        case "Strip":
            return .strip(content: o["content"]?.string?.unicodeScalars.first ?? " ",
                          start: o["start"]?.int ?? 0, stop: o["stop"]?.int ?? 0)
        case "Fuse": return .fuse
        case "ByteFallback": return .byteFallback
        case "BPEDecoder": return .bpe(suffix: o["suffix"]?.string ?? "</w>")
        case "WordPiece": return .wordPiece(prefix: o["prefix"]?.string ?? "##", cleanup: o["cleanup"]?.bool ?? true)
        case "Sequence":
            guard let list = o["decoders"]?.array else {
                throw HFModelError(.invalid, file: file, "\(path) (Sequence) has no 'decoders' list")
            }
            var out: [TokenizerDecoder] = []
            for (i, e) in list.enumerated() { out.append(try parse(e, file: file, path: "\(path).decoders[\(i)]")) }
            return .sequence(out)
        default:
            return .unsupported(type)
        }
    }

    func decodeChain(_ tokens: [String]) throws(HFModelError) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens { bytes += ByteLevelAlphabet.decode(t.unicodeScalars) ?? Array(t.utf8) }
            return [String(decoding: bytes, as: UTF8.self)]
        case .metaspace(let rep, let scheme):
            return tokens.enumerated().map { i, t in
                var s = String()
                for u in t.unicodeScalars {
                    if u == rep {
                        if i == 0 && scheme != "never" { continue }
                        s.unicodeScalars.append(" ")
                    } else {
                        s.unicodeScalars.append(u)
                    }
                }
                return s
            }
        case .replace(let p, let content):
            return tokens.map { t in
                let u = Array(t.unicodeScalars)
                return p.findMatches(u).map { $0.isMatch ? content : Array(u[$0.range]).string }.joined()
            }
        case .strip(let c, let start, let stop):
            return tokens.map { t in
                var u = Array(t.unicodeScalars)
                var k = 0
                while k < start && !u.isEmpty && u[0] == c { u.removeFirst(); k += 1 }
                k = 0
                while k < stop && !u.isEmpty && u[u.count - 1] == c { u.removeLast(); k += 1 }
                return u.string
            }
        case .fuse: return [tokens.joined()]
        case .byteFallback: return byteFallback(tokens)
        case .bpe(let suffix):
            return tokens.enumerated().map { i, t in t.replacingAll(suffix, with: i == tokens.count - 1 ? "" : " ") }
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { i, t in
                var s = t
                if i != 0 {
                    if s.utf8.starts(with: prefix.utf8) {
                        s = String(decoding: s.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                    } else {
                        s = " " + s
                    }
                }
                return cleanup ? cleanUpTokenization(s) : s
            }
        case .sequence(let list):
            var t = tokens
            for d in list { t = try d.decodeChain(t) }
            return t
        case .unsupported(let type):
            throw HFModelError(.unsupported, file: "decoder", "type '\(type)' is not supported")
        }
    }

    /// Runs of "<0xNN>" tokens become their bytes (U+FFFD per byte when not valid UTF-8).
    private func byteFallback(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let s = String(validating: pending, as: UTF8.self) {
                out.append(s)
            } else {
                out += Array(repeating: "\u{FFFD}", count: pending.count)
            }
            pending = []
        }
        for t in tokens {
            let u = Array(t.utf8)
            if u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E,
               let b = UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16) {
                pending.append(b)
            } else {
                flush()
                out.append(t)
            }
        }
        flush()
        return out
    }
}

/// transformers' `clean_up_tokenization`: removes the space before some punctuation and
/// English contractions.
func cleanUpTokenization(_ s: String) -> String {
    var t = s
    for (a, b) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                   (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
        t = t.replacingAll(a, with: b)
    }
    return t
}

extension String {
    /// Replaces every non-overlapping occurrence of `target` (scanning left to right) by `replacement`.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        let s = Array(unicodeScalars), p = Array(target.unicodeScalars)
        var out = String()
        var i = 0
        while i < s.count {
            if i + p.count <= s.count && Array(s[i..<(i + p.count)]) == p {
                out += replacement
                i += p.count
            } else {
                out.unicodeScalars.append(s[i])
                i += 1
            }
        }
        return out
    }
}
