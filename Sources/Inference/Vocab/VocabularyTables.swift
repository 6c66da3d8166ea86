// Lookup tables built once per vocabulary: BPE merges over raw bytes, SentencePiece byte
// tokens, and every token's piece (`cache_token_to_piece`).

import GGUF

extension VocabularyLoader {
    /// The raw bytes a token text stands for in GPT-2's alphabet, or nil if it uses other characters.
    static func alphabetBytes(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            guard s.value < 0x144 else { return nil }
            let b = LlamaUnicode.codepointToByte[Int(s.value)]
            guard b >= 0 else { return nil }
            out.append(UInt8(b))
        }
        return out
    }

    /// Merge table and byte symbols for a BPE vocabulary.
    /// - Throws: when `tokenizer.ggml.merges` is missing, has the wrong type, or a merge is not
    ///   two token texts separated by a space.
    func buildBPE() throws(VocabularyError) -> BPEData {
        let key = GGUFKey.Tokenizer.merges
        guard let merges = try meta.strings(key) else { throw meta.missing(key) }
        // Every token's bytes in the alphabet, once (a merge names two tokens and meets their join).
        var byteTokens = ByteStringTable(expectedCount: tokens.count)
        var alphabet: [UInt8] = []
        var spans = [(start: Int, count: Int)](repeating: (0, -1), count: tokens.count)
        for (i, t) in tokens.enumerated() {
            guard let bytes = Self.alphabetBytes(t) else { continue }
            spans[i] = (alphabet.count, bytes.count)
            alphabet += bytes
            byteTokens.insertIfAbsent(bytes, value: Int32(i))
        }
        var table = MergeTable(expectedCount: merges.count)
        var joined = [UInt8](repeating: 0, count: 64)
        for (rank, raw) in merges.enumerated() {
            var text = raw
            // The text up to a NUL, split at the first space after the first byte (as llama.cpp);
            // the halves' ids, or the half that is not a token (nil: no such space).
            let parts = text.withUTF8 { whole -> (a: Int32, b: Int32, unknown: String)? in
                let m = UnsafeBufferPointer(rebasing: whole[..<(whole.firstIndex(of: 0) ?? whole.count)])
                guard m.count > 1, let space = m[1...].firstIndex(of: 0x20), let base = m.baseAddress else { return nil }
                let a = textTable.lookup(base, space), b = textTable.lookup(base + space + 1, m.count - space - 1)
                guard a < 0 || b < 0 else { return (a, b, "") }
                return (a, b, String(decoding: UnsafeBufferPointer(rebasing: a < 0 ? m[..<space] : m[(space + 1)...]), as: UTF8.self))
            }
            guard let (a, b, unknown) = parts else {
                throw meta.invalid(key, "has merge \(rank) '\(raw)' without a space between two tokens")
            }
            guard a >= 0, b >= 0 else {
                throw meta.invalid(key, "has merge \(rank) '\(raw)' naming '\(unknown)', which is not a token")
            }
            // Parts outside the alphabet can never match a byte-encoded word.
            let fa = spans[Int(a)], fb = spans[Int(b)]
            guard fa.count >= 0, fb.count >= 0 else { continue }
            let n = fa.count + fb.count
            if joined.count < n { joined = [UInt8](repeating: 0, count: 2 * n) }
            let result = joined.withUnsafeMutableBufferPointer { j in
                alphabet.withUnsafeBufferPointer { al in
                    if fa.count > 0 { j.baseAddress!.update(from: al.baseAddress! + fa.start, count: fa.count) }
                    if fb.count > 0 { (j.baseAddress! + fa.count).update(from: al.baseAddress! + fb.start, count: fb.count) }
                    return byteTokens.lookup(j.baseAddress!, n)
                }
            }
            table.insertIfAbsent(left: a, right: b, rank: Int32(rank), result: result)
        }
        var byteSymbol = [Int32](repeating: -1, count: 256)
        var fallback = [[Int32]](repeating: [], count: 256)
        for b in 0..<256 {
            let encoded = LlamaUnicode.gpt2Encoded(UInt8(b))
            byteSymbol[b] = textTable.lookup(encoded)
            fallback[b] = encoded.map { textTable.lookup([$0]) }.filter { $0 >= 0 }
        }
        return BPEData(byteTokens: byteTokens, merges: table, byteSymbol: byteSymbol, fallback: fallback,
                       ignoreMerges: choice.ignoreMerges)
    }

    func buildSPM() -> SPMData {
        let hex = Array("0123456789ABCDEF".utf8)
        var byteTokens = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            let name: [UInt8] = Array("<0x".utf8) + [hex[b >> 4], hex[b & 15], 0x3E]
            let t = textTable.lookup(name)
            byteTokens[b] = t >= 0 ? t : textTable.lookup([UInt8(b)])
        }
        var pairs = [Bool](repeating: false, count: 65536)
        var maxLength = 1
        for t in tokens where t.utf8.count > 1 {
            let b = Array(t.utf8)
            maxLength = max(maxLength, b.count)
            for i in 1..<b.count { pairs[(Int(b[i - 1]) << 8) | Int(b[i])] = true }
        }
        return SPMData(textTokens: textTable, scores: scores, byteTokens: byteTokens, unknown: special.unknown,
                       maxTokenLength: maxLength, pairsInTokens: pairs)
    }

    /// Every token's piece with `special` set (`token_to_piece`), as one byte buffer and offsets.
    func buildPieces() -> (bytes: [UInt8], offsets: [Int]) {
        var bytes: [UInt8] = []
        var offsets = [0]
        offsets.reserveCapacity(tokens.count + 1)
        let shown = TokenAttribute.unknown | TokenAttribute.control | TokenAttribute.userDefined
        for (i, text) in tokens.enumerated() {
            let attr = attributes[i]
            if attr & shown != 0 {
                bytes.append(contentsOf: text.utf8)
            } else if attr & TokenAttribute.normal != 0 {
                if model == .spm {
                    bytes.append(contentsOf: Self.unescapeSpaces(Array(text.utf8)))
                } else {
                    bytes.append(contentsOf: Self.decodeAlphabet(text))
                }
            } else if attr & TokenAttribute.byte != 0, model == .spm {
                bytes.append(Self.byteValue(Array(text.utf8)))
            }
            offsets.append(bytes.count)
        }
        return (bytes, offsets)
    }

    /// U+2581 -> space (`llama_unescape_whitespace`).
    static func unescapeSpaces(_ t: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(t.count)
        var i = 0
        while i < t.count {
            if i + 2 < t.count, t[i] == 0xE2, t[i + 1] == 0x96, t[i + 2] == 0x81 {
                out.append(0x20); i += 3
            } else {
                out.append(t[i]); i += 1
            }
        }
        return out
    }

    /// GPT-2 alphabet -> bytes (`llama_decode_text`): a character outside the alphabet becomes
    /// `[UNK_BYTE_0x<its UTF-8 in hex><the whole token text>]`, as in llama.cpp.
    static func decodeAlphabet(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in text.unicodeScalars {
            if s.value < 0x144, LlamaUnicode.codepointToByte[Int(s.value)] >= 0 {
                out.append(UInt8(LlamaUnicode.codepointToByte[Int(s.value)]))
                continue
            }
            out.append(contentsOf: Array("[UNK_BYTE_0x".utf8))
            for b in String(s).utf8 {
                let h = Array("0123456789abcdef".utf8)
                out.append(h[Int(b >> 4)]); out.append(h[Int(b & 15)])
            }
            out.append(contentsOf: text.utf8)
            out.append(0x5D)
        }
        return out
    }

    /// The value of a `<0xXX>` byte token: up to two hex digits after its third character, as
    /// `strtol(text.substr(3, 2), 16)` reads them.
    static func byteValue(_ t: [UInt8]) -> UInt8 {
        var v = 0
        for c in t.dropFirst(3).prefix(2) {
            let d: Int
            switch c {
            case 0x30...0x39: d = Int(c) - 0x30
            case 0x41...0x46: d = Int(c) - 0x37
            case 0x61...0x66: d = Int(c) - 0x57
            default: return UInt8(truncatingIfNeeded: v)
            }
            v = v * 16 + d
        }
        return UInt8(truncatingIfNeeded: v)
    }
}
