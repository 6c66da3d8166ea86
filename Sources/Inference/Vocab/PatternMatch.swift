// The matcher of each std::regex pattern llama.cpp uses: `match(kind, at:)` returns the end of
// the match starting at `p`, or -1 (see PatternSplitters.swift for the classes).

extension Splitter {
    func match(_ kind: PatternKind, at p: Int) -> Int {
        switch kind {
        case .punctuationRun(let backtick):
            let test: (Int) -> Bool = { q in
                let c = self.cps[q]
                if c < 0x80 { return self.isP(q) || isDefaultPunctuationExtra(c) || (backtick && c == 0x60) }
                return self.isP(q)
            }
            return test(p) ? runEnd(p, test) : -1
        case .numberRun:
            return isN(p) ? runEnd(p) { isN($0) } : -1
        case .singleNumber:
            return isN(p) ? p + 1 : -1
        case .numbersUpTo3:
            var q = p
            while q < end && q - p < 3 && isN(q) { q += 1 }
            return q > p ? q : -1
        case .asciiDigitTriple:
            guard p + 3 <= end else { return -1 }
            return isDigit(cps[p]) && isDigit(cps[p + 1]) && isDigit(cps[p + 2]) ? p + 3 : -1
        case .lineBreak:
            return cps[p] == 0x0A || cps[p] == 0x0D ? p + 1 : -1
        case .spaceLetters:
            return optionalSpaceRun(p) { isL($0) }
        case .spacePunctuation:
            return optionalSpaceRun(p) { isP($0) }
        case .cjkHangul:
            return wideRun(p, inCJKHangul)
        case .cjkKana:
            return wideRun(p, inCJKKana)
        case .deepseekLetters:
            return optionalSpaceRun(p) { inDeepseekLetters(wide($0)) }
        case .deepseekPunctuation:
            return optionalSpaceRun(p) { inDeepseekPunctuation(wide($0)) }
        case .trailingSpace:
            let e = runEnd(p) { isSpace($0) }
            return e > p && e == end ? e : -1
        case .qwen2:
            return matchQwen2(p)
        case .deepseek3Words:
            return matchDeepseek3(p)
        case .poroWords:
            let test: (Int) -> Bool = { q in !self.isSpace(q) && !isPoroStop(self.wide(q)) }
            return optionalBlankRun(p, test, tail: { _ in false })
        case .tekken:
            return matchTekken(p)
        case .chameleonSentinel:
            return matchSentinel(p)
        case .chameleonImage:
            return matchImage(p)
        case .chameleonSpaces:
            let c = cps[p]
            if c == 0x09 || c == 0x0A { return p + 1 }
            if spaces(p, 4) { return p + 4 }
            return spaces(p, 2) ? p + 2 : -1
        case .chameleonPunctuation:
            let c = cps[p]
            return isP(p) || (c < 0x80 && isPunctOrSymbolASCII(c)) ? p + 1 : -1
        }
    }

    private func wideRun(_ p: Int, _ test: (UInt32) -> Bool) -> Int {
        test(wide(p)) ? runEnd(p) { test(wide($0)) } : -1
    }

    private func spaces(_ p: Int, _ n: Int) -> Bool {
        guard p + n <= end else { return false }
        for q in p..<(p + n) where cps[q] != 0x20 { return false }
        return true
    }

    /// `(?:'[sS]|...|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    private func matchQwen2(_ p: Int) -> Int {
        let e = contraction(p)
        if e >= 0 { return e }
        if isL(p) { return runEnd(p) { isL($0) } }
        let c = cps[p]
        if !(c == 0x0A || c == 0x0D || isN(p)) && p + 1 < end && isL(p + 1) { return runEnd(p + 1) { isL($0) } }
        if isN(p) { return p + 1 }
        let other: (Int) -> Bool = { q in !self.isSpace(q) && !self.isL(q) && !self.isN(q) }
        let o = optionalBlankRun(p, other, tail: { $0 == 0x0A || $0 == 0x0D })
        if o >= 0 { return o }
        return whitespaceAlternatives(p)
    }

    /// `[ASCII punctuation][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    private func matchDeepseek3(_ p: Int) -> Int {
        let c = cps[p]
        if isPunctOrSymbolASCII(c) && p + 1 < end && cps[p + 1] < 0x80 && isLetterASCII(cps[p + 1]) {
            return runEnd(p + 1) { self.cps[$0] < 0x80 && isLetterASCII(self.cps[$0]) }
        }
        let letterOrMark: (Int) -> Bool = { q in self.isL(q) || self.isM(q) }
        let lead = !(c == 0x0A || c == 0x0D) && !isL(p) && !isP(p) && !isS(p)
        if lead && p + 1 < end && letterOrMark(p + 1) { return runEnd(p + 1, letterOrMark) }
        if letterOrMark(p) { return runEnd(p, letterOrMark) }
        let punct: (Int) -> Bool = { q in self.isP(q) || self.isS(q) }
        let o = optionalBlankRun(p, punct, tail: { $0 == 0x0A || $0 == 0x0D })
        if o >= 0 { return o }
        return whitespaceAlternatives(p)
    }

    /// `[^\r\n\p{L}\p{N}]?U*W+|[^\r\n\p{L}\p{N}]?U+W*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// where U is a letter other than a-z and W a letter other than A-Z.
    private func matchTekken(_ p: Int) -> Int {
        let c = cps[p]
        let lead = !(c == 0x0A || c == 0x0D) && !isL(p) && !isN(p)
        let upper: (Int) -> Bool = { q in self.isL(q) && !(self.cps[q] >= 0x61 && self.cps[q] <= 0x7A) }
        let lower: (Int) -> Bool = { q in self.isL(q) && !(self.cps[q] >= 0x41 && self.cps[q] <= 0x5A) }
        // U*W+: the greedy U run gives characters back until a W can start.
        func starPlus(_ s: Int) -> Int {
            guard s < end else { return -1 }
            var k = runEnd(s, upper)
            while k >= s {
                if k < end && lower(k) { return runEnd(k, lower) }
                k -= 1
            }
            return -1
        }
        if lead, p + 1 < end {
            let e = starPlus(p + 1)
            if e >= 0 { return e }
        }
        let e1 = starPlus(p)
        if e1 >= 0 { return e1 }
        if lead && p + 1 < end && upper(p + 1) { return runEnd(runEnd(p + 1, upper), lower) }
        if upper(p) { return runEnd(runEnd(p, upper), lower) }
        if isN(p) { return p + 1 }
        let other: (Int) -> Bool = { q in !self.isSpace(q) && !self.isL(q) && !self.isN(q) }
        let o = optionalBlankRun(p, other, tail: { $0 == 0x0A || $0 == 0x0D || $0 == 0x2F })
        if o >= 0 { return o }
        return whitespaceAlternatives(p)
    }

    /// `<sentinel:[0-9]+>`
    private func matchSentinel(_ p: Int) -> Int {
        let prefix = Array("<sentinel:".unicodeScalars.map(\.value))
        guard p + prefix.count < end else { return -1 }
        for (i, v) in prefix.enumerated() where cps[p + i] != v { return -1 }
        let d = runEnd(p + prefix.count) { isDigit(self.cps[$0]) }
        guard d > p + prefix.count, d < end, cps[d] == 0x3E else { return -1 }
        return d + 1
    }

    /// `(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z`
    private func matchImage(_ p: Int) -> Int {
        let prefix = Array("IMGIMG".unicodeScalars.map(\.value))
        guard p + prefix.count < end else { return -1 }
        for (i, v) in prefix.enumerated() where cps[p + i] != v { return -1 }
        var q = p + prefix.count
        while q < end && q - (p + prefix.count) < 4 && cps[q] >= 0x41 && cps[q] <= 0x49 { q += 1 }
        guard q > p + prefix.count, q < end, cps[q] == 0x5A else { return -1 }
        return q + 1
    }
}

@inline(__always) private func isDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) private func isLetterASCII(_ c: UInt32) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
@inline(__always) private func isPunctOrSymbolASCII(_ c: UInt32) -> Bool {
    (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E)
}
