/// GPT-2's byte-to-character table: every byte becomes a printable character so that BPE runs
/// on text. Bytes `!`...`~`, 0xA1...0xAC and 0xAE...0xFF stand for themselves; the other 68 bytes,
/// in increasing order, become U+0100, U+0101, ... (so space is U+0120 "Ġ", newline U+010A "Ċ").
public enum ByteLevelAlphabet {
    /// Character for each byte.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// Byte for each character of the alphabet (characters U+0000...U+01FF; -1 when not in it).
    public static let scalarToByte: [Int16] = {
        var inverse = [Int16](repeating: -1, count: 512)
        for (b, u) in byteToScalar.enumerated() { inverse[Int(u.value)] = Int16(b) }
        return inverse
    }()

    /// Maps the UTF-8 bytes of `text` to alphabet characters.
    public static func encode(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count + text.count / 2)
        for u in text {
            if u.value < 0x80 {
                out.append(byteToScalar[Int(u.value)])
            } else {
                for b in UTF8.encode(u)! { out.append(byteToScalar[Int(b)]) }
            }
        }
        return out
    }

    /// Maps alphabet characters back to bytes; nil when some character is not in the alphabet.
    public static func decode<S: Sequence>(_ text: S) -> [UInt8]? where S.Element == Unicode.Scalar {
        var out: [UInt8] = []
        for u in text {
            guard u.value < 512 else { return nil }
            let b = scalarToByte[Int(u.value)]
            guard b >= 0 else { return nil }
            out.append(UInt8(b))
        }
        return out
    }
}
