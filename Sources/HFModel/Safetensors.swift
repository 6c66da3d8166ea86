import GGUF

// The safetensors format: an unsigned 64-bit little-endian header length N, N bytes of JSON
// (`{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "__metadata__": {...}}`),
// then the data; offsets are relative to the first byte after the header.

/// The element types this reader converts. Other dtypes are recorded and refused on access.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    /// Bytes per element.
    public var byteSize: Int { self == .f32 ? 4 : 2 }

    /// The ggml type with the same element encoding.
    public var ggmlType: GGMLType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }

    /// Bytes per element of every dtype the safetensors format defines with a whole-byte size,
    /// used to check `data_offsets` against the shape for tensors we do not read.
    public static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
        "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4,
        "I64": 8, "U64": 8, "F64": 8, "C64": 8,
    ]
}

/// One tensor entry of a safetensors header.
public struct SafetensorsTensor: Sendable, Equatable {
    public let name: String
    /// The dtype string as written ("F32", "BF16", "I64", ...).
    public let dtypeName: String
    /// Shape in PyTorch order (outermost first), e.g. [vocab, hidden] for an embedding.
    public let shape: [Int]
    /// Full path of the file holding the data.
    public let file: String
    /// Byte range of the data in that file (absolute file offsets).
    public let byteRange: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// One .safetensors file, memory-mapped and validated.
public final class SafetensorsFile: Sendable {
    /// The 100 MB header cap of the safetensors library (`MAX_HEADER_SIZE`).
    public static let maxHeaderLength = 100_000_000

    public let path: String
    public let mapping: MappedFile
    /// Tensors sorted by name (UTF-8 byte order, as Python sorts str keys).
    public let tensors: [SafetensorsTensor]
    /// The `__metadata__` string map, when present.
    public let metadata: [String: String]
    /// File offset of the first data byte (8 + header length).
    public let dataOffset: Int

    /// Maps and validates `path`.
    ///
    /// Checked: the header length fits in the file and is at most `maxHeaderLength`; the header is
    /// a JSON object; every entry has a string `dtype`, a `shape` of non-negative integers and
    /// `data_offsets` `[begin, end]` with begin ≤ end ≤ data size; for dtypes of known width,
    /// end − begin equals the element count times the width; no two tensors' bytes overlap; no
    /// name appears twice. The dtype itself is only checked when the tensor is read.
    /// - Throws: `HFModelError` naming the file and tensor.
    public init(path: String) throws(HFModelError) {
        self.path = path
        guard fileExists(path) else { throw HFModelError(.missingFile, file: path, "file not found") }
        do { mapping = try MappedFile(path: path) } catch { throw HFModelError(.io, file: path, error.message) }
        let header = try SafetensorsFile.parseHeader(mapping.bytes, path: path)
        dataOffset = header.dataOffset
        tensors = header.tensors
        metadata = header.metadata
    }

    /// What `parseHeader` finds: the tensors (sorted by name, byte ranges as offsets into the
    /// buffer), the `__metadata__` strings and the offset of the first data byte.
    public struct Header: Sendable, Equatable {
        public var tensors: [SafetensorsTensor]
        public var metadata: [String: String]
        public var dataOffset: Int
    }

    /// Validates the header of a whole safetensors file held in `bytes` (`path` names it in
    /// messages and in each tensor's `file`). Performs every check listed under `init(path:)`.
    public static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws(HFModelError) -> Header {
        let size = bytes.count
        guard size >= 8 else {
            throw HFModelError(.truncated, file: path, "file is \(size) bytes, too short for the 8-byte header length")
        }
        let raw = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard raw <= UInt64(SafetensorsFile.maxHeaderLength) else {
            throw HFModelError(.limit, file: path, "header length \(raw) exceeds the limit of \(SafetensorsFile.maxHeaderLength) bytes")
        }
        let headerLength = Int(raw)
        guard 8 + headerLength <= size else {
            throw HFModelError(.truncated, file: path,
                               "header length \(headerLength) runs past the end of the file (\(size) bytes, \(size - 8) after the length)")
        }
        let dataOffset = 8 + headerLength
        let header: JSONValue
        do {
            header = try JSONParser.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<dataOffset]), file: path)
        } catch {
            throw HFModelError(.invalid, file: path, "header is not valid JSON: \(error.message)")
        }
        guard let object = header.object else {
            throw HFModelError(.invalid, file: path, "header is \(header.typeDescription), expected a JSON object")
        }
        if let dup = object.duplicateKeys.first {
            throw HFModelError(.duplicate, file: path, "tensor '\(dup)' appears twice in the header")
        }
        var meta: [String: String] = [:]
        var list: [SafetensorsTensor] = []
        for m in object.members {
            if m.key == "__metadata__" {
                for e in m.value.object?.members ?? [] { if let s = e.value.string { meta[e.key] = s } }
                continue
            }
            list.append(try SafetensorsFile.entry(m.key, m.value, path: path, dataOffset: dataOffset,
                                                  dataSize: size - dataOffset))
        }
        try SafetensorsFile.checkOverlaps(list, path: path, dataOffset: dataOffset)
        return Header(tensors: list.sorted { utf8Less($0.name, $1.name) }, metadata: meta, dataOffset: dataOffset)
    }

    private static func entry(_ name: String, _ v: JSONValue, path: String, dataOffset: Int,
                              dataSize: Int) throws(HFModelError) -> SafetensorsTensor {
        func fail(_ msg: String) -> HFModelError { HFModelError(.invalid, file: path, "tensor '\(name)' \(msg)") }
        guard let o = v.object else {
            throw fail("is \(v.typeDescription), expected an object with dtype, shape and data_offsets")
        }
        guard let dtype = o["dtype"]?.string else { throw fail("has no string 'dtype'") }
        guard let shapeValues = o["shape"]?.array else { throw fail("has no 'shape' list") }
        var shape: [Int] = []
        var count = 1
        for d in shapeValues {
            guard let n = d.int, n >= 0 else {
                throw fail("has shape \(JSONValue.array(shapeValues).serialized()), expected non-negative integers")
            }
            let (c, o) = count.multipliedReportingOverflow(by: n)
            guard !o else { throw fail("has shape \(JSONValue.array(shapeValues).serialized()) whose element count overflows") }
            count = c
            shape.append(n)
        }
        let offsetsText = o["data_offsets"]?.serialized() ?? "nothing"
        guard let offs = o["data_offsets"]?.array, offs.count == 2, let begin = offs[0].int, let end = offs[1].int,
              begin >= 0, begin <= end else {
            throw fail("has data_offsets \(offsetsText), expected [begin, end] with 0 <= begin <= end")
        }
        guard end <= dataSize else {
            throw fail("has data_offsets [\(begin), \(end)] past the end of the data (\(dataSize) bytes)")
        }
        if let width = SafetensorsDType.elementSizes[dtype] {
            let (expected, o) = count.multipliedReportingOverflow(by: width)
            guard !o, end - begin == expected else {
                throw fail("has \(end - begin) bytes at data_offsets [\(begin), \(end)], expected \(expected) "
                           + "(shape \(shape) of \(dtype), \(width) bytes each)")
            }
        }
        return SafetensorsTensor(name: name, dtypeName: dtype, shape: shape, file: path,
                                 byteRange: (dataOffset + begin)..<(dataOffset + end))
    }

    private static func checkOverlaps(_ list: [SafetensorsTensor], path: String, dataOffset: Int) throws(HFModelError) {
        let byStart = list.filter { !$0.byteRange.isEmpty }.sorted {
            $0.byteRange.lowerBound < $1.byteRange.lowerBound
        }
        for (a, b) in zip(byStart, byStart.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            func r(_ t: SafetensorsTensor) -> String {
                "[\(t.byteRange.lowerBound - dataOffset), \(t.byteRange.upperBound - dataOffset)]"
            }
            throw HFModelError(.invalid, file: path,
                               "tensor '\(b.name)' at data_offsets \(r(b)) overlaps tensor '\(a.name)' at \(r(a))")
        }
    }
}

/// Python's str ordering: code point order, which is UTF-8 byte order.
func utf8Less(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
