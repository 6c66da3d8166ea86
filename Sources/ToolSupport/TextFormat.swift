/// Small text helpers shared by the commands' output.
enum TextFormat {
    /// Python's `repr()` of a str: single quotes unless the text has ' and no ", with \\n, \\t,
    /// \\r, \\\\ and non-printable characters escaped.
    static func pythonRepr(_ s: String) -> String {
        let q: Character = (s.contains("'") && !s.contains("\"")) ? "\"" : "'"
        var out = String(q)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case " ": out += " "
            default:
                if Character(u) == q { out += "\\" + String(q); continue }
                if u.value < 0x20 || u.value == 0x7f {
                    out += "\\x" + hex(u.value, 2)
                } else if u.value >= 0x80 && u.value < 0xa0 {
                    out += "\\x" + hex(u.value, 2)
                } else if !u.properties.isPrintableForRepr {
                    out += u.value > 0xffff ? "\\U" + hex(u.value, 8) : "\\u" + hex(u.value, 4)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out.append(q)
        return out
    }

    /// JSON string literal with the escapes RFC 8259 requires.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + hex(u.value, 4) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    static func pad(_ s: String, left width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    static func pad(_ s: String, right width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}

extension Unicode.Scalar.Properties {
    /// Approximates Python's str.isprintable for repr: separators and "other" categories are escaped
    /// (except the plain space).
    var isPrintableForRepr: Bool {
        switch generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            return false
        case .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
