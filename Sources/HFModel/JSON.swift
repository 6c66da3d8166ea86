// JSON values as Hugging Face files use them (config.json, tokenizer.json, safetensors headers).
// Objects keep their members in file order; numbers keep their literal text so that "1e-05" and
// "49152" can be read back exactly as Python's json module would type them.

/// One JSON value (RFC 8259). Built by `JSONParser`.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }

    public var number: JSONNumber? { if case .number(let n) = self { return n } else { return nil } }

    /// The value of an integer literal (no fraction or exponent, like a Python `int`); nil for any
    /// other value or when it does not fit in `Int`.
    public var int: Int? { number?.int }

    /// The value of any number literal as a Double (Python's `float(x)`).
    public var double: Double? { number?.double }

    public var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }

    public var object: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    /// Member lookup on an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? { object?[key] }

    /// Element lookup on an array (nil for other values or an index out of range).
    public subscript(index: Int) -> JSONValue? {
        guard let a = array, index >= 0, index < a.count else { return nil }
        return a[index]
    }

    /// "null", "a boolean", "an integer", "a number", "a string", "an array" or "an object", for
    /// error messages ("key 'vocab_size' is a string, expected an integer").
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let n): return n.isInteger ? "an integer" : "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A JSON number: its literal text plus typed views.
public struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The literal as written ("-1", "1e-05", "0.5"; also "NaN", "Infinity", "-Infinity", which
    /// Python's json module accepts and writes).
    public let text: String
    /// True for literals without fraction or exponent (Python reads them as `int`).
    public let isInteger: Bool

    public init(text: String, isInteger: Bool) {
        self.text = text
        self.isInteger = isInteger
    }

    /// The integer value, or nil for non-integer literals and integers outside `Int`.
    public var int: Int? { isInteger ? Int(text) : nil }

    /// The value as a Double, rounded to nearest like Python's `float()`.
    public var double: Double { Double(text) ?? .nan }

    public var description: String { text }
}

/// One `"key": value` member of an object.
public struct JSONMember: Sendable, Equatable {
    public let key: String
    public let value: JSONValue
}

/// A JSON object with its members in file order.
///
/// A key written twice keeps both members in `members`; lookups return the last value, which is
/// what Python's `json.load` (dict) and serde_json's `Map` do. Keys are compared by Unicode
/// scalars, not by Swift's canonical equivalence ("é" and "e\u{301}" are different keys).
public struct JSONObject: Sendable, Equatable {
    public private(set) var members: [JSONMember]
    private var index: [ExactKey: Int]

    public init(_ members: [JSONMember] = []) {
        self.members = []
        self.index = [:]
        self.members.reserveCapacity(members.count)
        index.reserveCapacity(members.count)
        for m in members { append(m.key, m.value) }
    }

    public mutating func append(_ key: String, _ value: JSONValue) {
        index[ExactKey(key)] = members.count
        members.append(JSONMember(key: key, value: value))
    }

    public subscript(key: String) -> JSONValue? {
        guard let i = index[ExactKey(key)] else { return nil }
        return members[i].value
    }

    /// Replaces the value of `key` in place (its last occurrence), or appends a new member.
    public mutating func set(_ key: String, _ value: JSONValue) {
        if let i = index[ExactKey(key)] {
            members[i] = JSONMember(key: key, value: value)
        } else {
            append(key, value)
        }
    }

    public func contains(_ key: String) -> Bool { index[ExactKey(key)] != nil }

    /// Number of members as written (duplicates counted).
    public var count: Int { members.count }

    /// Distinct keys in the order they first appear.
    public var keys: [String] {
        var seen = Set<ExactKey>()
        return members.compactMap { seen.insert(ExactKey($0.key)).inserted ? $0.key : nil }
    }

    /// True when some key is written more than once.
    public var hasDuplicateKeys: Bool { index.count != members.count }

    /// Keys written more than once, in first-appearance order.
    public var duplicateKeys: [String] {
        var seen = Set<ExactKey>(), dup: [String] = [], reported = Set<ExactKey>()
        for m in members where !seen.insert(ExactKey(m.key)).inserted {
            if reported.insert(ExactKey(m.key)).inserted { dup.append(m.key) }
        }
        return dup
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.members == b.members }
}

// MARK: - Serialization

extension JSONValue {
    /// Compact JSON text (no spaces, members in stored order, non-ASCII written as UTF-8, the
    /// same escapes serde_json uses). Numbers are written with their literal text.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n.text
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, m) in o.members.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(m.key, to: &out)
                out += ":"
                m.value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
