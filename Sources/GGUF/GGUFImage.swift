// A GGUF file built in memory: the bytes `GGUFWriter` would write (same header encoding, same
// tensor layout and padding), in anonymous memory instead of a file, then opened as a `GGUFFile`.
// The engine, the quantizer's planner and every other reader of `GGUFFile` take it as they take a
// file from disk. hf2gguf's one-pass AWQ and gguf-imatrix on a Hugging Face folder run the engine
// on the f32 conversion this way, without writing it.

/// Builds `GGUFFile`s in memory.
public enum GGUFImage {
    /// The tensor table as `GGUFWriter` lays it out: offsets are cumulative sizes, each padded to
    /// the alignment (`general.alignment` or 32). Returns the tensors with their offsets, the
    /// alignment and the size of the data section.
    /// - Throws: `GGUFError(.usage)` for what `GGUFWriter` refuses (bad alignment, duplicate or
    ///   too long names, shapes that do not fit their type).
    public static func layout(_ tensors: [GGUFTensorInfo], metadata: GGUFMetadata,
                              name: String) throws(GGUFError) -> (tensors: [GGUFTensorInfo], alignment: Int, dataBytes: Int) {
        var align = GGUFLimits.defaultAlignment
        if let a = metadata[GGUFKey.General.alignment] {
            guard case .uint32(let v) = a, v != 0, v & (v - 1) == 0 else {
                throw GGUFError(.usage, file: name, "general.alignment must be a power-of-two UINT32")
            }
            align = Int(v)
        }
        var seen = Set<UTF8Key>()
        var laidOut: [GGUFTensorInfo] = []
        laidOut.reserveCapacity(tensors.count)
        var offset = 0
        for var t in tensors {
            guard seen.insert(UTF8Key(t.name)).inserted else { throw GGUFError(.usage, file: name, "duplicate tensor name '\(t.name)'") }
            guard t.name.utf8.count < GGUFLimits.maxNameLength else {
                throw GGUFError(.usage, file: name, "tensor name '\(t.name)' is longer than \(GGUFLimits.maxNameLength - 1) bytes")
            }
            guard t.shape.count <= GGUFLimits.maxDimensions, let n = t.type.byteCount(shape: t.shape) else {
                throw GGUFError(.usage, file: name, "tensor '\(t.name)' shape \(t.shape) does not fit type \(t.type)")
            }
            t.offset = offset
            offset = GGUFParser.pad(offset + n, align)
            laidOut.append(t)
        }
        return (laidOut, align, offset)
    }

    /// The header bytes (magic, version 3, counts, metadata, tensor infos, padding to the
    /// alignment) of a file whose tensors were laid out by `layout`.
    public static func header(metadata: GGUFMetadata, tensors: [GGUFTensorInfo], alignment: Int) -> [UInt8] {
        var enc = GGUFEncoder()
        enc.append(contentsOf: GGUFLimits.magic)
        enc.append(UInt32(3))
        enc.append(UInt64(tensors.count))
        enc.append(UInt64(metadata.count))
        for kv in metadata { enc.append(key: kv.key, value: kv.value) }
        for t in tensors {
            enc.append(string: t.name)
            enc.append(UInt32(t.shape.count))
            for d in t.shape { enc.append(UInt64(d)) }
            enc.append(t.type.rawValue)
            enc.append(UInt64(t.offset))
        }
        enc.pad(to: alignment)
        return enc.bytes
    }

    /// The file `GGUFWriter(path:metadata:tensors:)` followed by each tensor's bytes would write,
    /// built in anonymous memory: `fill` is called once per tensor, in order, with the tensor (its
    /// offset set) and the `byteCount` bytes to fill (zeroed; padding stays zero). The result is
    /// read-only, reads as the file would, and is freed with the `GGUFFile`. `name` stands for the
    /// path in messages.
    /// `widensFloats` marks the F16/BF16 tensors as exact stand-ins for F32 ones
    /// (`GGUFFile.widensFloats`).
    /// - Throws: the `layout` errors, `GGUFError(.io)` when the memory cannot be had, what `fill`
    ///   throws, and the reader's errors (none for a well-formed table).
    public static func build(name: String, metadata: GGUFMetadata, tensors: [GGUFTensorInfo], widensFloats: Bool = false,
                             fill: (GGUFTensorInfo, UnsafeMutableRawBufferPointer) throws -> Void) throws -> GGUFFile {
        let (laidOut, alignment, dataBytes) = try layout(tensors, metadata: metadata, name: name)
        let head = header(metadata: metadata, tensors: laidOut, alignment: alignment)
        let (total, overflow) = head.count.addingReportingOverflow(dataBytes)
        guard !overflow else { throw GGUFError(.usage, file: name, "the model's size overflows") }
        let mapping = try MappedFile(anonymous: total, name: name) { bytes in
            guard let base = bytes.baseAddress else { return }
            head.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            for t in laidOut {
                try fill(t, UnsafeMutableRawBufferPointer(start: base + head.count + t.offset, count: t.byteCount))
            }
        }
        return try GGUFFile(mapping: mapping, widensFloats: widensFloats)
    }
}
