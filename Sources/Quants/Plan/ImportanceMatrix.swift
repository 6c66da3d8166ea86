import GGUF

/// An importance matrix in llama-imatrix's legacy binary format (b4748 `save_imatrix`, read by
/// llama-quantize's `load_imatrix`). All integers are 32-bit signed little-endian:
/// `n_entries`, then per entry `len`, name bytes, `ncall`, `nval`, `nval` f32 values
/// (= Σx² / count · ncall per column), then optionally `chunks` and the dataset name.
public struct ImportanceMatrix: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var callCount: Int32
        /// Stored values (sum of squares per column, divided by the column count, times `callCount`).
        public var values: [Float]

        public init(name: String, callCount: Int32, values: [Float]) {
            self.name = name
            self.callCount = callCount
            self.values = values
        }
    }

    public var entries: [Entry]
    /// The chunk count written after the entries (`m_last_call`), or nil for old files without it.
    public var chunkCount: Int32?
    public var dataset: String?

    public init(entries: [Entry], chunkCount: Int32?, dataset: String?) {
        self.entries = entries
        self.chunkCount = chunkCount
        self.dataset = dataset
    }

    /// Reads and validates a file.
    /// - Throws: `QuantizeError` naming the file, the entry and the byte offset of the problem.
    public init(path: String) throws(QuantizeError) {
        let map: MappedFile
        do { map = try MappedFile(path: path) } catch { throw QuantizeError(error.description) }
        try self.init(bytes: map.bytes, file: path)
    }

    /// The longest entry name read (ggml tensor names have at most 63 bytes).
    static let maxNameLength = 4096

    public init(bytes: UnsafeRawBufferPointer, file: String) throws(QuantizeError) {
        // Every field is an i32 (or f32) read through a bounds-checked cursor; every count is
        // checked against the bytes left before anything is allocated from it.
        var r = ByteReader(bytes, file: file)
        func fail(_ at: Int, _ what: String, _ why: String) -> QuantizeError {
            QuantizeError("\(file): \(what) at offset \(at) \(why)")
        }
        func i32(_ what: String) throws(QuantizeError) -> Int {
            let at = r.offset
            guard r.remaining >= 4 else {
                throw fail(at, what, "is cut off: the file has only \(bytes.count) bytes, expected at least \(at + 4)")
            }
            do { return Int(try r.read(Int32.self, what)) } catch { throw QuantizeError(error.description) }
        }
        let n = try i32("the entry count")
        // The smallest entry is 16 bytes: name length, (empty) name, ncall, nval... and one value.
        let most = (bytes.count - 4) / 16
        guard n >= 1, n <= most else {
            throw fail(0, "the entry count", "is \(n), expected "
                       + (most < 1 ? "at least 1, but a file of \(bytes.count) bytes has no room for an entry"
                          : "1 ... \(most) for a file of \(bytes.count) bytes")
                       + " (at least 16 bytes per entry): not an imatrix file?")
        }
        var entries: [Entry] = []
        var seen = Set<String>()
        for i in 0..<n {
            let at = r.offset
            let len = try i32("the name length of entry \(i)")
            guard len >= 0, len <= Self.maxNameLength, len <= r.remaining else {
                throw fail(at, "the name length of entry \(i)", "is \(len), expected 0 ... "
                           + "\(min(Self.maxNameLength, r.remaining)) (\(r.remaining) bytes remain): truncated or not an imatrix file")
            }
            let raw: UnsafeRawBufferPointer
            do { raw = try r.readBytes(len, "the name of entry \(i)") } catch { throw QuantizeError(error.description) }
            guard let name = String(validating: raw, as: UTF8.self) else {
                throw fail(at + 4, "the name of entry \(i)", "is not valid UTF-8")
            }
            let entry = "entry \(i) '\(name)'"
            let callAt = r.offset
            let ncall = try i32("the call count (ncall) of \(entry)")
            guard ncall >= 0 else { throw fail(callAt, "the call count (ncall) of \(entry)", "is \(ncall), expected at least 0") }
            let valsAt = r.offset
            let nval = try i32("the value count (nval) of \(entry)")
            guard nval >= 1, nval <= r.remaining / 4 else {
                throw fail(valsAt, "the value count (nval) of \(entry)", "is \(nval), expected 1 ... \(r.remaining / 4) "
                           + "(\(r.remaining) bytes remain for its f32 values)")
            }
            var values = [Float](repeating: 0, count: nval)
            for j in 0..<nval {
                let vAt = r.offset
                let v: Float
                do { v = try r.readFloat("value \(j) of \(entry)") } catch { throw QuantizeError(error.description) }
                guard v.isFinite else {
                    throw fail(vAt, "value \(j) of \(entry)", "is \(v): the imatrix contains non-finite values")
                }
                values[j] = v
            }
            guard seen.insert(name).inserted else { throw fail(at, entry, "repeats an earlier entry's name") }
            entries.append(Entry(name: name, callCount: Int32(ncall), values: values))
        }
        var chunks: Int32?
        var dataset: String?
        if r.remaining > 0 {
            let chunksAt = r.offset
            let c = try i32("the chunk count")
            guard c >= 0 else { throw fail(chunksAt, "the chunk count", "is \(c), expected at least 0") }
            let lenAt = r.offset
            let len = try i32("the dataset name length")
            guard len >= 0, len <= r.remaining else {
                throw fail(lenAt, "the dataset name length", "is \(len), expected 0 ... \(r.remaining) (the bytes that remain)")
            }
            let raw: UnsafeRawBufferPointer
            do { raw = try r.readBytes(len, "the dataset name") } catch { throw QuantizeError(error.description) }
            chunks = Int32(c)
            dataset = String(decoding: raw, as: UTF8.self)
        }
        self.init(entries: entries, chunkCount: chunks, dataset: dataset)
    }

    /// The file bytes (what `write` stores).
    public func serialized() -> [UInt8] {
        var e = GGUFEncoder()
        e.append(Int32(entries.count))
        for x in entries {
            e.append(Int32(x.name.utf8.count))
            e.append(contentsOf: Array(x.name.utf8))
            e.append(x.callCount)
            e.append(Int32(x.values.count))
            for v in x.values { e.append(v.bitPattern) }
        }
        if let c = chunkCount {
            e.append(c)
            let d = Array((dataset ?? "").utf8)
            e.append(Int32(d.count))
            e.append(contentsOf: d)
        }
        return e.bytes
    }

    /// Writes atomically (temporary file, then rename).
    public func write(to path: String, replace: Bool) throws(GGUFError) {
        let out = try AtomicOutputFile(path: path)
        try out.write(serialized())
        try out.commit(replace: replace)
    }

    /// Per-column importances as llama-quantize uses them (`values / ncall`), after its
    /// `--exclude-weights` / `--include-weights` substring filters.
    public func importances(include: [String] = [], exclude: [String] = []) -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for e in entries {
            if exclude.contains(where: { e.name.contains($0) }) { continue }
            if !include.isEmpty && !include.contains(where: { e.name.contains($0) }) { continue }
            out[e.name] = e.callCount > 0 ? e.values.map { $0 / Float(e.callCount) } : e.values
        }
        return out
    }

    /// The `quantize.imatrix.*` keys llama-quantize appends (strings cut to 127 bytes; counts are integer
    /// overrides, which b10572 writes as UINT32 of the magnitude: `(uint32_t)std::abs(val_i64)`).
    public func metadata(fileArgument: String, entryCount: Int) -> [GGUFKeyValue] {
        func cut(_ s: String) -> String {
            var b = Array(s.utf8.prefix(127))
            while !b.isEmpty, String(validating: b, as: UTF8.self) == nil { b.removeLast() }
            return String(decoding: b, as: UTF8.self)
        }
        var out = [GGUFKeyValue(GGUFKey.Quantize.imatrixFile, .string(cut(fileArgument)))]
        if let d = dataset, !d.isEmpty { out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixDataset, .string(cut(d)))) }
        out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixEntriesCount, .uint32(UInt32(truncatingIfNeeded: entryCount.magnitude))))
        if let c = chunkCount, c > 0 { out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixChunksCount, .uint32(c.magnitude))) }
        return out
    }
}
