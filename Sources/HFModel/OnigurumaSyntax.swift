/// Rewrites the Oniguruma (Ruby syntax) constructs whose meaning differs in Swift Regex, so that a
/// tokenizer.json pattern matches what tokenizers' Oniguruma matches:
///
/// | Oniguruma | meaning there | rewritten as |
/// |---|---|---|
/// | `\d` `\D` | decimal digits (Nd) | `\p{Nd}` `\P{Nd}` (Swift's `\d` also takes ½ and 京) |
/// | `\w` `\W` | Alphabetic, marks, numbers, Pc | `[\p{Alphabetic}\p{M}\p{N}\p{Pc}]` and its complement |
/// | `\h` `\H` | hexadecimal digit | `[0-9A-Fa-f]` (Swift's `\h` is horizontal space) |
/// | `.` | anything but `\n` | `[^\n]` (Swift's excludes every line ending) |
/// | `$` | end of a line (`\n`) or of the text | `(?=\n|\z)` |
/// | `^` | start of the text or after `\n` | `^` with line anchors on (then `\r` and U+2028 also count) |
/// | `[[:punct:]]` | P* and `$+<=>^`\|~` | `\p{P}` plus those symbols |
/// | `\p{^L}`, `\pL`, `\N` | negated / one-letter property, non-newline | `\P{L}`, `\p{L}`, `[^\n]` |
///
/// Known remaining differences: case-insensitive matching uses simple case folding in Swift
/// (`(?i)s` does not match "ſ", `(?i)σ` not "ς"), and Swift's property tables are Unicode 17.
enum OnigurumaSyntax {
    static let word = #"\p{Alphabetic}\p{M}\p{N}\p{Pc}"#
    static let hex = "0-9A-Fa-f"

    /// The Swift Regex source for `pattern`, and whether `^` needs line anchors.
    /// - Throws: a message for constructs without a Swift equivalent inside a character class
    ///   (`\W`, `\H`).
    static func translate(_ pattern: String) throws(OnigurumaError) -> (pattern: String, lineAnchors: Bool) {
        let s = Array(pattern.unicodeScalars)
        var out = String()
        var depth = 0
        var lineAnchors = false
        var i = 0
        func emit(_ t: String) { out += t }
        while i < s.count {
            let c = s[i]
            if c == "\\" && i + 1 < s.count {
                let n = s[i + 1]
                i += 2
                switch n {
                case "d": emit(#"\p{Nd}"#)
                case "D": emit(#"\P{Nd}"#)
                case "w": emit(depth == 0 ? "[\(word)]" : word)
                case "h": emit(depth == 0 ? "[\(hex)]" : hex)
                case "W", "H":
                    guard depth == 0 else { throw OnigurumaError(message: "\\\(n) inside a character class") }
                    emit(n == "W" ? "[^\(word)]" : "[^\(hex)]")
                case "N" where depth == 0: emit(#"[^\n]"#)
                case "p", "P":
                    if i < s.count && s[i] == "{" && i + 1 < s.count && s[i + 1] == "^" {
                        emit(n == "p" ? #"\P{"# : #"\p{"#)
                        i += 2
                    } else if i < s.count && s[i] != "{" {
                        emit("\\\(n){\(s[i])}")
                        i += 1
                    } else {
                        emit("\\\(n)")
                    }
                default:
                    out.unicodeScalars.append("\\")
                    out.unicodeScalars.append(n)
                }
                continue
            }
            if depth > 0 && c == "[" && i + 1 < s.count && s[i + 1] == ":" {
                // POSIX bracket [:name:] inside a class.
                if let end = (i + 2..<s.count).first(where: { s[$0] == ":" && $0 + 1 < s.count && s[$0 + 1] == "]" }) {
                    let name = Array(s[(i + 2)..<end]).string
                    emit(name == "punct" ? #"\p{P}\$\+<=>\^`\|~"# : "[:\(name):]")
                    i = end + 2
                    continue
                }
            }
            switch c {
            case "[": depth += 1; out.unicodeScalars.append(c)
            case "]" where depth > 0: depth -= 1; out.unicodeScalars.append(c)
            case "." where depth == 0: emit(#"[^\n]"#)
            case "$" where depth == 0: emit(#"(?=\n|\z)"#)
            case "^" where depth == 0: lineAnchors = true; out.unicodeScalars.append(c)
            default: out.unicodeScalars.append(c)
            }
            i += 1
        }
        return (out, lineAnchors)
    }
}

struct OnigurumaError: Error {
    let message: String
}
