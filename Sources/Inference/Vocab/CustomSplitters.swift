// llama.cpp's two hand-written splitters (unicode.cpp, b4748), reproduced step for step because
// they are what llama.cpp runs for the GPT-2 and Llama 3 patterns, quirks included (for example
// a lone trailing space after punctuation handling, or `\s+(?!\S)` keeping the last space back
// only when more text follows in the same piece).

private let apostrophe: UInt32 = 0x27
private let space: UInt32 = 0x20
private let cr: UInt32 = 0x0D
private let lf: UInt32 = 0x0A

@inline(__always) private func asciiLower(_ c: UInt32) -> UInt32 {
    (c >= 0x41 && c <= 0x5A) ? c + 0x20 : c
}

@inline(__always) private func isContraction1(_ c: UInt32) -> Bool {
    c == 0x73 || c == 0x74 || c == 0x6D || c == 0x64  // s t m d
}

@inline(__always) private func isContraction2(_ a: UInt32, _ b: UInt32) -> Bool {
    (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C)  // re ve ll
}

extension Splitter {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (`unicode_regex_split_custom_gpt2`).
    mutating func splitGPT2() {
        var pos = ini
        while pos < end {
            let c = cpt(pos)
            let f = flags(pos)
            if c == apostrophe && pos + 1 < end {
                let n1 = cpt(pos + 1)
                if isContraction1(n1) { pos += add(pos + 2); continue }
                if pos + 2 < end, isContraction2(n1, cpt(pos + 2)) { pos += add(pos + 3); continue }
            }
            var f2 = c == space ? flags(pos + 1) : f
            if f2.isLetter {
                if c == space { pos += 1 }
                while f2.isLetter { pos += 1; f2 = flags(pos) }
                add(pos)
                continue
            }
            if f2.isNumber {
                if c == space { pos += 1 }
                while f2.isNumber { pos += 1; f2 = flags(pos) }
                add(pos)
                continue
            }
            if !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f2.isSet {
                if c == space { pos += 1 }
                while !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f2.isSet { pos += 1; f2 = flags(pos) }
                add(pos)
                continue
            }
            var nws = 0
            while flags(pos + nws).isWhitespace { nws += 1 }
            if nws > 1 && cpt(pos + nws) != Self.outOfRange {
                pos += nws - 1
                add(pos)
                continue
            }
            if nws > 0 {
                pos += nws
                add(pos)
                continue
            }
            pos += 1
            add(pos)
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (`unicode_regex_split_custom_llama3`).
    mutating func splitLlama3() {
        var pos = ini
        while pos < end {
            let c = cpt(pos)
            let f = flags(pos)
            if c == apostrophe && pos + 1 < end {
                let n1 = asciiLower(cpt(pos + 1))
                if isContraction1(n1) { pos += add(pos + 2); continue }
                if pos + 2 < end, isContraction2(n1, asciiLower(cpt(pos + 2))) { pos += add(pos + 3); continue }
            }
            if !(c == cr || c == lf || f.isNumber) {
                if f.isLetter || flags(pos + 1).isLetter {
                    pos += 1
                    while flags(pos).isLetter { pos += 1 }
                    add(pos)
                    continue
                }
            }
            if f.isNumber {
                var start = pos
                while flags(pos).isNumber {
                    pos += 1
                    if pos - start >= 3 {
                        add(pos)
                        start = pos
                    }
                }
                add(pos)
                continue
            }
            var f2 = c == space ? flags(pos + 1) : f
            if !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f.isSet {
                if c == space { pos += 1 }
                while !(f2.isWhitespace || f2.isLetter || f2.isNumber) && f2.isSet { pos += 1; f2 = flags(pos) }
                var c2 = cpt(pos)
                while c2 == cr || c2 == lf { pos += 1; c2 = cpt(pos) }
                add(pos)
                continue
            }
            var nws = 0
            var lastLineEnd = 0
            while flags(pos + nws).isWhitespace {
                let c2 = cpt(pos + nws)
                if c2 == cr || c2 == lf { lastLineEnd = pos + nws + 1 }
                nws += 1
            }
            if lastLineEnd > 0 {
                pos = lastLineEnd
                add(pos)
                continue
            }
            if nws > 1 && cpt(pos + nws) != Self.outOfRange {
                pos += nws - 1
                add(pos)
                continue
            }
            if nws > 0 {
                pos += nws
                add(pos)
                continue
            }
            pos += 1
            add(pos)
        }
    }
}
