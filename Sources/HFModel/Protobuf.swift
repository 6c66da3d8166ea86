// A minimal protocol-buffers wire-format reader (varints, fixed32/64, length-delimited fields),
// enough for sentencepiece's ModelProto. Every length is checked against the bytes that remain.

/// A protobuf wire type.
enum WireType: UInt64 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
}

/// A cursor over one protobuf message (a byte range of the file).
struct ProtobufReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    /// Absolute file offset of `bytes[0]`, for messages.
    let base: Int
    /// What is being read ("ModelProto.pieces[3]"), for messages.
    let context: String
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer, file: String, base: Int, context: String) {
        self.bytes = bytes
        self.file = file
        self.base = base
        self.context = context
    }

    var atEnd: Bool { offset >= bytes.count }

    func error(_ kind: HFModelError.Kind, at: Int, _ msg: String) -> HFModelError {
        HFModelError(kind, file: file, "\(msg) (in \(context), at offset \(base + at))")
    }

    mutating func varint() throws(HFModelError) -> UInt64 {
        let start = offset
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else {
                throw error(.truncated, at: start, "message ends inside a varint")
            }
            let b = bytes[offset]
            offset += 1
            guard shift < 64, !(shift == 63 && (b & 0x7E) != 0) else {
                throw error(.invalid, at: start, "varint is longer than 10 bytes")
            }
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    /// Reads a tag: (field number, wire type).
    mutating func tag() throws(HFModelError) -> (field: UInt64, wire: WireType) {
        let at = offset
        let t = try varint()
        guard let w = WireType(rawValue: t & 7) else {
            throw error(.invalid, at: at, "tag \(t) has wire type \(t & 7), expected 0, 1, 2 or 5")
        }
        guard t >> 3 != 0 else { throw error(.invalid, at: at, "tag has field number 0") }
        return (t >> 3, w)
    }

    mutating func fixed32() throws(HFModelError) -> UInt32 {
        try need(4, "a 4-byte value")
        let v = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        offset += 4
        return v
    }

    mutating func fixed64() throws(HFModelError) -> UInt64 {
        try need(8, "an 8-byte value")
        let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        offset += 8
        return v
    }

    /// A length-delimited payload; returns it with its absolute start offset.
    mutating func lengthDelimited() throws(HFModelError) -> (bytes: UnsafeRawBufferPointer, start: Int) {
        let at = offset
        let n = try varint()
        guard n <= UInt64(bytes.count - offset) else {
            throw error(.truncated, at: at, "length \(n) runs past the end of the message (\(bytes.count - offset) bytes remain)")
        }
        let start = offset
        offset += Int(n)
        return (UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), base + start)
    }

    private func need(_ n: Int, _ what: String) throws(HFModelError) {
        guard bytes.count - offset >= n else {
            throw error(.truncated, at: offset, "message ends inside \(what): need \(n) bytes, \(bytes.count - offset) remain")
        }
    }

    /// Skips a field of an unknown number.
    mutating func skip(_ wire: WireType) throws(HFModelError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup, .endGroup:
            throw error(.unsupported, at: offset, "group fields (wire types 3 and 4) are not supported")
        }
    }

    /// Throws unless `wire` is `expected` for the field called `name`.
    func expect(_ wire: WireType, _ expected: WireType, _ name: String, at: Int) throws(HFModelError) {
        guard wire == expected else {
            throw error(.invalid, at: at, "field '\(name)' has wire type \(wire.rawValue), expected \(expected.rawValue)")
        }
    }

    // Typed field readers (the tag has been read; `at` is its offset).

    mutating func string(_ wire: WireType, _ name: String, at: Int) throws(HFModelError) -> String {
        try expect(wire, .lengthDelimited, name, at: at)
        let (b, start) = try lengthDelimited()
        guard let p = b.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return "" }
        if let bad = firstInvalidUTF8(p, 0, b.count) {
            throw HFModelError(.invalid, file: file, "field '\(name)' is not valid UTF-8 (in \(context), at offset \(start + bad))")
        }
        return String(decoding: b, as: UTF8.self)
    }

    mutating func int32(_ wire: WireType, _ name: String, at: Int) throws(HFModelError) -> Int32 {
        try expect(wire, .varint, name, at: at)
        return Int32(truncatingIfNeeded: try varint())
    }

    mutating func bool(_ wire: WireType, _ name: String, at: Int) throws(HFModelError) -> Bool {
        try expect(wire, .varint, name, at: at)
        return try varint() != 0
    }

    mutating func float(_ wire: WireType, _ name: String, at: Int) throws(HFModelError) -> Float {
        try expect(wire, .fixed32, name, at: at)
        return Float(bitPattern: try fixed32())
    }
}
