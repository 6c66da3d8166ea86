// What llama.cpp's `llama-tokenize` example prints (examples/tokenize/tokenize.cpp, b4748), for
// the `gguf-tokenize` command.

/// Output formatting and prompt escapes of `llama-tokenize`.
public enum TokenizeOutput {
    /// The tool's stdout as text. Pieces that are not valid UTF-8 (llama-tokenize writes their raw
    /// bytes on Linux) are shown with U+FFFD here; use `formatBytes` to write the exact bytes.
    public static func format(ids: [Int32], vocab: GGUFVocabulary, idsOnly: Bool, showCount: Bool = false) -> String {
        String(decoding: formatBytes(ids: ids, vocab: vocab, idsOnly: idsOnly, showCount: showCount), as: UTF8.self)
    }

    /// The tool's stdout, byte for byte: with `idsOnly` (`--ids`) one line `[1, 2, 3]`; otherwise
    /// one line per token, `printf("%6d -> '%s'\n", id, piece)` with the piece rendered with
    /// special tokens shown (`common_token_to_piece`) and cut at its first NUL byte as `%s` does;
    /// with `showCount` (`--show-count`) a final `Total number of tokens: N` line.
    public static func formatBytes(ids: [Int32], vocab: GGUFVocabulary, idsOnly: Bool, showCount: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        if idsOnly {
            out.append(0x5B)
            for (i, id) in ids.enumerated() {
                if i > 0 { out.append(contentsOf: [0x2C, 0x20]) }
                out.append(contentsOf: String(id).utf8)
            }
            out.append(contentsOf: [0x5D, 0x0A])
        } else {
            for id in ids {
                let number = String(id)
                out.append(contentsOf: [UInt8](repeating: 0x20, count: max(0, 6 - number.utf8.count)))
                out.append(contentsOf: number.utf8)
                out.append(contentsOf: Array(" -> '".utf8))
                let piece = vocab.piece(for: id, special: true)
                out.append(contentsOf: piece.prefix(while: { $0 != 0 }))
                out.append(contentsOf: [0x27, 0x0A])
            }
        }
        if showCount { out.append(contentsOf: Array("Total number of tokens: \(ids.count)\n".utf8)) }
        return out
    }

    /// The escapes llama-tokenize applies to the prompt unless `--no-escape`
    /// (`string_process_escapes`, common.cpp): `\n \r \t \' \" \\` and `\xHH`; any other
    /// backslash pair is kept as is.
    public static func processEscapes(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        let n = input.count
        var i = 0
        while i < n {
            guard input[i] == 0x5C, i + 1 < n else {
                out.append(input[i]); i += 1
                continue
            }
            i += 1
            let c = input[i]
            switch c {
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x27, 0x22, 0x5C: out.append(c)
            case 0x78 where i + 2 < n && twoCharHex(input[i + 1], input[i + 2]) != nil:
                out.append(twoCharHex(input[i + 1], input[i + 2]) ?? 0)
                i += 2
            default:
                out.append(0x5C); out.append(c)
            }
            i += 1
        }
        return out
    }

    /// The byte `strtol` gives for a two-character string in base 16 when it consumes both
    /// characters (two hex digits, or whitespace or a sign followed by one hex digit).
    static func twoCharHex(_ a: UInt8, _ b: UInt8) -> UInt8? {
        func hex(_ c: UInt8) -> Int? {
            switch c {
            case 0x30...0x39: return Int(c) - 0x30
            case 0x41...0x46: return Int(c) - 0x37
            case 0x61...0x66: return Int(c) - 0x57
            default: return nil
            }
        }
        guard let lo = hex(b) else { return nil }
        if let hi = hex(a) { return UInt8(hi * 16 + lo) }
        if isCSpace(a) || a == 0x2B { return UInt8(lo) }
        if a == 0x2D { return UInt8(truncatingIfNeeded: -lo) }
        return nil
    }
}
