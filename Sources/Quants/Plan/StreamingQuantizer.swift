import GGUF

/// A quantizer input whose tensors are not stored anywhere: their f32 values are produced row by
/// row on demand (hf2gguf's one-pass mode reads them straight from the checkpoint). Every tensor
/// of `tensors` has type F32.
public protocol RowStreamingSource: ModelTensorTable {
    /// Writes the f32 values of rows `first ..< first + count` of tensor `t` (ggml order, `t.rowLength`
    /// values each) to `into`.
    func readRows(_ t: GGUFTensorInfo, first: Int, count: Int, into: UnsafeMutablePointer<Float>) throws
    /// Called once a tensor has been read completely (its source pages may go).
    func finished(_ t: GGUFTensorInfo)
}

/// Where tensor data goes, tensor after tensor in plan order: one `GGUFWriter`, or several (a
/// split output).
public protocol TensorDataSink: AnyObject {
    /// Appends bytes of the current tensor.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Completes the current tensor.
    func endTensor() throws
}

extension GGUFWriter: TensorDataSink {}

/// Several writers filled one after the other: each takes its own tensors, in order.
public final class SequentialWriters: TensorDataSink {
    public let writers: [GGUFWriter]
    private var index = 0

    public init(_ writers: [GGUFWriter]) { self.writers = writers }

    /// The writer of the current tensor (skipping writers that are complete).
    private func current() throws -> GGUFWriter {
        while index < writers.count && writers[index].nextTensor == nil { index += 1 }
        guard index < writers.count else {
            throw QuantizeError("more tensor data than the output files have tensors")
        }
        return writers[index]
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws { try current().write(bytes) }
    public func endTensor() throws { try current().endTensor() }

    /// Moves every file into place (each was written completely).
    public func finish(replace: Bool) throws {
        for w in writers { try w.finish(replace: replace) }
    }

    /// Abandons every file.
    public func abort() {
        for w in writers { w.abort() }
    }
}

extension ModelQuantizer {
    /// Quantizes a streamed input following `summary` (from `plan(_:job:)` on the same source):
    /// each tensor is read in row chunks, converted and written to `sink`, so memory holds one
    /// chunk (or, with `job.transform`, one tensor). The bytes are those `run(_:job:)` writes for a
    /// GGUF file holding the same f32 values.
    public static func run(streaming source: some RowStreamingSource, job: QuantizeJob, summary: QuantizeSummary,
                           sink: some TensorDataSink) throws {
        var converter = StreamingRowConverter(threads: job.threads)
        defer { converter.deallocate() }
        for (i, p) in summary.plans.enumerated() {
            guard let t = source.tensor(named: p.sourceName) else {
                throw QuantizeError("\(source.path): tensor '\(p.sourceName)' is planned but not in the model")
            }
            guard t.type == .f32 else {
                throw QuantizeError("\(source.path): tensor '\(t.name)' is \(t.type.name); a streamed input holds f32 tensors only")
            }
            try converter.convert(source, tensor: t, plan: p, job: job, sink: sink)
            source.finished(t)
            job.progress?(i + 1, summary.plans.count, p.name)
        }
    }
}

/// `ChunkConverter` for a streamed f32 source: rows → f32 buffer (checked for NaN/Inf) →
/// optional transform → target type, one chunk at a time.
struct StreamingRowConverter {
    let threads: Int
    private var f32: UnsafeMutableBufferPointer<Float>
    private var out: UnsafeMutableRawBufferPointer

    init(threads: Int) {
        self.threads = max(1, threads)
        f32 = .allocate(capacity: ChunkConverter.chunkElements)
        out = .allocate(byteCount: ChunkConverter.chunkElements * 4, alignment: 64)
    }

    func deallocate() {
        f32.deallocate()
        out.deallocate()
    }

    private mutating func reserve(_ n: Int) {
        guard n > f32.count else { return }
        f32.deallocate()
        out.deallocate()
        f32 = .allocate(capacity: n)
        out = .allocate(byteCount: n * 4, alignment: 64)
    }

    mutating func convert(_ source: some RowStreamingSource, tensor t: GGUFTensorInfo, plan p: TensorPlan, job: QuantizeJob,
                          sink: some TensorDataSink) throws {
        let rowLen = t.rowLength
        let rows = t.rowCount
        // As ChunkConverter: one importance vector for every row, or one per expert of a 3-D stack.
        let experts = t.shape.count > 2 ? max(1, t.shape[2]) : 1
        let entry = job.importance[p.sourceName]
        let perExpert = experts > 1 && entry?.count == rowLen * experts
        let shared = entry.flatMap { $0.count == rowLen ? $0 : nil }
        let rowsPerExpert = perExpert ? max(1, rows / experts) : rows
        func importance(row: Int) -> ArraySlice<Float>? {
            guard perExpert, let entry else { return shared.map { $0[...] } }
            let e = min(experts - 1, row / rowsPerExpert)
            return entry[(e * rowLen)..<((e + 1) * rowLen)]
        }
        if let transform = job.transform {
            reserve(t.elementCount)
            try load(source, t, firstRow: 0, rows: rows)
            _ = try transform(p.sourceName, p.shape, UnsafeMutableBufferPointer(start: f32.baseAddress, count: t.elementCount))
            var r = 0
            while r < rows {
                let n = min(rowsPerExpert - r % rowsPerExpert, rows - r)
                try emit(rows: n, bufferRow: r, rowLen: rowLen, plan: p, importance: importance(row: r), sink: sink)
                r += n
            }
        } else {
            reserve(rowLen)
            let rowsPerChunk = max(1, ChunkConverter.chunkElements / max(rowLen, 1))
            var r = 0
            while r < rows {
                let n = min(rowsPerChunk, rows - r, rowsPerExpert - r % rowsPerExpert)
                try load(source, t, firstRow: r, rows: n)
                try emit(rows: n, bufferRow: 0, rowLen: rowLen, plan: p, importance: importance(row: r), sink: sink)
                r += n
            }
        }
        try sink.endTensor()
    }

    private func load(_ source: some RowStreamingSource, _ t: GGUFTensorInfo, firstRow: Int, rows: Int) throws {
        guard rows > 0 else { return }
        let dst = f32.baseAddress!
        try source.readRows(t, first: firstRow, count: rows, into: dst)
        let rowLen = t.rowLength
        let n = rows * rowLen
        for i in 0..<n where !dst[i].isFinite {
            throw QuantizeError("\(source.path): tensor '\(t.name)' has invalid data: row \(firstRow + i / rowLen), column \(i % rowLen) is \(dst[i])")
        }
    }

    private func emit(rows: Int, bufferRow: Int, rowLen: Int, plan p: TensorPlan, importance: ArraySlice<Float>?,
                      sink: some TensorDataSink) throws {
        let dst = p.targetType
        guard let rowBytes = dst.rowSize(rowLen) else {
            throw QuantizeError("tensor '\(p.name)': rows of \(rowLen) do not fit \(dst)")
        }
        let src = f32.baseAddress! + bufferRow * rowLen
        let total = rows * rowBytes
        if dst == .f32 {
            try sink.write(UnsafeRawBufferPointer(start: src, count: total))
            return
        }
        if let importance {
            importance.withUnsafeBufferPointer { imp in
                Quantizer.quantize(dst, src, out.baseAddress!, rows: rows, rowLength: rowLen, importance: imp.baseAddress, threads: threads)
            }
        } else {
            Quantizer.quantize(dst, src, out.baseAddress!, rows: rows, rowLength: rowLen, threads: threads)
        }
        try sink.write(UnsafeRawBufferPointer(rebasing: out[0..<total]))
    }
}

extension ModelQuantizer {
    /// `run(_:job:)` writing to `sink` (several files for `--keep-split`), following `summary`
    /// (from `plan(_:job:)` on the same file).
    public static func run(_ file: GGUFFile, job: QuantizeJob, summary: QuantizeSummary, sink: some TensorDataSink) throws {
        var converter = ChunkConverter(threads: job.threads)
        defer { converter.deallocate() }
        for (i, p) in summary.plans.enumerated() {
            guard let t = file.tensor(named: p.sourceName) else { continue }
            let src = file.data(t)
            if p.isCopy && job.transform == nil {
                try validate(src, type: t.type, tensor: t, file: file.path)
                try sink.write(src)
                try sink.endTensor()
            } else {
                try converter.convert(src, tensor: t, plan: p, job: job, writer: sink, file: file.path)
            }
            file.release(t)
            job.progress?(i + 1, summary.plans.count, p.name)
        }
    }
}
