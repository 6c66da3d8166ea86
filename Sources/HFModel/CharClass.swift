/// Character classes with the definitions the tokenizers crate uses.
///
/// The Swift standard library knows Unicode 17; the regex engines of tokenizers 0.23 (Oniguruma
/// for `\p{L}`/`\p{N}`/`\s`, the regex crate for `\w`) stop at Unicode 16, so characters
/// assigned later are in no class, as there. The Punctuation pre-tokenizer uses the
/// unicode_categories crate, which has Unicode 8.0 tables.
enum CharClass {
    /// Assigned in Unicode 16.0 or earlier.
    @inline(__always) static func known(_ u: Unicode.Scalar) -> Bool {
        guard let age = u.properties.age else { return false }
        return age.major <= 16
    }

    /// Unicode White_Space (Rust `char::is_whitespace`, regex `\s`, Oniguruma `\s`).
    @inline(__always) static func isWhitespace(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x80 { return u.value == 0x20 || (u.value >= 0x09 && u.value <= 0x0D) }
        return u.properties.isWhitespace
    }

    /// General category L* (`\p{L}`).
    @inline(__always) static func isLetter(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x80 { return (v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A }
        guard known(u) else { return false }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// General category N* (`\p{N}`).
    @inline(__always) static func isNumber(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x80 { return v >= 0x30 && v <= 0x39 }
        guard known(u) else { return false }
        switch u.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `age <= major.minor` (false for unassigned scalars).
    @inline(__always) static func assigned(_ u: Unicode.Scalar, by major: Int, _ minor: Int) -> Bool {
        guard let a = u.properties.age else { return false }
        return a.major < major || (a.major == major && a.minor <= minor)
    }

    /// General category M* in Unicode 9.0 (unicode-normalization-alignments' `is_combining_mark`,
    /// used by StripAccents). U+1CF2/U+1CF3 were marks then; U+111C9 was punctuation.
    static func isMark(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x1CF2, 0x1CF3: return true
        case 0x111C9: return false
        default: break
        }
        guard assigned(u, by: 9, 0) else { return false }
        switch u.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// General category Mn in Unicode 8.0 (unicode_categories' `is_mark_nonspacing`, used by
    /// BertNormalizer's accent stripping), with the categories that changed since.
    static func isNonspacingMark8(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x1734, 0x1171E: return true
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false
        default: break
        }
        return assigned(u, by: 8, 0) && u.properties.generalCategory == .nonspacingMark
    }

    /// General category Cc, Cf, Co or Cs in Unicode 8.0 (unicode_categories' `is_other` without
    /// Cn, which BertNormalizer's text cleaning drops).
    static func isOther8(_ u: Unicode.Scalar) -> Bool {
        guard assigned(u, by: 8, 0) else { return false }
        switch u.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// General category N* with the standard library's tables (Rust `char::is_numeric`, which
    /// the Digits pre-tokenizer uses; Rust's std has Unicode 17 like Swift's).
    @inline(__always) static func isNumeric(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x80 { return v >= 0x30 && v <= 0x39 }
        switch u.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Rust regex `\w` in Unicode mode: Alphabetic, M*, Nd, Pc, Join_Control.
    static func isWordChar(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x80 {
            return (v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A || (v >= 0x30 && v <= 0x39) || v == 0x5F
        }
        guard known(u) else { return false }
        let p = u.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// ASCII punctuation or general category P* in Unicode 8.0 (the Punctuation and Bert
    /// pre-tokenizers). U+166D and U+111C9 were punctuation in 8.0 and are not any more.
    static func isPunctuation(_ u: Unicode.Scalar) -> Bool {
        let v = u.value
        if v < 0x80 {
            return (v >= 0x21 && v <= 0x2F) || (v >= 0x3A && v <= 0x40) || (v >= 0x5B && v <= 0x60) || (v >= 0x7B && v <= 0x7E)
        }
        if v == 0x166D || v == 0x111C9 { return true }
        guard let age = u.properties.age, age.major < 8 || (age.major == 8 && age.minor == 0) else { return false }
        switch u.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }
}
