#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON file of a model folder whose top-level value is an object (config.json,
/// tokenizer_config.json, generation_config.json, ...), with typed accessors whose errors name
/// the file and the key.
///
/// Key lists follow convert_hf_to_gguf.py's `find_hparam`: the first key that is *present* wins,
/// even when its value is null (then the accessor returns nil).
public struct HFJSONFile: Sendable {
    public let path: String
    public let object: JSONObject

    /// Reads and parses `path`.
    /// - Throws: `.missingFile` when absent, `.malformedJSON` with line and column when it does
    ///   not parse, `.invalid` when the top level is not an object.
    public init(path: String) throws(HFModelError) {
        let value = try JSONParser.parseFile(path)
        guard let o = value.object else {
            throw HFModelError(.invalid, file: path, "top-level value is \(value.typeDescription), expected an object")
        }
        self.path = path
        self.object = o
    }

    /// Wraps an already parsed object (tests, or files built in memory).
    public init(path: String, object: JSONObject) {
        self.path = path
        self.object = object
    }

    /// Loads `path` when the file exists, nil otherwise. A file that exists but does not parse
    /// still throws.
    public static func loadIfPresent(_ path: String) throws(HFModelError) -> HFJSONFile? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return try HFJSONFile(path: path)
    }

    public subscript(key: String) -> JSONValue? { object[key] }

    public func contains(_ key: String) -> Bool { object.contains(key) }

    /// The first of `keys` present in the object (its value may be null).
    public func firstPresent(_ keys: [String]) -> (key: String, value: JSONValue)? {
        for k in keys { if let v = object[k] { return (k, v) } }
        return nil
    }

    // MARK: typed accessors (nil when absent or null, throw on a wrong type)

    /// An integer value (a JSON integer literal; `4096.0` is refused like gguf-py's uint32 packing would).
    public func int(_ keys: String...) throws(HFModelError) -> Int? { try int(keys) }

    public func int(_ keys: [String]) throws(HFModelError) -> Int? {
        if let (key, value) = firstPresent(keys), let n = value.number, n.isInteger, n.int == nil {
            throw HFModelError(.invalid, file: path, "key '\(key)' is the integer \(n.text), which does not fit in 64 bits")
        }
        return try typed(keys, "an integer") { v in
            guard let n = v.number, n.isInteger else { return nil }
            return n.int
        }
    }

    /// A number (integer or not) as Double.
    public func double(_ keys: String...) throws(HFModelError) -> Double? { try double(keys) }

    public func double(_ keys: [String]) throws(HFModelError) -> Double? {
        try typed(keys, "a number") { $0.double }
    }

    public func string(_ keys: String...) throws(HFModelError) -> String? { try string(keys) }

    public func string(_ keys: [String]) throws(HFModelError) -> String? {
        try typed(keys, "a string") { $0.string }
    }

    public func bool(_ keys: String...) throws(HFModelError) -> Bool? { try bool(keys) }

    public func bool(_ keys: [String]) throws(HFModelError) -> Bool? {
        try typed(keys, "a boolean") { $0.bool }
    }

    public func object(_ keys: String...) throws(HFModelError) -> JSONObject? {
        try typed(keys, "an object") { $0.object }
    }

    public func array(_ keys: String...) throws(HFModelError) -> [JSONValue]? {
        try typed(keys, "an array") { $0.array }
    }

    /// Like `int(_:)` but the key must be present and not null.
    /// - Throws: `.notFound` "could not find any of: a, b" (find_hparam's KeyError).
    public func requireInt(_ keys: String...) throws(HFModelError) -> Int {
        guard let v = try int(keys) else { throw notFound(keys) }
        return v
    }

    public func requireDouble(_ keys: String...) throws(HFModelError) -> Double {
        guard let v = try double(keys) else { throw notFound(keys) }
        return v
    }

    public func requireString(_ keys: String...) throws(HFModelError) -> String {
        guard let v = try string(keys) else { throw notFound(keys) }
        return v
    }

    private func notFound(_ keys: [String]) -> HFModelError {
        if let (k, _) = firstPresent(keys) {
            return HFModelError(.notFound, file: path, "key '\(k)' is null, expected a value")
        }
        return HFModelError(.notFound, file: path, "could not find any of: \(keys.joined(separator: ", "))")
    }

    private func typed<T>(_ keys: [String], _ expected: String, _ get: (JSONValue) -> T?) throws(HFModelError) -> T? {
        guard let (key, value) = firstPresent(keys), !value.isNull else { return nil }
        if let v = get(value) { return v }
        var found = value.typeDescription
        if let n = value.number { found += " (\(n.text))" }
        throw HFModelError(.invalid, file: path, "key '\(key)' is \(found), expected \(expected)")
    }
}

/// True when `path` names an existing file or directory.
func fileExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}
