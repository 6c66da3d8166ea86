#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GGUF

/// A strict RFC 8259 JSON parser working on UTF-8 bytes.
///
/// Accepted beyond the RFC, as Python's `json` module does: the literals `NaN`, `Infinity` and
/// `-Infinity` (kept as number text). Rejected: a UTF-8 byte order mark, invalid UTF-8, raw control
/// characters inside strings, trailing commas, comments, leading zeros, and anything after the
/// top-level value. A `\uD800`-style surrogate escape without its partner becomes U+FFFD (Python
/// keeps the lone surrogate in its str, serde_json refuses the file; a Swift String cannot hold one).
/// Nesting deeper than `maxDepth` is refused; the parser uses an explicit stack, never recursion.
///
/// Errors name the file, the 1-based line and column (in Unicode scalars), what was expected and
/// what was found: `tokenizer.json: line 7, column 12: expected ':' after an object key, found ','`.
public enum JSONParser {
    public static let maxDepth = 512
    /// Files larger than this are refused before reading (tokenizer.json files are ≲ 40 MB).
    public static let maxFileSize = 1 << 30

    /// Reads and parses the file at `path`.
    /// - Throws: `.missingFile` when it does not exist, `.io` when it cannot be read,
    ///   `.malformedJSON` with line and column when it does not parse.
    public static func parseFile(_ path: String) throws(HFModelError) -> JSONValue {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw HFModelError(.missingFile, file: path, "file not found") }
            throw HFModelError(.io, file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw HFModelError(.io, file: path, "not a regular file") }
        guard Int(st.st_size) <= maxFileSize else {
            throw HFModelError(.limit, file: path, "file is \(st.st_size) bytes, expected at most \(maxFileSize)")
        }
        let map: MappedFile
        do { map = try MappedFile(path: path) } catch { throw HFModelError(.io, file: path, error.message) }
        return try parse(map.bytes, file: path)
    }

    /// Parses JSON text held in a string (`file` is used in error messages).
    public static func parse(_ text: String, file: String = "<string>") throws(HFModelError) -> JSONValue {
        var copy = text
        let result: Result<JSONValue, HFModelError> = copy.withUTF8 { buf in
            do throws(HFModelError) { return .success(try parse(UnsafeRawBufferPointer(buf), file: file)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses JSON text held in `bytes` (UTF-8).
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws(HFModelError) -> JSONValue {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else {
            throw HFModelError(.malformedJSON, file: file, "line 1, column 1: expected a JSON value, found end of file")
        }
        var p = JSONScanner(base: base, count: bytes.count, file: file)
        if bytes.count >= 3, base[0] == 0xEF, base[1] == 0xBB, base[2] == 0xBF {
            throw p.error(at: 0, "expected a JSON value, found a UTF-8 byte order mark")
        }
        return try p.parseDocument()
    }
}

struct JSONScanner {
    let base: UnsafePointer<UInt8>
    let count: Int
    let file: String
    var pos = 0

    init(base: UnsafePointer<UInt8>, count: Int, file: String) {
        self.base = base
        self.count = count
        self.file = file
    }

    // MARK: structure

    mutating func parseDocument() throws(HFModelError) -> JSONValue {
        // Open containers, innermost last. Elements are appended in place (`arrays[top].append`)
        // so that no container is ever copied.
        var isObject: [Bool] = []
        var arrays: [[JSONValue]] = []
        var objects: [JSONObject] = []
        var keys: [String] = []
        while true {
            skipSpace()
            var value: JSONValue
            switch peek() {
            case UInt8(ascii: "{"):
                pos += 1
                skipSpace()
                if peek() == UInt8(ascii: "}") {
                    pos += 1
                    value = .object(JSONObject())
                } else {
                    try checkDepth(isObject.count)
                    isObject.append(true)
                    objects.append(JSONObject())
                    keys.append(try parseKey(first: true))
                    continue
                }
            case UInt8(ascii: "["):
                pos += 1
                skipSpace()
                if peek() == UInt8(ascii: "]") {
                    pos += 1
                    value = .array([])
                } else {
                    try checkDepth(isObject.count)
                    isObject.append(false)
                    arrays.append([])
                    continue
                }
            default:
                value = try parseScalar()
            }
            // Attach the finished value to its parents, closing containers as they end.
            while true {
                guard let inObject = isObject.last else {
                    skipSpace()
                    if pos < count { throw error(at: pos, "expected end of file after the JSON value, found \(found(pos))") }
                    return value
                }
                skipSpace()
                let c = peek()
                pos += 1
                if inObject {
                    objects[objects.count - 1].append(keys.removeLast(), value)
                    if c == UInt8(ascii: ",") {
                        skipSpace()
                        keys.append(try parseKey(first: false))
                        break
                    } else if c == UInt8(ascii: "}") {
                        isObject.removeLast()
                        value = .object(objects.removeLast())
                    } else {
                        throw error(at: pos - 1, "expected ',' or '}' after an object member, found \(found(pos - 1))")
                    }
                } else {
                    arrays[arrays.count - 1].append(value)
                    if c == UInt8(ascii: ",") {
                        break
                    } else if c == UInt8(ascii: "]") {
                        isObject.removeLast()
                        value = .array(arrays.removeLast())
                    } else {
                        throw error(at: pos - 1, "expected ',' or ']' after an array element, found \(found(pos - 1))")
                    }
                }
            }
        }
    }

    private func checkDepth(_ depth: Int) throws(HFModelError) {
        if depth >= JSONParser.maxDepth {
            throw HFModelError(.limit, file: file, "\(location(pos)): nesting deeper than \(JSONParser.maxDepth) levels")
        }
    }

    /// Reads `"key" :` (the cursor is at the opening quote, whitespace skipped).
    private mutating func parseKey(first: Bool) throws(HFModelError) -> String {
        guard peek() == UInt8(ascii: "\"") else {
            let what = first ? "'\"' or '}' after '{'" : "'\"' (an object key) after ','"
            throw error(at: pos, "expected \(what), found \(found(pos))")
        }
        let key = try parseString()
        skipSpace()
        guard peek() == UInt8(ascii: ":") else {
            throw error(at: pos, "expected ':' after an object key, found \(found(pos))")
        }
        pos += 1
        return key
    }

    private mutating func parseScalar() throws(HFModelError) -> JSONValue {
        switch peek() {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "N"), UInt8(ascii: "I"):
            return .number(try parseNumber())
        default:
            throw error(at: pos, "expected a JSON value, found \(found(pos))")
        }
    }

    private mutating func literal(_ word: StaticString) throws(HFModelError) {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        for k in 0..<n where pos + k >= count || base[pos + k] != w[k] {
            throw error(at: pos, "expected a JSON value, found \(found(pos))")
        }
        pos += n
    }

    // MARK: numbers

    private mutating func parseNumber() throws(HFModelError) -> JSONNumber {
        let start = pos
        if peek() == UInt8(ascii: "-") { pos += 1 }
        if peek() == UInt8(ascii: "I") || (peek() == UInt8(ascii: "N") && pos == start) {
            let word: StaticString = peek() == UInt8(ascii: "I") ? "Infinity" : "NaN"
            try literal(word)
            return JSONNumber(text: text(start, pos), isInteger: false)
        }
        guard let first = digit() else { throw error(at: pos, "expected a digit, found \(found(pos))") }
        pos += 1
        if first != 0 {
            while digit() != nil { pos += 1 }
        } else if digit() != nil {
            throw error(at: pos, "expected '.', 'e' or the end of the number after a leading 0, found \(found(pos))")
        }
        var integer = true
        if peek() == UInt8(ascii: ".") {
            integer = false
            pos += 1
            guard digit() != nil else { throw error(at: pos, "expected a digit after '.', found \(found(pos))") }
            while digit() != nil { pos += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            integer = false
            pos += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { pos += 1 }
            guard digit() != nil else { throw error(at: pos, "expected a digit in the exponent, found \(found(pos))") }
            while digit() != nil { pos += 1 }
        }
        return JSONNumber(text: text(start, pos), isInteger: integer)
    }

    private func digit() -> Int? {
        let c = peek()
        return c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") ? Int(c) - 48 : nil
    }

    private func text(_ from: Int, _ to: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base + from, count: to - from), as: UTF8.self)
    }

    // MARK: helpers

    /// The byte at the cursor, or 0 at end of input (0 is never valid JSON outside a string).
    @inline(__always) func peek() -> UInt8 { pos < count ? base[pos] : 0 }

    @inline(__always) mutating func skipSpace() {
        while pos < count {
            let c = base[pos]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
        }
    }

    /// "'x'", "end of file", or "byte 0xNN" for what is at `offset`.
    func found(_ offset: Int) -> String {
        guard offset < count else { return "end of file" }
        let c = base[offset]
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        if c < 0x20 { return "control character 0x\(String(c, radix: 16, uppercase: true))" }
        return "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    /// "line L, column C" for a byte offset (columns count Unicode scalars, 1-based).
    func location(_ offset: Int) -> String {
        var line = 1, column = 1
        var i = 0
        let end = min(offset, count)
        while i < end {
            let c = base[i]
            if c == 0x0A {
                line += 1
                column = 1
            } else if (c & 0xC0) != 0x80 {
                column += 1
            }
            i += 1
        }
        return "line \(line), column \(column)"
    }

    func error(at offset: Int, _ message: String) -> HFModelError {
        HFModelError(.malformedJSON, file: file, "\(location(offset)): \(message)")
    }
}
