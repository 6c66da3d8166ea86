// JSON string literals: escapes, surrogate pairs and UTF-8 validation.

extension JSONScanner {
    /// Parses a string literal; the cursor is at the opening quote.
    mutating func parseString() throws(HFModelError) -> String {
        let open = pos
        pos += 1
        let start = pos
        // Fast path: no escapes, the common case for vocabularies and keys.
        while pos < count {
            let c = base[pos]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
            pos += 1
        }
        if pos < count && base[pos] == UInt8(ascii: "\"") {
            try validateUTF8(start, pos)
            let s = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
            pos += 1
            return s
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(pos - start + 16)
        var segment = start
        while true {
            guard pos < count else { throw error(at: open, "expected '\"' to end the string that starts here, found end of file") }
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                try flush(&bytes, segment, pos)
                pos += 1
                return String(decoding: bytes, as: UTF8.self)
            } else if c == UInt8(ascii: "\\") {
                try flush(&bytes, segment, pos)
                try parseEscape(into: &bytes)
                segment = pos
            } else if c < 0x20 {
                throw error(at: pos, "expected a string character, found \(found(pos)) (control characters must be escaped)")
            } else {
                pos += 1
            }
        }
    }

    private func flush(_ bytes: inout [UInt8], _ from: Int, _ to: Int) throws(HFModelError) {
        guard to > from else { return }
        try validateUTF8(from, to)
        bytes.append(contentsOf: UnsafeBufferPointer(start: base + from, count: to - from))
    }

    /// Decodes one escape sequence (the cursor is at the backslash) and appends its UTF-8.
    private mutating func parseEscape(into bytes: inout [UInt8]) throws(HFModelError) {
        let at = pos
        pos += 1
        let c = peek()
        pos += 1
        switch c {
        case UInt8(ascii: "\""): bytes.append(0x22)
        case UInt8(ascii: "\\"): bytes.append(0x5C)
        case UInt8(ascii: "/"): bytes.append(0x2F)
        case UInt8(ascii: "b"): bytes.append(0x08)
        case UInt8(ascii: "f"): bytes.append(0x0C)
        case UInt8(ascii: "n"): bytes.append(0x0A)
        case UInt8(ascii: "r"): bytes.append(0x0D)
        case UInt8(ascii: "t"): bytes.append(0x09)
        case UInt8(ascii: "u"):
            var value = try hex4()
            if (0xD800..<0xDC00).contains(value) {
                // A high surrogate must be followed by \u and a low surrogate.
                if pos + 1 < count, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u") {
                    let save = pos
                    pos += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                        value = 0xFFFD
                    }
                } else {
                    value = 0xFFFD
                }
            } else if (0xDC00..<0xE000).contains(value) {
                value = 0xFFFD
            }
            appendUTF8(UInt32(value), to: &bytes)
        default:
            throw error(at: at, "expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX, found \(found(at + 1)) after '\\'")
        }
    }

    private mutating func hex4() throws(HFModelError) -> Int {
        var v = 0
        for _ in 0..<4 {
            let c = peek()
            let d: Int
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = Int(c) - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = Int(c) - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = Int(c) - 55
            default: throw error(at: pos, "expected 4 hexadecimal digits after '\\u', found \(found(pos))")
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }

    private func appendUTF8(_ v: UInt32, to bytes: inout [UInt8]) {
        let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
        bytes.append(contentsOf: UTF8.encode(scalar)!)
    }

    /// Throws at the first byte of `from..<to` that does not continue valid UTF-8.
    func validateUTF8(_ from: Int, _ to: Int) throws(HFModelError) {
        if let bad = firstInvalidUTF8(base, from, to) {
            throw error(at: bad, "expected UTF-8 text, found invalid byte 0x\(String(base[bad], radix: 16, uppercase: true))")
        }
    }
}

/// The offset of the first byte in `from..<to` that is not part of a well-formed UTF-8 sequence
/// (overlong forms, surrogates and values above U+10FFFF are ill-formed), or nil.
func firstInvalidUTF8(_ p: UnsafePointer<UInt8>, _ from: Int, _ to: Int) -> Int? {
    var i = from
    while i < to {
        let b = p[i]
        if b < 0x80 { i += 1; continue }
        let need: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch b {
        case 0xC2...0xDF: need = 1
        case 0xE0: need = 2; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: need = 2
        case 0xED: need = 2; hi = 0x9F
        case 0xF0: need = 3; lo = 0x90
        case 0xF1...0xF3: need = 3
        case 0xF4: need = 3; hi = 0x8F
        default: return i
        }
        guard i + need < to else { return i }
        let b1 = p[i + 1]
        if b1 < lo || b1 > hi { return i }
        var k = 2
        while k <= need {
            if (p[i + k] & 0xC0) != 0x80 { return i }
            k += 1
        }
        i += need + 1
    }
    return nil
}
