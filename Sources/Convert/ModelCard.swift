// The YAML front matter of a model card (README.md), read the way gguf-py's Metadata.load_model_card
// does: the first line must be exactly "---", the YAML is everything up to the next "---\n".
import Foundation
import GGUF

// A YAML subset sufficient for Hugging Face cards: block mappings and sequences by indentation,
// flow sequences `[a, b]`, plain/quoted scalars, comments, and `|`/`>` block scalars.

/// A value from the front matter, typed like PyYAML's safe_load would type it.
public indirect enum CardValue: Equatable, Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null
    case list([CardValue])
    case map([(String, CardValue)])

    public static func == (a: CardValue, b: CardValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.list(let x), .list(let y)): return x == y
        case (.map(let x), .map(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Python's str() of the value (used where gguf-py passes a scalar to a string field).
    public var text: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "True" : "False"
        case .null: return "None"
        case .list(let l): return "[" + l.map { $0.text }.joined(separator: ", ") + "]"
        case .map: return "{...}"
        }
    }

    public subscript(key: String) -> CardValue? {
        if case .map(let m) = self { return m.first { $0.0 == key }?.1 }
        return nil
    }
}

public enum ModelCard {
    /// Reads `README.md` in `directory`; returns nil when there is no card or no front matter.
    /// Malformed YAML is reported through `warn` and ignored (the conversion goes on without it).
    public static func load(directory: String, warn: (String) -> Void) -> CardValue? {
        let path = directory + "/README.md"
        guard let text = readTextFile(path) else { return nil }
        guard text.hasPrefix("---\n") else { return nil }
        let rest = text.dropFirst(4)
        let yaml: Substring
        if let r = rest.range(of: "---\n") { yaml = rest[..<r.lowerBound] } else { yaml = rest }
        do {
            var p = YAMLSubsetParser(String(yaml))
            let v = try p.parseDocument()
            if case .map = v { return v }
            warn("\(path): front matter is not a mapping; ignored")
            return nil
        } catch {
            warn("\(path): \(error); front matter ignored")
            return nil
        }
    }
}

struct YAMLError: Error, CustomStringConvertible {
    let line: Int
    let message: String
    var description: String { "YAML line \(line): \(message)" }
}

/// Indentation-based parser over lines with comments stripped.
struct YAMLSubsetParser {
    struct Line { let number: Int; let indent: Int; let text: String }
    private var lines: [Line] = []
    private var i = 0

    init(_ text: String) {
        var n = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            n += 1
            let s = String(raw).replacingTabs()
            let stripped = YAMLSubsetParser.stripComment(s)
            if stripped.allSatisfy({ $0 == " " }) { continue }
            let indent = stripped.prefix(while: { $0 == " " }).count
            lines.append(Line(number: n, indent: indent, text: String(stripped.dropFirst(indent))))
        }
    }

    static func stripComment(_ s: String) -> String {
        var inSingle = false, inDouble = false
        var prev: Character = " "
        var out = ""
        for c in s {
            if c == "'" && !inDouble { inSingle.toggle() }
            if c == "\"" && !inSingle { inDouble.toggle() }
            if c == "#" && !inSingle && !inDouble && (prev == " " || out.isEmpty) { break }
            out.append(c)
            prev = c
        }
        while out.last == " " { out.removeLast() }
        return out
    }

    mutating func parseDocument() throws -> CardValue {
        guard i < lines.count else { return .null }
        let v = try parseBlock(indent: lines[i].indent)
        if i < lines.count { throw YAMLError(line: lines[i].number, message: "unexpected content '\(lines[i].text)'") }
        return v
    }

    private mutating func parseBlock(indent: Int) throws -> CardValue {
        let first = lines[i]
        if first.text.hasPrefix("- ") || first.text == "-" { return try parseSequence(indent: indent) }
        return try parseMapping(indent: indent)
    }

    private mutating func parseSequence(indent: Int) throws -> CardValue {
        var items: [CardValue] = []
        while i < lines.count, lines[i].indent == indent, lines[i].text.hasPrefix("-") {
            let line = lines[i]
            let rest = String(line.text.dropFirst(1)).trimmingLeadingSpaces()
            i += 1
            if rest.isEmpty {
                if i < lines.count, lines[i].indent > indent { items.append(try parseBlock(indent: lines[i].indent)) } else { items.append(.null) }
            } else if let colon = mappingColon(rest) {
                // "- key: value" starts a mapping nested in the item.
                let childIndent = indent + 1 + (line.text.count - 1 - rest.count)
                lines.insert(Line(number: line.number, indent: childIndent, text: rest), at: i)
                _ = colon
                items.append(try parseMapping(indent: childIndent))
            } else {
                items.append(try scalarOrFlow(rest, line: line.number))
            }
        }
        return .list(items)
    }

    private mutating func parseMapping(indent: Int) throws -> CardValue {
        var pairs: [(String, CardValue)] = []
        while i < lines.count, lines[i].indent == indent {
            let line = lines[i]
            guard let colon = mappingColon(line.text) else {
                throw YAMLError(line: line.number, message: "expected 'key: value', found '\(line.text)'")
            }
            let key = unquote(String(line.text[..<colon]).trimmingTrailingSpaces())
            let rest = String(line.text[line.text.index(after: colon)...]).trimmingLeadingSpaces()
            i += 1
            let value: CardValue
            if rest.isEmpty {
                if i < lines.count, lines[i].indent > indent || (lines[i].indent == indent && lines[i].text.hasPrefix("- ")) {
                    value = try parseBlock(indent: lines[i].indent)
                } else {
                    value = .null
                }
            } else if rest == "|" || rest == ">" || rest.hasPrefix("|-") || rest.hasPrefix(">-") || rest.hasPrefix("|+") || rest.hasPrefix(">+") {
                var parts: [String] = []
                while i < lines.count, lines[i].indent > indent {
                    parts.append(String(repeating: " ", count: lines[i].indent - (parts.isEmpty ? lines[i].indent : 0)) + lines[i].text)
                    i += 1
                }
                let folded = rest.hasPrefix(">")
                var s = parts.joined(separator: folded ? " " : "\n")
                if !rest.hasSuffix("-") { s += "\n" }
                value = .string(s)
            } else {
                value = try scalarOrFlow(rest, line: line.number)
            }
            pairs.append((key, value))
        }
        return .map(pairs)
    }

    /// Index of the ':' that separates a key (followed by space or end), outside quotes.
    private func mappingColon(_ s: String) -> String.Index? {
        var inSingle = false, inDouble = false
        var idx = s.startIndex
        while idx < s.endIndex {
            let c = s[idx]
            if c == "'" && !inDouble { inSingle.toggle() }
            if c == "\"" && !inSingle { inDouble.toggle() }
            if c == ":" && !inSingle && !inDouble {
                let next = s.index(after: idx)
                if next == s.endIndex || s[next] == " " { return idx }
            }
            if (c == "[" || c == "{") && idx == s.startIndex { return nil }
            idx = s.index(after: idx)
        }
        return nil
    }

    private func unquote(_ s: String) -> String {
        if s.count >= 2, (s.hasPrefix("\"") && s.hasSuffix("\"")) || (s.hasPrefix("'") && s.hasSuffix("'")) {
            if case .string(let v) = scalar(s) { return v }
        }
        return s
    }

    private func scalarOrFlow(_ s: String, line: Int) throws -> CardValue {
        if s.hasPrefix("[") {
            guard s.hasSuffix("]") else { throw YAMLError(line: line, message: "unterminated flow sequence") }
            let inner = s.dropFirst().dropLast()
            var items: [CardValue] = []
            var cur = ""
            var inSingle = false, inDouble = false
            for c in inner {
                if c == "'" && !inDouble { inSingle.toggle() }
                if c == "\"" && !inSingle { inDouble.toggle() }
                if c == "," && !inSingle && !inDouble {
                    let t = cur.trimmingLeadingSpaces().trimmingTrailingSpaces()
                    if !t.isEmpty { items.append(scalar(t)) }
                    cur = ""
                } else {
                    cur.append(c)
                }
            }
            let t = cur.trimmingLeadingSpaces().trimmingTrailingSpaces()
            if !t.isEmpty { items.append(scalar(t)) }
            return .list(items)
        }
        if s.hasPrefix("{") { throw YAMLError(line: line, message: "flow mappings are not supported") }
        return scalar(s)
    }

    /// A scalar typed like YAML 1.1 (PyYAML): null, booleans, ints, floats, else a string.
    func scalar(_ s: String) -> CardValue {
        if s.count >= 2 && s.hasPrefix("'") && s.hasSuffix("'") {
            return .string(String(s.dropFirst().dropLast()).replacingAll("''", with: "'"))
        }
        if s.count >= 2 && s.hasPrefix("\"") && s.hasSuffix("\"") {
            var out = ""
            var esc = false
            for c in s.dropFirst().dropLast() {
                if esc {
                    switch c {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    case "/": out.append("/")
                    default: out.append("\\"); out.append(c)
                    }
                    esc = false
                } else if c == "\\" {
                    esc = true
                } else {
                    out.append(c)
                }
            }
            return .string(out)
        }
        switch s {
        case "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        default: break
        }
        if let i = Int(s.replacingAll("_", with: "")), s.first != "_", !s.hasPrefix("0") || s == "0" { return .int(i) }
        if s.contains("."), let d = Double(s), s.first != ".", d.isFinite { return .double(d) }
        return .string(s)
    }
}

extension String {
    func trimmingLeadingSpaces() -> String { String(drop(while: { $0 == " " })) }
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
    func replacingTabs() -> String { replacingOccurrences(of: "\t", with: "    ") }
    func replacingAll(_ a: String, with b: String) -> String { replacingOccurrences(of: a, with: b) }
}

/// Reads a whole UTF-8 text file, or nil when it does not exist or cannot be read.
func readTextFile(_ path: String) -> String? {
    guard let m = try? MappedFile(path: path) else { return nil }
    return String(decoding: m.bytes, as: UTF8.self)
}
