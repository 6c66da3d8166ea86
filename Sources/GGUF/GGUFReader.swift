// GGUF v2/v3 reader over a memory map, validating like ggml's gguf.cpp `gguf_init_from_file_impl`
// and more: every length and offset is checked against the bytes that remain before it is used.

/// One tensor-info record.
public struct GGUFTensorInfo: Equatable, Sendable {
    public var name: String
    /// ggml shape, innermost (contiguous) dimension first, as many entries as stored (n_dims).
    public var shape: [Int]
    public var type: GGMLType
    /// Offset of the data relative to the start of the data section.
    public var offset: Int

    public init(name: String, shape: [Int], type: GGMLType, offset: Int = 0) {
        self.name = name
        self.shape = shape
        self.type = type
        self.offset = offset
    }

    /// ne[0]: elements per row.
    public var rowLength: Int { shape.first ?? 1 }
    public var elementCount: Int { shape.reduce(1, *) }
    /// Rows = product of ne[1...].
    public var rowCount: Int { shape.dropFirst().reduce(1, *) }
    /// Number of dimensions ggml would report (trailing 1s trimmed, at least 1).
    public var ggmlDimensionCount: Int {
        var n = shape.count
        while n > 1 && shape[n - 1] == 1 { n -= 1 }
        return max(n, 1)
    }
    /// Bytes of the data (0 if the shape is inconsistent with the type, which the reader rejects).
    public var byteCount: Int { type.byteCount(shape: shape) ?? 0 }
    /// Bytes of one row.
    public var rowSize: Int { type.rowSize(rowLength) ?? 0 }
}

/// Limits applied while reading (ggml's GGUF_MAX_* and GGML_MAX_* caps).
public enum GGUFLimits {
    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32
    public static let maxStringLength = 1 << 30
    public static let maxArrayCount = 1 << 30
    public static let maxDimensions = 4
    /// GGML_MAX_NAME: tensor names must be shorter than this.
    public static let maxNameLength = 64
}

/// A GGUF file opened for reading. Tensor data stays in the memory map; nothing is copied.
public final class GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: GGUFMetadata
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// File offset of the data section.
    public let dataOffset: Int
    public let mapping: MappedFile
    /// File offsets of the key-value records and tensor-info records (for dumps).
    public let keyOffsets: [Int]
    public let tensorInfoOffsets: [Int]
    private let tensorIndex: [UTF8Key: Int]
    /// A model split over several files (gguf-split): the files after this one, in order. Empty for
    /// a single file. See `GGUFFile.openModel(path:)` (GGUFSplit.swift).
    public let otherSplits: [GGUFFile]
    /// For a split model, the file holding each tensor (0 = this file, i = `otherSplits[i - 1]`).
    private let tensorSplit: [Int]
    /// Whether the F16/BF16 tensors hold the exact values of F32 ones (a model built in memory from
    /// a Hugging Face checkpoint keeps its bf16/f16 weights at their width): readers treat them as
    /// the F32 tensors of the file `hf2gguf --outtype f32` writes (`valueType(_:)`). False for
    /// every file read from disk.
    public let widensFloats: Bool

    /// Opens and validates `path`.
    /// - Throws: `GGUFError` naming the file, the offending key or tensor, and the offset.
    public convenience init(path: String) throws(GGUFError) {
        try self.init(mapping: MappedFile(path: path))
    }

    /// - Parameter widensFloats: see `widensFloats` (only for images built in memory).
    public init(mapping: MappedFile, widensFloats: Bool = false) throws(GGUFError) {
        self.widensFloats = widensFloats
        self.mapping = mapping
        self.path = mapping.path
        let parsed = try GGUFParser.parse(mapping.bytes, file: mapping.path)
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        keyOffsets = parsed.keyOffsets
        tensorInfoOffsets = parsed.tensorInfoOffsets
        var idx: [UTF8Key: Int] = [:]
        for (i, t) in parsed.tensors.enumerated() { idx[UTF8Key(t.name)] = i }
        tensorIndex = idx
        otherSplits = []
        tensorSplit = []
    }

    /// One view of a split model: the metadata of `first`, the tensors of all files in order.
    /// Each tensor keeps the offset inside its own file's data section; `data(_:)` and
    /// `release(_:)` read the right file. `tensorInfoOffsets` are offsets in each tensor's own file.
    /// - Throws: `GGUFError(.duplicate)` when two files hold a tensor of the same name.
    public init(first: GGUFFile, otherSplits: [GGUFFile]) throws(GGUFError) {
        mapping = first.mapping
        widensFloats = first.widensFloats
        path = first.path
        version = first.version
        metadata = first.metadata
        alignment = first.alignment
        dataOffset = first.dataOffset
        keyOffsets = first.keyOffsets
        var all = first.tensors, infoOffsets = first.tensorInfoOffsets
        var split = [Int](repeating: 0, count: first.tensors.count)
        var idx: [UTF8Key: Int] = [:]
        for (i, t) in first.tensors.enumerated() { idx[UTF8Key(t.name)] = i }
        for (k, f) in otherSplits.enumerated() {
            for (j, t) in f.tensors.enumerated() {
                guard idx[UTF8Key(t.name)] == nil else {
                    throw GGUFError(.duplicate, file: f.path, offset: f.tensorInfoOffsets[j],
                                    "tensor '\(t.name)' is also in an earlier file of the split model")
                }
                idx[UTF8Key(t.name)] = all.count
                all.append(t)
                infoOffsets.append(f.tensorInfoOffsets[j])
                split.append(k + 1)
            }
        }
        tensors = all
        tensorInfoOffsets = infoOffsets
        tensorIndex = idx
        tensorSplit = split
        self.otherSplits = otherSplits
    }

    /// The type a tensor stored as `type` stands for: F32 for F16/BF16 storage when the file
    /// `widensFloats`, else `type` itself.
    public func valueType(_ type: GGMLType) -> GGMLType {
        widensFloats && (type == .f16 || type == .bf16) ? .f32 : type
    }

    /// The file that holds tensor `t` (this one unless the model is split).
    public func file(holding t: GGUFTensorInfo) -> GGUFFile {
        guard !otherSplits.isEmpty, let i = tensorIndex[UTF8Key(t.name)], tensorSplit[i] > 0 else { return self }
        return otherSplits[tensorSplit[i] - 1]
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[UTF8Key(name)].map { tensors[$0] }
    }

    /// The bytes of a tensor (validated at open).
    public func data(_ t: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        if case let f = file(holding: t), f !== self { return f.data(t) }
        return mapping.slice(offset: dataOffset + t.offset, length: t.byteCount) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Drops the tensor's pages from the resident set.
    public func release(_ t: GGUFTensorInfo) {
        if case let f = file(holding: t), f !== self { return f.release(t) }
        mapping.release((dataOffset + t.offset)..<(dataOffset + t.offset + t.byteCount))
    }

    /// The architecture string, if present.
    public var architecture: String? { metadata[GGUFKey.General.architecture]?.stringValue }
}

/// The parsing itself, over any byte buffer (also used by tests and the fuzzer).
public enum GGUFParser {
    public struct Result {
        public var version: UInt32
        public var metadata: GGUFMetadata
        public var tensors: [GGUFTensorInfo]
        public var alignment: Int
        public var dataOffset: Int
        /// File offset of each key-value record and each tensor-info record.
        public var keyOffsets: [Int]
        public var tensorInfoOffsets: [Int]
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws(GGUFError) -> Result {
        var r = ByteReader(bytes, file: file)
        let magic = try r.readBytes(4, "the magic")
        guard Array(magic) == GGUFLimits.magic else {
            let shown = magic.map { (0x20..<0x7f).contains($0) ? String(UnicodeScalar($0)) : "?" }.joined()
            throw GGUFError(.notGGUF, file: file, offset: 0, "invalid magic '\(shown)', expected 'GGUF': not a GGUF file")
        }
        let version = try r.read(UInt32.self, "the version")
        if version & 0xFFFF == 0 && version != 0 {
            throw GGUFError(.notGGUF, file: file, offset: 4, "version \(version) looks byte-swapped: big-endian GGUF files are not supported")
        }
        guard version == 2 || version == 3 else {
            let why = version == 1 ? "GGUFv1 is no longer supported" : "only versions 2 and 3 are supported"
            throw GGUFError(.notGGUF, file: file, offset: 4, "unsupported GGUF version \(version): \(why)")
        }
        let tensorCountAt = r.offset
        let nTensors = try r.read(Int64.self, "the tensor count")
        let kvCountAt = r.offset
        let nKV = try r.read(Int64.self, "the key-value count")
        // Counts that cannot be right (more records than bytes left) are refused before the loops;
        // smaller counts run into the precise "file ends while reading ..." error of the record
        // that is cut short.
        guard nTensors >= 0, nTensors <= Int64(r.remaining) else {
            throw GGUFError(.invalid, file: file, offset: tensorCountAt,
                            "tensor count \(nTensors) is impossible for a file of \(bytes.count) bytes")
        }
        guard nKV >= 0, nKV <= Int64(r.remaining) else {
            throw GGUFError(.invalid, file: file, offset: kvCountAt,
                            "key-value count \(nKV) is impossible for a file of \(bytes.count) bytes")
        }

        var metadata = GGUFMetadata()
        var keyOffsets: [Int] = []
        var tensorInfoOffsets: [Int] = []
        for i in 0..<Int(nKV) {
            let keyAt = r.offset
            keyOffsets.append(keyAt)
            let key = try readString(&r, "key \(i)")
            guard !key.isEmpty else { throw GGUFError(.invalid, file: file, offset: keyAt, "key \(i) is empty") }
            guard !metadata.contains(key) else {
                throw GGUFError(.duplicate, file: file, offset: keyAt, "duplicate key '\(key)'")
            }
            let value = try readValue(&r, key: key)
            metadata.set(key, value)
        }

        var alignment = GGUFLimits.defaultAlignment
        if let a = metadata[GGUFKey.General.alignment] {
            guard case .uint32(let v) = a else {
                throw GGUFError(.invalid, file: file, "key '\(GGUFKey.General.alignment)' has type \(a.type), expected UINT32")
            }
            guard v != 0, v & (v - 1) == 0 else {
                throw GGUFError(.invalid, file: file, "alignment \(v) is not a power of 2")
            }
            alignment = Int(v)
        }

        var tensors: [GGUFTensorInfo] = []
        var seen: [UTF8Key: Int] = [:]
        for i in 0..<Int(nTensors) {
            let nameAt = r.offset
            tensorInfoOffsets.append(nameAt)
            let name = try readString(&r, "the name of tensor \(i)")
            guard name.utf8.count < GGUFLimits.maxNameLength else {
                throw GGUFError(.limit, file: file, offset: nameAt,
                                "tensor name '\(name.prefix(80))' is too long: \(name.utf8.count) bytes, at most \(GGUFLimits.maxNameLength - 1)")
            }
            if let j = seen[UTF8Key(name)] {
                throw GGUFError(.duplicate, file: file, offset: nameAt, "duplicate tensor name '\(name)' for tensors \(j) and \(i)")
            }
            seen[UTF8Key(name)] = i
            let dimsAt = r.offset
            let nDims = try r.read(UInt32.self, "the dimension count of tensor '\(name)'")
            guard nDims <= UInt32(GGUFLimits.maxDimensions) else {
                throw GGUFError(.limit, file: file, offset: dimsAt,
                                "tensor '\(name)' has \(nDims) dimensions, at most \(GGUFLimits.maxDimensions)")
            }
            var shape: [Int] = []
            // The product of the non-zero dimensions: a zero dimension must not hide an overflow of
            // the others (rows = ne[1]·ne[2]·ne[3] is used even when ne[0] is 0).
            var elements = 1
            for d in 0..<Int(nDims) {
                let at = r.offset
                let ne = try r.read(Int64.self, "dimension \(d) of tensor '\(name)'")
                guard ne >= 0 else {
                    throw GGUFError(.invalid, file: file, offset: at, "tensor '\(name)' dimension \(d) has \(ne) elements, expected >= 0")
                }
                let (m, o) = elements.multipliedReportingOverflow(by: Swift.max(Int(ne), 1))
                guard !o else {
                    throw GGUFError(.invalid, file: file, offset: at, "tensor '\(name)' has too many elements: shape \(shape + [Int(ne)]) overflows")
                }
                elements = m
                shape.append(Int(ne))
            }
            let typeAt = r.offset
            let rawType = try r.read(UInt32.self, "the type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw GGUFError(.invalid, file: file, offset: typeAt, "tensor '\(name)' has unknown ggml type \(Int32(bitPattern: rawType))")
            }
            let ne0 = shape.first ?? 1
            guard ne0 % type.blockSize == 0 else {
                throw GGUFError(.invalid, file: file, offset: typeAt,
                                "tensor '\(name)' of type \(type) has \(ne0) elements per row, not a multiple of the block size \(type.blockSize)")
            }
            guard type.byteCount(shape: shape) != nil else {
                throw GGUFError(.invalid, file: file, offset: dimsAt, "tensor '\(name)' byte size overflows for shape \(shape)")
            }
            let offAt = r.offset
            let off = try r.read(UInt64.self, "the data offset of tensor '\(name)'")
            guard off <= UInt64(Int.max) else {
                throw GGUFError(.invalid, file: file, offset: offAt, "tensor '\(name)' has offset \(off), beyond any file")
            }
            tensors.append(GGUFTensorInfo(name: name, shape: shape, type: type, offset: Int(off)))
        }

        let headerEnd = r.offset
        let dataOffset = pad(headerEnd, alignment)
        guard nTensors == 0 || dataOffset <= bytes.count else {
            throw GGUFError(.truncated, file: file, offset: headerEnd,
                            "file ends in the padding before the data section (data would start at \(dataOffset), file has \(bytes.count) bytes)")
        }
        // Offsets must be exactly the running padded sizes, as llama.cpp's loader requires.
        var expected = 0
        let dataBytes = bytes.count - min(dataOffset, bytes.count)
        for t in tensors {
            guard t.offset == expected else {
                throw GGUFError(.invalid, file: file, "tensor '\(t.name)' has offset \(t.offset), expected \(expected)")
            }
            let n = t.byteCount
            let (end, o) = t.offset.addingReportingOverflow(n)
            guard !o, end <= dataBytes else {
                throw GGUFError(.truncated, file: file, offset: dataOffset + t.offset,
                                "tensor '\(t.name)' needs \(n) bytes at data offset \(t.offset), only \(max(0, dataBytes - t.offset)) remain in the file")
            }
            expected = pad(end, alignment)
        }
        return Result(version: version, metadata: metadata, tensors: tensors, alignment: alignment, dataOffset: dataOffset,
                      keyOffsets: keyOffsets, tensorInfoOffsets: tensorInfoOffsets)
    }

    static func pad(_ x: Int, _ n: Int) -> Int { (x + n - 1) / n * n }

    static func readString(_ r: inout ByteReader, _ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let at = r.offset
        let n = try r.read(UInt64.self, "the length of \(what())")
        guard n <= UInt64(GGUFLimits.maxStringLength) else {
            throw GGUFError(.limit, file: r.file, offset: at, "\(what()) has length \(n), more than the 1 GiB limit")
        }
        guard Int(n) <= r.remaining else {
            throw GGUFError(.truncated, file: r.file, offset: at, "\(what()) has length \(n) but only \(r.remaining) bytes remain")
        }
        let raw = try r.readBytes(Int(n), what())
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw GGUFError(.invalid, file: r.file, offset: at + 8, "\(what()) is not valid UTF-8")
        }
        return s
    }

    static func readValue(_ r: inout ByteReader, key: String) throws(GGUFError) -> GGUFValue {
        let typeAt = r.offset
        let raw = try r.read(UInt32.self, "the type of key '\(key)'")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw GGUFError(.invalid, file: r.file, offset: typeAt, "key '\(key)' has invalid value type \(Int32(bitPattern: raw))")
        }
        if type == .array {
            let etAt = r.offset
            let rawET = try r.read(UInt32.self, "the element type of key '\(key)'")
            guard let et = GGUFValueType(rawValue: rawET) else {
                throw GGUFError(.invalid, file: r.file, offset: etAt, "array '\(key)' has invalid element type \(Int32(bitPattern: rawET))")
            }
            guard et != .array else {
                throw GGUFError(.invalid, file: r.file, offset: etAt, "array '\(key)' contains arrays: nested arrays are not supported")
            }
            let nAt = r.offset
            let n = try r.read(UInt64.self, "the length of array '\(key)'")
            guard n <= UInt64(GGUFLimits.maxArrayCount) else {
                throw GGUFError(.limit, file: r.file, offset: nAt, "array '\(key)' has \(n) elements, more than the limit of \(GGUFLimits.maxArrayCount)")
            }
            let count = Int(n)
            let minSize = et.fixedSize ?? 8
            guard count <= r.remaining / minSize else {
                throw GGUFError(.truncated, file: r.file, offset: nAt,
                                "array '\(key)' has \(count) elements of \(et) but only \(r.remaining) bytes remain")
            }
            return .array(try readArray(&r, key: key, type: et, count: count))
        }
        let what = "the value of key '\(key)'"
        switch type {
        case .uint8: return .uint8(try r.read(UInt8.self, what))
        case .int8: return .int8(try r.read(Int8.self, what))
        case .uint16: return .uint16(try r.read(UInt16.self, what))
        case .int16: return .int16(try r.read(Int16.self, what))
        case .uint32: return .uint32(try r.read(UInt32.self, what))
        case .int32: return .int32(try r.read(Int32.self, what))
        case .float32: return .float32(try r.readFloat(what))
        case .bool: return .bool(try r.read(UInt8.self, what) != 0)
        case .string: return .string(try readString(&r, what))
        case .uint64: return .uint64(try r.read(UInt64.self, what))
        case .int64: return .int64(try r.read(Int64.self, what))
        case .float64: return .float64(try r.readDouble(what))
        case .array:
            throw GGUFError(.invalid, file: r.file, offset: typeAt, "key '\(key)' has an array where a scalar was expected")
        }
    }

    static func readFixed<T: FixedWidthInteger>(_ r: inout ByteReader, _: T.Type, _ count: Int, key: String) throws(GGUFError) -> [T] {
        let raw = try r.readBytes(count * MemoryLayout<T>.size, "the elements of array '\(key)'")
        return (0..<count).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
    }

    static func readArray(_ r: inout ByteReader, key: String, type: GGUFValueType, count: Int) throws(GGUFError) -> GGUFArray {
        switch type {
        case .uint8: return .uint8(try readFixed(&r, UInt8.self, count, key: key))
        case .int8: return .int8(try readFixed(&r, Int8.self, count, key: key))
        case .uint16: return .uint16(try readFixed(&r, UInt16.self, count, key: key))
        case .int16: return .int16(try readFixed(&r, Int16.self, count, key: key))
        case .uint32: return .uint32(try readFixed(&r, UInt32.self, count, key: key))
        case .int32: return .int32(try readFixed(&r, Int32.self, count, key: key))
        case .float32: return .float32(try readFixed(&r, UInt32.self, count, key: key).map(Float.init(bitPattern:)))
        case .bool: return .bool(try readFixed(&r, UInt8.self, count, key: key).map { $0 != 0 })
        case .uint64: return .uint64(try readFixed(&r, UInt64.self, count, key: key))
        case .int64: return .int64(try readFixed(&r, Int64.self, count, key: key))
        case .float64: return .float64(try readFixed(&r, UInt64.self, count, key: key).map(Double.init(bitPattern:)))
        case .string:
            var out: [String] = []
            out.reserveCapacity(count)
            for i in 0..<count { out.append(try readString(&r, "element \(i) of array '\(key)'")) }
            return .string(out)
        case .array:
            throw GGUFError(.invalid, file: r.file, offset: r.offset, "array '\(key)' contains arrays: nested arrays are not supported")
        }
    }
}
