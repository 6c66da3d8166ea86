// The Unicode facts llama.cpp's tokenizer relies on (unicode.cpp / unicode-data.cpp, b4748):
// per-codepoint category flags, its UTF-8 decoder (malformed bytes become U+FFFD one byte at a
// time) and encoder, and GPT-2's byte-to-character alphabet.

/// Category flags of one codepoint with llama.cpp's bit layout (`struct unicode_cpt_flags`).
///
/// llama.cpp's table was generated from Unicode 15.1 data. The standard library knows newer
/// versions, so characters assigned after 15.1 are reported as undefined, as llama.cpp does;
/// with that rule every one of the 0x110000 codepoints gets llama.cpp's flags (a test checks the
/// whole table against a digest of llama.cpp's).
struct CodepointFlags: Equatable, Sendable {
    var bits: UInt16

    static let undefined: UInt16 = 0x0001
    static let number: UInt16 = 0x0002
    static let letter: UInt16 = 0x0004
    static let separator: UInt16 = 0x0008
    static let mark: UInt16 = 0x0010
    static let punctuation: UInt16 = 0x0020
    static let symbol: UInt16 = 0x0040
    static let control: UInt16 = 0x0080
    static let whitespace: UInt16 = 0x0100

    /// The flags of a position outside the text being split (all clear).
    static let none = CodepointFlags(bits: 0)

    @inline(__always) var isNumber: Bool { bits & Self.number != 0 }
    @inline(__always) var isLetter: Bool { bits & Self.letter != 0 }
    @inline(__always) var isMark: Bool { bits & Self.mark != 0 }
    @inline(__always) var isPunctuation: Bool { bits & Self.punctuation != 0 }
    @inline(__always) var isSymbol: Bool { bits & Self.symbol != 0 }
    @inline(__always) var isWhitespace: Bool { bits & Self.whitespace != 0 }
    @inline(__always) var isSet: Bool { bits != 0 }
}

enum LlamaUnicode {
    /// Unicode's White_Space property, the set llama.cpp hard-codes.
    static let whitespaceSet: Set<UInt32> = Set(
        [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
            + Array(0x2000...0x200A))

    /// Flags of every BMP codepoint, built once.
    static let bmpFlags: [UInt16] = (0..<0x10000).map { computeFlags(UInt32($0)) }

    /// llama.cpp's flags for `cp` (`unicode_cpt_flags_from_cpt`); codepoints past U+10FFFF are undefined.
    @inline(__always)
    static func flags(_ cp: UInt32) -> CodepointFlags {
        if cp < 0x10000 { return CodepointFlags(bits: bmpFlags.withUnsafeBufferPointer { $0[Int(cp)] }) }
        return CodepointFlags(bits: computeFlags(cp))
    }

    static func computeFlags(_ cp: UInt32) -> UInt16 {
        guard cp < 0x110000 else { return CodepointFlags.undefined }
        // Surrogates (category Cs) are not scalars.
        guard let scalar = Unicode.Scalar(cp) else { return CodepointFlags.control }
        let props = scalar.properties
        var bits: UInt16
        if let age = props.age, age.major < 15 || (age.major == 15 && age.minor <= 1) {
            bits = categoryFlag(props.generalCategory)
        } else {
            bits = CodepointFlags.undefined
        }
        if whitespaceSet.contains(cp) { bits |= CodepointFlags.whitespace }
        return bits
    }

    static func categoryFlag(_ c: Unicode.GeneralCategory) -> UInt16 {
        switch c {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return CodepointFlags.letter
        case .nonspacingMark, .spacingMark, .enclosingMark:
            return CodepointFlags.mark
        case .decimalNumber, .letterNumber, .otherNumber:
            return CodepointFlags.number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return CodepointFlags.punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return CodepointFlags.symbol
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            return CodepointFlags.separator
        case .control, .format, .privateUse, .surrogate:
            return CodepointFlags.control
        case .unassigned:
            return CodepointFlags.undefined
        @unknown default:
            return CodepointFlags.undefined
        }
    }

    /// Decodes like `unicode_cpts_from_utf8`: a byte that does not start a complete sequence
    /// becomes U+FFFD and decoding resumes at the next byte. Overlong forms and surrogates are
    /// accepted as llama.cpp accepts them; lead bytes F5-F7 give values past U+10FFFF.
    static func decode(_ p: UnsafeBufferPointer<UInt8>, into cps: inout [UInt32]) {
        let n = p.count
        var i = 0
        while i < n {
            let b0 = UInt32(p[i])
            if b0 & 0x80 == 0 {
                cps.append(b0); i += 1; continue
            }
            if b0 & 0x40 == 0 {
                cps.append(0xFFFD); i += 1; continue
            }
            if b0 & 0x20 == 0 {
                if i + 1 < n, p[i + 1] & 0xC0 == 0x80 {
                    cps.append(((b0 & 0x1F) << 6) | UInt32(p[i + 1] & 0x3F)); i += 2
                } else {
                    cps.append(0xFFFD); i += 1
                }
                continue
            }
            if b0 & 0x10 == 0 {
                if i + 2 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80 {
                    cps.append(((b0 & 0x0F) << 12) | (UInt32(p[i + 1] & 0x3F) << 6) | UInt32(p[i + 2] & 0x3F))
                    i += 3
                } else {
                    cps.append(0xFFFD); i += 1
                }
                continue
            }
            if b0 & 0x08 == 0, i + 3 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80,
               p[i + 3] & 0xC0 == 0x80 {
                cps.append(((b0 & 0x07) << 18) | (UInt32(p[i + 1] & 0x3F) << 12)
                           | (UInt32(p[i + 2] & 0x3F) << 6) | UInt32(p[i + 3] & 0x3F))
                i += 4
                continue
            }
            cps.append(0xFFFD); i += 1
        }
    }

    /// Appends the UTF-8 form of `cp` (`unicode_cpt_to_utf8`). llama.cpp throws for values past
    /// U+10FFFF; here they become U+FFFD.
    @inline(__always)
    static func encode(_ cp: UInt32, into out: inout [UInt8]) {
        if cp <= 0x7F {
            out.append(UInt8(cp))
        } else if cp <= 0x7FF {
            out.append(UInt8(0xC0 | ((cp >> 6) & 0x1F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        } else if cp <= 0xFFFF {
            out.append(UInt8(0xE0 | ((cp >> 12) & 0x0F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        } else if cp <= 0x10FFFF {
            out.append(UInt8(0xF0 | ((cp >> 18) & 0x07)))
            out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        } else {
            out.append(contentsOf: [0xEF, 0xBF, 0xBD])
        }
    }

    /// How many bytes `encode` writes for `cp`.
    @inline(__always)
    static func encodedLength(_ cp: UInt32) -> Int {
        cp <= 0x7F ? 1 : cp <= 0x7FF ? 2 : cp <= 0xFFFF ? 3 : cp <= 0x10FFFF ? 4 : 3
    }

    /// Length of the UTF-8 sequence a lead byte announces (`unicode_len_utf8`); 1 for continuation bytes.
    @inline(__always)
    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// GPT-2's alphabet: bytes `!`...`~`, 0xA1...0xAC and 0xAE...0xFF stand for the codepoint of
    /// the same value; the remaining 68 bytes, in increasing order, for U+0100, U+0101, ...
    static let byteToCodepoint: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Inverse of `byteToCodepoint` for codepoints below 0x144 (-1 for characters outside the alphabet).
    static let codepointToByte: [Int16] = {
        var inverse = [Int16](repeating: -1, count: 0x144)
        for (b, cp) in byteToCodepoint.enumerated() { inverse[Int(cp)] = Int16(b) }
        return inverse
    }()

    /// The alphabet character of byte `b` in UTF-8 (`unicode_byte_to_utf8`).
    static func gpt2Encoded(_ b: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        encode(byteToCodepoint[Int(b)], into: &out)
        return out
    }
}
