import GGUF

/// An importance matrix in the GGUF form llama-imatrix writes by default since the format change
/// (b10572 `save_imatrix`, read by common's `common_imatrix_load`): raw sums, not means.
///
/// The file: metadata `general.type` = "imatrix", `imatrix.datasets` (string array),
/// `imatrix.chunk_count` and `imatrix.chunk_size` (UINT32), in that order; then per tensor name,
/// in byte order of the names, two F32 tensors: `NAME.in_sum2`, the sum over every token of the
/// squared activation of each input column (shape `[columns, matrices]`, written with trailing
/// ones dropped, so `[columns]` for a dense matrix) and `NAME.counts`, the tokens summed per matrix
/// (shape `[1, matrices]`, so `[1]` for a dense matrix; one count per expert for a merged-expert tensor).
public struct ImportanceStatistics: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var name: String
        /// Σx² per column, matrix after matrix (`columns · counts.count` values).
        public var sums: [Float]
        /// Tokens accumulated per matrix (stored as f32, read back rounded to the nearest integer).
        public var counts: [Int64]

        public init(name: String, sums: [Float], counts: [Int64]) {
            self.name = name
            self.sums = sums
            self.counts = counts
        }

        /// Columns per matrix.
        public var columns: Int { counts.isEmpty ? 0 : sums.count / counts.count }
    }

    public static let typeValue = "imatrix"
    public static let datasetsKey = "imatrix.datasets"
    public static let chunkCountKey = "imatrix.chunk_count"
    public static let chunkSizeKey = "imatrix.chunk_size"
    public static let sumsSuffix = ".in_sum2"
    public static let countsSuffix = ".counts"

    /// Entries in byte order of their names (the order of the file).
    public private(set) var entries: [Entry]
    public var datasets: [String]
    public var chunkCount: UInt32
    public var chunkSize: UInt32

    /// - Parameter entries: any order; kept sorted by name bytes, as llama-imatrix writes them.
    public init(entries: [Entry], datasets: [String], chunkCount: UInt32, chunkSize: UInt32) {
        self.entries = entries.sorted { Self.byteOrder($0.name, $1.name) }
        self.datasets = datasets
        self.chunkCount = chunkCount
        self.chunkSize = chunkSize
    }

    /// std::string's `<`: bytewise.
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    public func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    /// Whether the bytes start with the GGUF magic (llama.cpp tries GGUF first, then the legacy format).
    public static func isGGUF(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes.prefix(4).elementsEqual(GGUFLimits.magic)
    }

    // MARK: Reading

    /// Reads and validates a GGUF imatrix.
    /// - Throws: `QuantizeError` naming the file and, for a bad entry, its tensor.
    public init(path: String) throws(QuantizeError) {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw QuantizeError(error.description) }
        try self.init(file: file)
    }

    public init(file: GGUFFile) throws(QuantizeError) {
        let path = file.path
        func fail(_ why: String) -> QuantizeError { QuantizeError("\(path): \(why)") }
        guard !file.tensors.isEmpty else { throw fail("no data: the GGUF imatrix has no tensors") }
        let md = file.metadata
        // llama-quantize refuses a GGUF imatrix without the three imatrix.* keys.
        for key in [Self.datasetsKey, Self.chunkCountKey, Self.chunkSizeKey] where md[key] == nil {
            throw fail("missing imatrix metadata: no '\(key)' key (not an imatrix file?)")
        }
        var datasets: [String] = []
        if case .array(.string(let names))? = md[Self.datasetsKey] { datasets = names }
        func u32(_ key: String) throws(QuantizeError) -> UInt32 {
            guard case .uint32(let v)? = md[key] else {
                throw fail("'\(key)' is \(md[key]?.type.description ?? "absent"), expected UINT32")
            }
            return v
        }
        let chunkCount = try u32(Self.chunkCountKey)
        let chunkSize = try u32(Self.chunkSizeKey)

        // Pair NAME.in_sum2 with NAME.counts; other tensors are ignored, as llama.cpp does.
        var sums: [String: GGUFTensorInfo] = [:]
        var counts: [String: GGUFTensorInfo] = [:]
        for t in file.tensors {
            if t.name.hasSuffix(Self.sumsSuffix) {
                sums[String(t.name.dropLast(Self.sumsSuffix.count))] = t
            } else if t.name.hasSuffix(Self.countsSuffix) {
                counts[String(t.name.dropLast(Self.countsSuffix.count))] = t
            }
        }
        let names = Set(sums.keys).union(counts.keys).sorted { Self.byteOrder($0, $1) }
        var entries: [Entry] = []
        entries.reserveCapacity(names.count)
        for name in names {
            guard let s = sums[name] else {
                throw fail("tensor '\(name)\(Self.countsSuffix)' has no '\(name)\(Self.sumsSuffix)' (mismatched sums and counts for '\(name)')")
            }
            guard let c = counts[name] else {
                throw fail("tensor '\(name)\(Self.sumsSuffix)' has no '\(name)\(Self.countsSuffix)' (mismatched sums and counts for '\(name)')")
            }
            for t in [s, c] where t.type != .f32 {
                throw fail("tensor '\(t.name)' is \(t.type.name), expected F32")
            }
            let sumData = file.data(s), countData = file.data(c)
            let nval = s.elementCount, ncounts = c.elementCount
            guard sumData.count == nval * 4, countData.count == ncounts * 4 else {
                throw fail("the data of '\(name)' lies outside the file (truncated?)")
            }
            guard ncounts >= 1, nval >= 1, nval % ncounts == 0 else {
                throw fail("'\(s.name)' has \(nval) values for \(ncounts) counts in '\(c.name)': "
                           + "expected a whole number of columns per count")
            }
            var v = [Float](repeating: 0, count: nval)
            for i in 0..<nval {
                let x = Float(bitPattern: UInt32(littleEndian: sumData.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                guard x.isFinite else { throw fail("value \(i) of '\(s.name)' is \(x): the imatrix contains non-finite values") }
                v[i] = x
            }
            var n = [Int64](repeating: 0, count: ncounts)
            for j in 0..<ncounts {
                let x = Float(bitPattern: UInt32(littleEndian: countData.loadUnaligned(fromByteOffset: j * 4, as: UInt32.self)))
                // llama.cpp rounds half away from zero (lround).
                guard x.isFinite, x >= 0, x < 9.0e18 else {
                    throw fail("count \(j) of '\(c.name)' is \(x), expected a token count (0 or more)")
                }
                n[j] = Int64(x.rounded(.toNearestOrAwayFromZero))
            }
            entries.append(Entry(name: name, sums: v, counts: n))
        }
        self.init(entries: entries, datasets: datasets, chunkCount: chunkCount, chunkSize: chunkSize)
    }

    // MARK: Writing

    /// The metadata and tensor layout of the file.
    public var layout: (metadata: GGUFMetadata, tensors: [GGUFTensorInfo]) {
        var md = GGUFMetadata()
        md.set(GGUFKey.General.type, .string(Self.typeValue))
        md.set(Self.datasetsKey, .array(.string(datasets)))
        md.set(Self.chunkCountKey, .uint32(chunkCount))
        md.set(Self.chunkSizeKey, .uint32(chunkSize))
        var tensors: [GGUFTensorInfo] = []
        for e in entries where !e.sums.isEmpty && !e.counts.isEmpty {
            let m = e.counts.count
            // ggml writes as many dimensions as up to the last one that is not 1.
            tensors.append(GGUFTensorInfo(name: e.name + Self.sumsSuffix, shape: m > 1 ? [e.sums.count / m, m] : [e.sums.count], type: .f32))
            tensors.append(GGUFTensorInfo(name: e.name + Self.countsSuffix, shape: m > 1 ? [1, m] : [1], type: .f32))
        }
        return (md, tensors)
    }

    /// Writes the file atomically (nothing appears on failure).
    public func write(to path: String, replace: Bool) throws(GGUFError) {
        for e in entries where !e.counts.isEmpty && e.sums.count % e.counts.count != 0 {
            throw GGUFError(.usage, file: path, "imatrix entry '\(e.name)': \(e.sums.count) sums for \(e.counts.count) counts")
        }
        let (md, tensors) = layout
        let w = try GGUFWriter(path: path, metadata: md, tensors: tensors)
        func put(_ words: [UInt32]) -> GGUFError? {
            words.withUnsafeBytes { b -> GGUFError? in
                do throws(GGUFError) { try w.writeTensor(b) } catch { return error }
                return nil
            }
        }
        for e in entries where !e.sums.isEmpty && !e.counts.isEmpty {
            let failure = put(e.sums.map { $0.bitPattern.littleEndian }) ?? put(e.counts.map { Float($0).bitPattern.littleEndian })
            if let failure {
                w.abort()
                throw failure
            }
        }
        try w.finish(replace: replace)
    }

    // MARK: Use

    /// Per-column importances as llama-quantize derives them: each matrix's sums divided by its
    /// token count (f32), 1 for a matrix that saw no token; then the `--exclude-weights` /
    /// `--include-weights` substring filters.
    public func importances(include: [String] = [], exclude: [String] = []) -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for e in entries {
            if exclude.contains(where: { e.name.contains($0) }) { continue }
            if !include.isEmpty && !include.contains(where: { e.name.contains($0) }) { continue }
            let m = e.counts.count
            guard m > 0 else { continue }
            let columns = e.sums.count / m
            var v = [Float](repeating: 1, count: e.sums.count)
            for j in 0..<m {
                let count = Float(e.counts[j])
                guard count > 0 else { continue }
                for i in 0..<columns { v[j * columns + i] = e.sums[j * columns + i] / count }
            }
            out[e.name] = v
        }
        return out
    }

    /// The `quantize.imatrix.*` keys llama-quantize appends: the file as given, the first dataset,
    /// the entry count after the filters and the chunk count (integers as UINT32; strings cut to
    /// 127 bytes).
    public func metadata(fileArgument: String, entryCount: Int) -> [GGUFKeyValue] {
        func cut(_ s: String) -> String {
            var b = Array(s.utf8.prefix(127))
            while !b.isEmpty, String(validating: b, as: UTF8.self) == nil { b.removeLast() }
            return String(decoding: b, as: UTF8.self)
        }
        var out = [GGUFKeyValue(GGUFKey.Quantize.imatrixFile, .string(cut(fileArgument)))]
        // The first dataset, even an empty one (b10572 tests the list, not the name).
        if let first = datasets.first { out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixDataset, .string(cut(first)))) }
        out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixEntriesCount, .uint32(UInt32(truncatingIfNeeded: entryCount.magnitude))))
        let chunks = Int32(truncatingIfNeeded: chunkCount)
        if chunks > 0 { out.append(GGUFKeyValue(GGUFKey.Quantize.imatrixChunksCount, .uint32(chunks.magnitude))) }
        return out
    }

    // MARK: Conversion and merging (llama-imatrix --in-file)

    /// The legacy file llama-imatrix writes with `--output-format dat` (b10572 `save_imatrix_legacy`):
    /// entries with no token at all are left out; per entry `ncall` = ⌈largest count / chunk size⌉
    /// and values `(sum / count) · ncall` (1 for a matrix without tokens); the chunk count; the
    /// dataset (`dataset`, else the last of `datasets`).
    public func legacy(chunkSize: Int, dataset: String?) -> ImportanceMatrix {
        let size = Int64(max(1, chunkSize))
        var out: [ImportanceMatrix.Entry] = []
        for e in entries where !e.counts.isEmpty && e.counts.contains(where: { $0 != 0 }) {
            let most = e.counts.max() ?? 0
            let ncall = Int32(truncatingIfNeeded: (most + (size - 1)) / size)
            let perMatrix = max(1, e.sums.count / e.counts.count)
            var values = [Float](repeating: 0, count: e.sums.count)
            for i in 0..<values.count {
                var count = Float(e.counts[min(i / perMatrix, e.counts.count - 1)])
                var value = e.sums[i]
                if count == 0 {
                    value = 1
                    count = 1
                }
                values[i] = (value / count) * Float(ncall)
            }
            out.append(.init(name: e.name, callCount: ncall, values: values))
        }
        let name = dataset.flatMap { $0.isEmpty ? nil : $0 } ?? datasets.last ?? ""
        return ImportanceMatrix(entries: out, chunkCount: Int32(truncatingIfNeeded: chunkCount), dataset: name)
    }

    /// An empty accumulator for merging (`chunkSize`: llama-imatrix's `-c`).
    public static func empty(chunkSize: Int) -> ImportanceStatistics {
        ImportanceStatistics(entries: [], datasets: [], chunkCount: 0, chunkSize: UInt32(truncatingIfNeeded: chunkSize))
    }

    /// Adds a GGUF imatrix (llama-imatrix `load_imatrix`): sums and counts add up, a single count
    /// spreads over the other's experts, datasets are appended, and the chunk count becomes the
    /// largest count over the chunk size.
    /// - Throws: `QuantizeError` naming `file` and the entry whose sizes differ.
    public mutating func merge(_ other: ImportanceStatistics, file: String) throws(QuantizeError) {
        var index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
        for o in other.entries {
            guard let i = index[o.name] else {
                entries.append(o)
                index[o.name] = entries.count - 1
                continue
            }
            var e = entries[i]
            guard e.sums.count == o.sums.count else {
                throw QuantizeError("\(file): entry '\(o.name)' has \(o.sums.count) sums, the matrices before it \(e.sums.count) (mismatched sums size)")
            }
            if e.counts.count == 1 && o.counts.count > 1 {
                e.counts = [Int64](repeating: e.counts[0], count: o.counts.count)
            } else if e.counts.count != o.counts.count {
                throw QuantizeError("\(file): entry '\(o.name)' has \(o.counts.count) counts, the matrices before it \(e.counts.count) (mismatched counts size)")
            }
            for j in 0..<e.sums.count { e.sums[j] += o.sums[j] }
            for j in 0..<e.counts.count { e.counts[j] += o.counts[j] }
            entries[i] = e
        }
        entries.sort { Self.byteOrder($0.name, $1.name) }
        datasets += other.datasets
        updateChunkCount()
    }

    /// Adds a legacy imatrix (llama-imatrix `load_imatrix`): its values times the chunk size are
    /// taken as sums and `ncall` times the chunk size as the count of every matrix of the entry.
    public mutating func merge(_ other: ImportanceMatrix, file: String) throws(QuantizeError) {
        let size = Int64(chunkSize)
        var index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
        for o in other.entries {
            let i: Int
            if let existing = index[o.name] {
                i = existing
            } else {
                entries.append(Entry(name: o.name, sums: [Float](repeating: 0, count: o.values.count), counts: [0]))
                i = entries.count - 1
                index[o.name] = i
            }
            var e = entries[i]
            guard e.sums.count == o.values.count else {
                throw QuantizeError("\(file): entry '\(o.name)' has \(o.values.count) values, the matrices before it \(e.sums.count) (mismatched sums size)")
            }
            let scale = Float(Int32(truncatingIfNeeded: size))
            for j in 0..<e.sums.count { e.sums[j] += o.values[j] * scale }
            for j in 0..<e.counts.count { e.counts[j] += Int64(o.callCount) * size }
            entries[i] = e
        }
        entries.sort { Self.byteOrder($0.name, $1.name) }
        if let d = other.dataset, !d.isEmpty { datasets.append(d) }
        updateChunkCount()
    }

    /// llama-imatrix's `m_last_chunk` after loading: the largest count over the chunk size.
    mutating func updateChunkCount() {
        let most = entries.lazy.flatMap(\.counts).max() ?? 0
        chunkCount = chunkSize > 0 ? UInt32(truncatingIfNeeded: most / Int64(chunkSize)) : 0
    }
}

/// An importance matrix file of either format, told apart by the GGUF magic.
public enum ImportanceMatrixFile: Equatable, Sendable {
    case legacy(ImportanceMatrix)
    case gguf(ImportanceStatistics)

    /// Reads `path` (GGUF when it starts with the GGUF magic, else the legacy format).
    /// - Throws: `QuantizeError` naming the file.
    public init(path: String) throws(QuantizeError) {
        let map: MappedFile
        do { map = try MappedFile(path: path) } catch { throw QuantizeError(error.description) }
        if ImportanceStatistics.isGGUF(map.bytes) {
            let file: GGUFFile
            do { file = try GGUFFile(mapping: map) } catch { throw QuantizeError(error.description) }
            self = .gguf(try ImportanceStatistics(file: file))
        } else {
            self = .legacy(try ImportanceMatrix(bytes: map.bytes, file: path))
        }
    }

    public var isLegacy: Bool {
        if case .legacy = self { return true }
        return false
    }

    public var entryCount: Int {
        switch self {
        case .legacy(let m): return m.entries.count
        case .gguf(let s): return s.entries.count
        }
    }

    public var entryNames: [String] {
        switch self {
        case .legacy(let m): return m.entries.map(\.name)
        case .gguf(let s): return s.entries.map(\.name)
        }
    }

    /// The datasets llama-quantize lists (a legacy file's name when it has one).
    public var datasets: [String] {
        switch self {
        case .legacy(let m): return m.dataset.flatMap { $0.isEmpty ? nil : [$0] } ?? []
        case .gguf(let s): return s.datasets
        }
    }

    /// The chunk count llama-quantize reports (0 when a legacy file has none).
    public var chunkCount: Int32 {
        switch self {
        case .legacy(let m): return m.chunkCount ?? 0
        case .gguf(let s): return Int32(truncatingIfNeeded: s.chunkCount)
        }
    }

    public func importances(include: [String] = [], exclude: [String] = []) -> [String: [Float]] {
        switch self {
        case .legacy(let m): return m.importances(include: include, exclude: exclude)
        case .gguf(let s): return s.importances(include: include, exclude: exclude)
        }
    }

    public func metadata(fileArgument: String, entryCount: Int) -> [GGUFKeyValue] {
        switch self {
        case .legacy(let m): return m.metadata(fileArgument: fileArgument, entryCount: entryCount)
        case .gguf(let s): return s.metadata(fileArgument: fileArgument, entryCount: entryCount)
        }
    }

    /// The raw sums and counts (llama-imatrix `load_imatrix` into an empty collector).
    public func statistics(chunkSize: Int, file: String) throws(QuantizeError) -> ImportanceStatistics {
        var s = ImportanceStatistics.empty(chunkSize: chunkSize)
        switch self {
        case .legacy(let m): try s.merge(m, file: file)
        case .gguf(let g): try s.merge(g, file: file)
        }
        return s
    }
}
