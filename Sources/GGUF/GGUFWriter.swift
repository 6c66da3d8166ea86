// GGUF v3 writer: header, metadata and tensor infos first, then tensor data streamed one tensor
// at a time, each padded to the alignment (the last one too), into an `AtomicOutputFile`.
// Layout as gguf-py's GGUFWriter and ggml's gguf_write: offsets are cumulative padded sizes.

/// Serializes GGUF header fields into a byte array (little-endian).
public struct GGUFEncoder {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    public mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(string s: String) {
        append(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    public mutating func append(value: GGUFValue) {
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let s): append(string: s)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float64(let v): append(v.bitPattern)
        case .array(let a):
            append(a.elementType.rawValue)
            append(UInt64(a.count))
            switch a {
            case .uint8(let x): bytes.append(contentsOf: x)
            case .int8(let x): x.forEach { append($0) }
            case .uint16(let x): x.forEach { append($0) }
            case .int16(let x): x.forEach { append($0) }
            case .uint32(let x): x.forEach { append($0) }
            case .int32(let x): x.forEach { append($0) }
            case .float32(let x): x.forEach { append($0.bitPattern) }
            case .bool(let x): x.forEach { append(UInt8($0 ? 1 : 0)) }
            case .string(let x): x.forEach { append(string: $0) }
            case .uint64(let x): x.forEach { append($0) }
            case .int64(let x): x.forEach { append($0) }
            case .float64(let x): x.forEach { append($0.bitPattern) }
            }
        }
    }

    public mutating func append(key: String, value: GGUFValue) {
        append(string: key)
        append(value.type.rawValue)
        append(value: value)
    }

    public mutating func pad(to alignment: Int) {
        let n = GGUFParser.pad(bytes.count, alignment) - bytes.count
        bytes.append(contentsOf: repeatElement(0, count: n))
    }
}

/// Writes one GGUF file. Usage: `init` (writes everything up to the data section), then for each
/// tensor in order `write(_:)` its bytes (in one or several pieces) and `endTensor()`, then
/// `finish(replace:)`. If the writer is dropped before `finish`, no output file appears.
public final class GGUFWriter {
    public let path: String
    public let alignment: Int
    public private(set) var tensors: [GGUFTensorInfo]
    private let out: AtomicOutputFile
    private var current = 0
    private var currentBytes = 0

    /// - Parameters:
    ///   - metadata: written in order. `general.alignment`, when present, must be a power-of-two UINT32.
    ///   - tensors: names, shapes (ggml order, written with as many dims as given) and types; offsets are computed.
    public init(path: String, metadata: GGUFMetadata, tensors: [GGUFTensorInfo]) throws(GGUFError) {
        self.path = path
        var align = GGUFLimits.defaultAlignment
        if let a = metadata[GGUFKey.General.alignment] {
            guard case .uint32(let v) = a, v != 0, v & (v - 1) == 0 else {
                throw GGUFError(.usage, file: path, "general.alignment must be a power-of-two UINT32")
            }
            align = Int(v)
        }
        alignment = align
        var seen = Set<UTF8Key>()
        var laidOut: [GGUFTensorInfo] = []
        var offset = 0
        for var t in tensors {
            guard seen.insert(UTF8Key(t.name)).inserted else { throw GGUFError(.usage, file: path, "duplicate tensor name '\(t.name)'") }
            guard t.name.utf8.count < GGUFLimits.maxNameLength else {
                throw GGUFError(.usage, file: path, "tensor name '\(t.name)' is longer than \(GGUFLimits.maxNameLength - 1) bytes")
            }
            guard t.shape.count <= GGUFLimits.maxDimensions, let n = t.type.byteCount(shape: t.shape) else {
                throw GGUFError(.usage, file: path, "tensor '\(t.name)' shape \(t.shape) does not fit type \(t.type)")
            }
            t.offset = offset
            offset = GGUFParser.pad(offset + n, align)
            laidOut.append(t)
        }
        self.tensors = laidOut

        var enc = GGUFEncoder()
        enc.append(contentsOf: GGUFLimits.magic)
        enc.append(UInt32(3))
        enc.append(UInt64(laidOut.count))
        enc.append(UInt64(metadata.count))
        for kv in metadata { enc.append(key: kv.key, value: kv.value) }
        for t in laidOut {
            enc.append(string: t.name)
            enc.append(UInt32(t.shape.count))
            for d in t.shape { enc.append(UInt64(d)) }
            enc.append(t.type.rawValue)
            enc.append(UInt64(t.offset))
        }
        enc.pad(to: align)
        out = try AtomicOutputFile(path: path)
        try out.write(enc.bytes)
    }

    /// The tensor whose bytes are expected next, or nil when all are written.
    public var nextTensor: GGUFTensorInfo? { current < tensors.count ? tensors[current] : nil }

    /// Appends bytes of the current tensor.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(GGUFError) {
        guard let t = nextTensor else { throw GGUFError(.usage, file: path, "more tensor data than tensors") }
        guard currentBytes + bytes.count <= t.byteCount else {
            throw GGUFError(.usage, file: path, "tensor '\(t.name)' given \(currentBytes + bytes.count) bytes, expected \(t.byteCount)")
        }
        try out.write(bytes)
        currentBytes += bytes.count
    }

    /// Completes the current tensor (checks its size, writes the padding).
    public func endTensor() throws(GGUFError) {
        guard let t = nextTensor else { throw GGUFError(.usage, file: path, "endTensor without a tensor") }
        guard currentBytes == t.byteCount else {
            throw GGUFError(.usage, file: path, "tensor '\(t.name)' given \(currentBytes) bytes, expected \(t.byteCount)")
        }
        try out.writeZeros(GGUFParser.pad(t.byteCount, alignment) - t.byteCount)
        current += 1
        currentBytes = 0
    }

    /// Writes a whole tensor: `write` + `endTensor`.
    public func writeTensor(_ bytes: UnsafeRawBufferPointer) throws(GGUFError) {
        try write(bytes)
        try endTensor()
    }

    /// Checks that every tensor was written and moves the file into place.
    public func finish(replace: Bool) throws(GGUFError) {
        guard current == tensors.count else {
            throw GGUFError(.usage, file: path, "only \(current) of \(tensors.count) tensors were written")
        }
        try out.commit(replace: replace)
    }

    /// Abandons the output (the temporary file is deleted).
    public func abort() { out.abort() }
}

extension GGUFEncoder {
    public mutating func append(contentsOf b: [UInt8]) { bytes.append(contentsOf: b) }
}
