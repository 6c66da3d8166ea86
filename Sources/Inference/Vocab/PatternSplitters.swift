// Hand-written equivalents of the std::regex patterns llama.cpp runs (ECMAScript semantics:
// the first alternative that matches at the leftmost position wins, quantifiers are greedy and
// give characters back only as far as the rest of the pattern needs).
//
// llama.cpp feeds std::regex one of two views of the text (`unicode_regex_split`):
// - patterns using \p{..} see a "collapsed" text: ASCII stays as is, every other codepoint
//   becomes one byte for its category (or 0x0B if it is whitespace). \p{L}, \p{N}, \p{P}, \p{S}
//   and \p{M} then mean that byte or an ASCII list: letters A-Za-z, digits 0-9, punctuation
//   !"#%&'()*,-./:;?@[\]_{} and symbols $+<=>^`| (no '~').
// - other patterns see the codepoints, with non-ASCII whitespace replaced by 0x0B.
// In both, \s is the C locale's set: tab, LF, VT, FF, CR and space (so all whitespace above).

private let asciiPunctuation: [Bool] = (0..<128).map { Array("!\"#%&'()*,-./:;?@[\\]_{}".utf8).contains(UInt8($0)) }
private let asciiSymbol: [Bool] = (0..<128).map { Array("$+<=>^`|".utf8).contains(UInt8($0)) }
private let defaultPunctuationExtras: [Bool] = (0..<128).map { Array("$+<=>^~|".utf8).contains(UInt8($0)) }

/// deepseek-llm's letter class, as inclusive codepoint ranges.
private let deepseekLetterRanges: [ClosedRange<UInt32>] = [
    0x41...0x5A, 0x61...0x7A, 0xB5...0xB5, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x1BA, 0x1BC...0x1BF,
    0x1C4...0x293, 0x295...0x2AF, 0x370...0x373, 0x376...0x377, 0x37B...0x37D, 0x37F...0x37F,
    0x386...0x386, 0x388...0x38A, 0x38C...0x38C, 0x38E...0x3A1, 0x3A3...0x3F5, 0x3F7...0x481,
    0x48A...0x52F, 0x531...0x556, 0x10A0...0x10C5, 0x13A0...0x13F5, 0x13F8...0x13FD, 0x1C90...0x1CBA,
    0x1CBD...0x1CBF, 0x1D00...0x1D2B, 0x1D6B...0x1D77, 0x1D79...0x1D9A, 0x1E00...0x1F15, 0x1F18...0x1F1D,
    0x1F20...0x1F45, 0x1F48...0x1F4D, 0x1F50...0x1F57, 0x1F59...0x1F59, 0x1F5B...0x1F5B, 0x1F5D...0x1F5D,
    0x1F5F...0x1F7D, 0x1F80...0x1FB4, 0x1FB6...0x1FBC, 0x1FBE...0x1FBE, 0x1FC2...0x1FC4, 0x1FC6...0x1FCC,
    0x1FD0...0x1FD3, 0x1FD6...0x1FDB, 0x1FE0...0x1FEC, 0x1FF2...0x1FF4, 0x1FF6...0x1FFC, 0x2102...0x2102,
    0x2107...0x2107, 0x210A...0x2113, 0x2115...0x2115, 0x2119...0x211D, 0x2124...0x2124, 0x2126...0x2126,
    0x2128...0x2128, 0x212A...0x212D, 0x212F...0x2134, 0x2139...0x2139, 0x213C...0x213F, 0x2145...0x2149,
    0x214E...0x214E, 0x2183...0x2184, 0x2C00...0x2C7B, 0x2C7E...0x2CE4, 0x2CEB...0x2CEE, 0x2CF2...0x2CF3,
    0xA640...0xA66D, 0xA680...0xA69B, 0xA722...0xA76F, 0xA771...0xA787, 0xA78B...0xA78E, 0xAB70...0xABBF,
    0xFB00...0xFB06, 0xFB13...0xFB17, 0xFF21...0xFF3A, 0xFF41...0xFF5A, 0x10400...0x1044F, 0x104B0...0x104D3,
    0x104D8...0x104FB, 0x10C80...0x10CB2, 0x10CC0...0x10CF2, 0x118A0...0x118DF, 0x1E900...0x1E943,
]

/// deepseek-llm's punctuation class `[!-/:-~！-／：-～‘-‟　-。]`.
private let deepseekPunctuationRanges: [ClosedRange<UInt32>] = [
    0x21...0x2F, 0x3A...0x7E, 0xFF01...0xFF0F, 0xFF1A...0xFF5E, 0x2018...0x201F, 0x3000...0x3002,
]
private let cjkHangulRanges: [ClosedRange<UInt32>] = [0x4E00...0x9FA5, 0x0800...0x4E00, 0xAC00...0xD7FF]
private let cjkKanaRanges: [ClosedRange<UInt32>] = [0x4E00...0x9FA5, 0x3040...0x309F, 0x30A0...0x30FF]
/// The characters `[^(\s|.,!?…。，、।۔،)]` excludes besides \s.
private let poroStops: Set<UInt32> = [0x28, 0x7C, 0x2E, 0x2C, 0x21, 0x3F, 0x2026, 0x3002, 0xFF0C, 0x3001, 0x0964, 0x06D4, 0x060C, 0x29]

@inline(__always) private func inRanges(_ v: UInt32, _ ranges: [ClosedRange<UInt32>]) -> Bool {
    for r in ranges where r.contains(v) { return true }
    return false
}

@inline(__always) private func isASCIILetter(_ c: UInt32) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
@inline(__always) private func isASCIIDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) private func isLineBreak(_ c: UInt32) -> Bool { c == 0x0A || c == 0x0D }

/// `$+<=>^~|`, the ASCII characters the default pattern adds to \p{P} (c < 0x80).
@inline(__always) func isDefaultPunctuationExtra(_ c: UInt32) -> Bool { defaultPunctuationExtras[Int(c)] }
@inline(__always) func inCJKHangul(_ v: UInt32) -> Bool { inRanges(v, cjkHangulRanges) }
@inline(__always) func inCJKKana(_ v: UInt32) -> Bool { inRanges(v, cjkKanaRanges) }
@inline(__always) func inDeepseekLetters(_ v: UInt32) -> Bool { inRanges(v, deepseekLetterRanges) }
@inline(__always) func inDeepseekPunctuation(_ v: UInt32) -> Bool { inRanges(v, deepseekPunctuationRanges) }
@inline(__always) func isPoroStop(_ v: UInt32) -> Bool { poroStops.contains(v) }

extension Splitter {
    // MARK: classes (positions are inside the piece)

    /// `\s`
    @inline(__always) func isSpace(_ p: Int) -> Bool {
        let c = cps[p]
        return c < 0x80 ? (c == 0x20 || (c >= 0x09 && c <= 0x0D)) : CodepointFlags(bits: flagBits[p]).isWhitespace
    }
    /// The collapsed category byte of a non-ASCII codepoint equals `category`.
    @inline(__always) func collapsed(_ p: Int, _ category: UInt16) -> Bool {
        let b = flagBits[p]
        return b & CodepointFlags.whitespace == 0 && b & 0xFF == category
    }
    @inline(__always) func isL(_ p: Int) -> Bool {
        let c = cps[p]
        return c < 0x80 ? isASCIILetter(c) : collapsed(p, CodepointFlags.letter)
    }
    @inline(__always) func isN(_ p: Int) -> Bool {
        let c = cps[p]
        return c < 0x80 ? isASCIIDigit(c) : collapsed(p, CodepointFlags.number)
    }
    @inline(__always) func isP(_ p: Int) -> Bool {
        let c = cps[p]
        return c < 0x80 ? asciiPunctuation[Int(c)] : collapsed(p, CodepointFlags.punctuation)
    }
    @inline(__always) func isS(_ p: Int) -> Bool {
        let c = cps[p]
        return c < 0x80 ? asciiSymbol[Int(c)] : collapsed(p, CodepointFlags.symbol)
    }
    @inline(__always) func isM(_ p: Int) -> Bool {
        cps[p] >= 0x80 && collapsed(p, CodepointFlags.mark)
    }
    /// The codepoint as the non-collapsed view shows it.
    @inline(__always) func wide(_ p: Int) -> UInt32 {
        let c = cps[p]
        return c > 0x7F && CodepointFlags(bits: flagBits[p]).isWhitespace ? 0x0B : c
    }

    /// End of the run of positions from `p` satisfying `test`.
    @inline(__always) func runEnd(_ p: Int, _ test: (Int) -> Bool) -> Int {
        var q = p
        while q < end && test(q) { q += 1 }
        return q
    }

    /// `\s?X+`: an optional whitespace character then a run of `test`.
    @inline(__always) func optionalSpaceRun(_ p: Int, _ test: (Int) -> Bool) -> Int {
        if isSpace(p) && p + 1 < end && test(p + 1) { return runEnd(p + 1, test) }
        return test(p) ? runEnd(p, test) : -1
    }

    /// The alternatives `\s*[\r\n]+|\s+(?!\S)|\s+` shared by several patterns.
    func whitespaceAlternatives(_ p: Int) -> Int {
        let wEnd = runEnd(p) { isSpace($0) }
        if wEnd == p { return -1 }
        var q = wEnd - 1
        while q >= p {
            if isLineBreak(cps[q]) { return q + 1 }
            q -= 1
        }
        if wEnd == end { return wEnd }
        return wEnd - p >= 2 ? wEnd - 1 : wEnd
    }

    /// ` ?X+` followed by a greedy run of `tail` (both llama.cpp BPE patterns end words this way).
    @inline(__always) func optionalBlankRun(_ p: Int, _ test: (Int) -> Bool, tail: (UInt32) -> Bool) -> Int {
        var q: Int
        if cps[p] == 0x20 && p + 1 < end && test(p + 1) {
            q = runEnd(p + 1, test)
        } else if test(p) {
            q = runEnd(p, test)
        } else {
            return -1
        }
        while q < end && tail(cps[q]) { q += 1 }
        return q
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` with each letter in either case.
    func contraction(_ p: Int) -> Int {
        guard cps[p] == 0x27, p + 1 < end else { return -1 }
        let a = cps[p + 1] < 0x80 && isASCIILetter(cps[p + 1]) ? cps[p + 1] | 0x20 : 0
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return p + 2 }
        guard p + 2 < end else { return -1 }
        let b = cps[p + 2] < 0x80 && isASCIILetter(cps[p + 2]) ? cps[p + 2] | 0x20 : 0
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return p + 3 }
        return -1
    }
}
