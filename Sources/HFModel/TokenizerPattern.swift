// Patterns of the Split pre-tokenizer and the Replace normalizer: a literal string, a regular
// expression (Swift Regex on Unicode scalars standing in for Oniguruma, after
// `OnigurumaSyntax.translate`), or the GPT-2 expression of the ByteLevel pre-tokenizer, which is
// matched by hand for speed.

/// A compiled `{"String": ...}` or `{"Regex": ...}` pattern.
enum TokenizerPattern {
    case literal([Unicode.Scalar])
    case regex(Regex<AnyRegexOutput>, source: String)
    case gpt2

    /// Compiles the pattern object of a Split or Replace entry.
    /// - Throws: `.invalid` for a malformed object or empty literal, `.unsupported` when Swift
    ///   Regex cannot compile the expression.
    static func parse(_ v: JSONValue?, file: String, what: String) throws(HFModelError) -> TokenizerPattern {
        guard let o = v?.object else {
            throw HFModelError(.invalid, file: file, "\(what) has pattern \(v?.serialized() ?? "nothing"), expected {\"String\": ...} or {\"Regex\": ...}")
        }
        if let s = o["String"]?.string {
            guard !s.isEmpty else { throw HFModelError(.unsupported, file: file, "\(what) has an empty String pattern") }
            return .literal(Array(s.unicodeScalars))
        }
        if let r = o["Regex"]?.string {
            if r == gpt2Source { return .gpt2 }
            let quoted = JSONValue.string(r).serialized()
            let swift: (pattern: String, lineAnchors: Bool)
            do { swift = try OnigurumaSyntax.translate(r) } catch {
                throw HFModelError(.unsupported, file: file, "\(what) regex \(quoted) uses \(error.message), which has no Swift Regex equivalent")
            }
            do {
                var regex = try Regex(swift.pattern).matchingSemantics(.unicodeScalar)
                if swift.lineAnchors { regex = regex.anchorsMatchLineEndings() }
                return .regex(regex, source: r)
            } catch {
                throw HFModelError(.unsupported, file: file, "\(what) regex \(quoted) is not supported by Swift Regex: \(error)")
            }
        }
        throw HFModelError(.invalid, file: file, "\(what) has pattern \(JSONValue.object(o).serialized()), expected {\"String\": ...} or {\"Regex\": ...}")
    }

    /// The expression of tokenizers' ByteLevel pre-tokenizer (GPT-2's).
    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Leftmost, non-overlapping matches over `text`, as ranges of scalar offsets.
    func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case .literal(let p): return literalMatches(p, text)
        case .gpt2: return gpt2Matches(text)
        case .regex(let r, _): return regexMatches(r, text)
        }
    }

    /// tokenizers' `find_matches`: the whole text as matched and unmatched ranges.
    func findMatches(_ text: [Unicode.Scalar]) -> MatchList {
        matchList(matches(in: text), length: text.count)
    }
}

private func literalMatches(_ p: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> [Range<Int>] {
    var out: [Range<Int>] = []
    guard !p.isEmpty, p.count <= text.count else { return out }
    var i = 0
    while i + p.count <= text.count {
        var k = 0
        while k < p.count && text[i + k] == p[k] { k += 1 }
        if k == p.count {
            out.append(i..<(i + k))
            i += k
        } else {
            i += 1
        }
    }
    return out
}

private func regexMatches(_ r: Regex<AnyRegexOutput>, _ text: [Unicode.Scalar]) -> [Range<Int>] {
    let s = text.string
    let scalars = s.unicodeScalars
    var out: [Range<Int>] = []
    var lastIndex = s.startIndex
    var lastOffset = 0
    func offset(_ idx: String.Index) -> Int {
        lastOffset += scalars.distance(from: lastIndex, to: idx)
        lastIndex = idx
        return lastOffset
    }
    for m in s.matches(of: r) {
        let lo = offset(m.range.lowerBound)
        let hi = offset(m.range.upperBound)
        out.append(lo..<hi)
    }
    return out
}

/// Hand-written matcher for
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// with Oniguruma's leftmost-first alternation. Every character falls in one branch, so the
/// matches tile the text.
func gpt2Matches(_ t: [Unicode.Scalar]) -> [Range<Int>] {
    var out: [Range<Int>] = []
    out.reserveCapacity(t.count / 3 + 1)
    let n = t.count
    var i = 0
    enum Kind { case letter, number, other, space }
    @inline(__always) func kind(_ u: Unicode.Scalar) -> Kind {
        if CharClass.isWhitespace(u) { return .space }
        if CharClass.isLetter(u) { return .letter }
        if CharClass.isNumber(u) { return .number }
        return .other
    }
    while i < n {
        let c = t[i]
        // 's 't 're 've 'm 'll 'd
        if c == "'" && i + 1 < n {
            let a = t[i + 1]
            if a == "s" || a == "t" || a == "m" || a == "d" {
                out.append(i..<(i + 2)); i += 2; continue
            }
            if i + 2 < n {
                let b = t[i + 2]
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") {
                    out.append(i..<(i + 3)); i += 3; continue
                }
            }
        }
        // ` ?X+` for X in letters, numbers, others.
        var start = i
        var k = kind(c)
        if c == " " && i + 1 < n {
            let next = kind(t[i + 1])
            if next != .space {
                k = next
                start = i
                i += 1
            }
        }
        if k != .space {
            var j = i + 1
            while j < n && kind(t[j]) == k { j += 1 }
            out.append(start..<j)
            i = j
            continue
        }
        // Whitespace: `\s+(?!\S)` leaves the last space for the next word; else `\s+`.
        var j = i + 1
        while j < n && CharClass.isWhitespace(t[j]) { j += 1 }
        if j < n && j - i > 1 { j -= 1 }
        out.append(i..<j)
        i = j
    }
    return out
}
