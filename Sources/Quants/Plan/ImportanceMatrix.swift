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

    public init(bytes: UnsafeRawBufferPointer, file: String) throws(QuantizeError) {
        var r = ByteReader(bytes, file: file)
        func i32(_ what: String) throws(QuantizeError) -> Int32 {
            do { return try r.read(Int32.self, what) } catch { throw QuantizeError("\(error.description) (not an imatrix file?)") }
        }
        let n = try i32("the entry count")
        guard n >= 1, Int(n) <= bytes.count / 16 else {
            throw QuantizeError("\(file): entry count \(n) is impossible for a file of \(bytes.count) bytes: not an imatrix file")
        }
        var entries: [Entry] = []
        var seen = Set<String>()
        for i in 0..<Int(n) {
            let at = r.offset
            let len = try i32("the name length of entry \(i)")
            guard len >= 0, Int(len) <= r.remaining, len <= 4096 else {
                throw QuantizeError("\(file): entry \(i) has a name of \(len) bytes at offset \(at): truncated or not an imatrix file")
            }
            let raw: UnsafeRawBufferPointer
            do { raw = try r.readBytes(Int(len), "the name of entry \(i)") } catch { throw QuantizeError(error.description) }
            guard let name = String(validating: raw, as: UTF8.self) else {
                throw QuantizeError("\(file): the name of entry \(i) at offset \(at + 4) is not valid UTF-8")
            }
            let ncall = try i32("the call count of '\(name)'")
            let valsAt = r.offset
            let nval = try i32("the value count of '\(name)'")
            guard nval >= 1, Int(nval) <= r.remaining / 4 else {
                throw QuantizeError("\(file): entry '\(name)' has \(nval) values at offset \(valsAt), but \(r.remaining) bytes remain")
            }
            var values = [Float](repeating: 0, count: Int(nval))
            for j in 0..<Int(nval) {
                let v: Float
                do { v = try r.readFloat("value \(j) of '\(name)'") } catch { throw QuantizeError(error.description) }
                guard v.isFinite else {
                    throw QuantizeError("\(file): entry '\(name)' value \(j) is \(v): the imatrix contains non-finite values")
                }
                values[j] = v
            }
            guard seen.insert(name).inserted else { throw QuantizeError("\(file): entry '\(name)' appears twice") }
            entries.append(Entry(name: name, callCount: ncall, values: values))
        }
        var chunks: Int32?
        var dataset: String?
        if r.remaining > 0 {
            chunks = try i32("the chunk count")
            let len = try i32("the dataset name length")
            guard len >= 0, Int(len) <= r.remaining else {
                throw QuantizeError("\(file): dataset name of \(len) bytes at offset \(r.offset - 4), but \(r.remaining) bytes remain")
            }
            let raw: UnsafeRawBufferPointer
            do { raw = try r.readBytes(Int(len), "the dataset name") } catch { throw QuantizeError(error.description) }
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

    /// The `quantize.imatrix.*` keys llama-quantize b4748 appends (strings cut to 127 bytes, counts as INT32).
    public func metadata(fileArgument: String, entryCount: Int) -> [GGUFKeyValue] {
        func cut(_ s: String) -> String {
            var b = Array(s.utf8.prefix(127))
            while !b.isEmpty, String(validating: b, as: UTF8.self) == nil { b.removeLast() }
            return String(decoding: b, as: UTF8.self)
        }
        var out = [GGUFKeyValue(GGUFKey.Quantize.imatrixFile, .string(cut(fileArgument)))]
        if let d = dataset, !d.isEmpty { out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixDataset, .string(cut(d)))) }
        out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixEntriesCount, .int32(Int32(entryCount))))
        if let c = chunkCount, c > 0 { out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixChunksCount, .int32(c))) }
        return out
    }
}
