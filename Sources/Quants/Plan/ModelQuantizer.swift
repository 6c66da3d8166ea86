import GGUF


/// Everything `gguf-quantize` needs besides the input file.
public struct QuantizeJob {
    public var outputPath: String
    public var options: QuantizeOptions
    public var threads: Int = 2
    public var allowRequantize = false
    /// `--force`: replace an existing output (atomically, only on success).
    public var replaceExisting = false
    /// Per-tensor importance (one value per column, `ne[0]` entries), keyed by tensor name.
    public var importance: [String: [Float]] = [:]
    /// Metadata appended after `general.file_type` (imatrix / AWQ provenance), in order.
    public var extraMetadata: [GGUFKeyValue] = []
    /// Rewrites a tensor's f32 values before quantization (AWQ folding). Called with the tensor
    /// name, its ggml shape and all of its values; returns whether it changed anything.
    public var transform: ((String, [Int], UnsafeMutableBufferPointer<Float>) throws -> Bool)?
    /// Reports (tensor index, tensor count, name) as tensors complete.
    public var progress: ((Int, Int, String) -> Void)?

    public init(outputPath: String, options: QuantizeOptions) {
        self.outputPath = outputPath
        self.options = options
    }
}

/// The result of a run (or a dry run).
public struct QuantizeSummary: Sendable {
    public var plans: [TensorPlan]
    public var metadata: GGUFMetadata
    public var sourceBytes: Int { plans.reduce(0) { $0 + $1.sourceBytes } }
    public var targetBytes: Int { plans.reduce(0) { $0 + $1.targetBytes } }
    public var elementCount: Int { plans.reduce(0) { $0 + $1.shape.reduce(1, *) } }
    public var fallbackCount: Int { plans.filter(\.usedFallback).count }
    /// Bits per weight of the output tensors.
    public var bitsPerWeight: Double { elementCount == 0 ? 0 : Double(targetBytes) * 8 / Double(elementCount) }
}

/// llama-quantize's model pipeline: copy the metadata, plan types, convert tensor by tensor in
/// row chunks (memory stays flat), write through `GGUFWriter` (temporary file, renamed at the end).
public enum ModelQuantizer {
    /// Model facts from the metadata (`{arch}.block_count`, head counts).
    public static func facts(of file: GGUFFile) throws(QuantizeError) -> ModelFacts {
        guard let arch = file.architecture else {
            throw QuantizeError("\(file.path): no '\(GGUFKey.General.architecture)' key: not a model file")
        }
        let layers = file.metadata[GGUFKey.LLM.blockCount(arch)]?.intValue
            ?? (file.tensors.compactMap { TensorName.layer(of: $0.name) }.max().map { $0 + 1 } ?? 0)
        let heads = file.metadata[GGUFKey.LLM.headCount(arch)]?.intValue ?? 0
        let kv = file.metadata[GGUFKey.LLM.headCountKV(arch)]?.intValue ?? heads
        return ModelFacts(arch: arch, layerCount: layers, headCount: heads, headCountKV: kv)
    }

    /// The output metadata: the input's keys in order, then quantization_version and file_type
    /// moved to the end, split keys removed, then `extra`.
    public static func outputMetadata(_ input: GGUFMetadata, fileType: FileType, extra: [GGUFKeyValue]) -> GGUFMetadata {
        var md = input
        md.setMovingToEnd(GGUFKey.General.quantizationVersion, .uint32(2))
        md.setMovingToEnd(GGUFKey.General.fileType, .uint32(UInt32(fileType.rawValue)))
        md.remove(GGUFKey.Split.no)
        md.remove(GGUFKey.Split.count)
        md.remove(GGUFKey.Split.tensorsCount)
        for kv in extra { md.setMovingToEnd(kv.key, kv.value) }
        return md
    }

    /// Plans the run without writing anything.
    public static func plan(_ file: GGUFFile, job: QuantizeJob) throws(QuantizeError) -> QuantizeSummary {
        let facts = try facts(of: file)
        var options = job.options
        options.hasImportance = options.hasImportance || !job.importance.isEmpty
        let plans = TypePlanner.plan(tensors: file.tensors.map { ($0.name, $0.shape, $0.type) }, facts: facts, options: options)
        for p in plans where !p.isCopy {
            if p.sourceType.isQuantized && !job.allowRequantize {
                throw QuantizeError("\(file.path): tensor '\(p.name)' is \(p.sourceType): requantizing from type \(p.sourceType.name) is disabled (use --allow-requantize)")
            }
            if p.sourceType.isQuantized && !Quantizer.canDequantize(p.sourceType) {
                throw QuantizeError("\(file.path): tensor '\(p.name)' has type \(p.sourceType), which cannot be dequantized here")
            }
            if !Quantizer.canQuantize(p.targetType) {
                throw QuantizeError("tensor '\(p.name)': quantizing to \(p.targetType) is not supported")
            }
            if let imp = job.importance[p.name], imp.count != (p.shape.first ?? 0) * (p.shape.count > 2 ? p.shape[2] : 1),
               p.name != TensorName.tokenEmbd.weight() {
                throw QuantizeError("importance matrix has \(imp.count) values for tensor '\(p.name)', expected \(p.shape.first ?? 0) (one per column)")
            }
        }
        return QuantizeSummary(plans: plans, metadata: outputMetadata(file.metadata, fileType: job.options.fileType, extra: job.extraMetadata))
    }

    /// Quantizes `file` into `job.outputPath`.
    public static func run(_ file: GGUFFile, job: QuantizeJob) throws -> QuantizeSummary {
        let summary = try plan(file, job: job)
        let infos = summary.plans.map { GGUFTensorInfo(name: $0.name, shape: $0.shape, type: $0.targetType) }
        let writer = try GGUFWriter(path: job.outputPath, metadata: summary.metadata, tensors: infos)
        var converter = ChunkConverter(threads: job.threads)
        defer { converter.deallocate() }
        for (i, p) in summary.plans.enumerated() {
            guard let t = file.tensor(named: p.name) else { continue }
            let src = file.data(t)
            if p.isCopy && job.transform == nil {
                try validate(src, type: t.type, tensor: t, file: file.path)
                try writer.writeTensor(src)
            } else {
                try converter.convert(src, tensor: t, plan: p, job: job, writer: writer, file: file.path)
            }
            file.release(t)
            job.progress?(i + 1, summary.plans.count, p.name)
        }
        try writer.finish(replace: job.replaceExisting)
        return summary
    }

    /// Rejects NaN/Inf in float tensors (llama.cpp loads with check_tensors and validates every row).
    static func validate(_ data: UnsafeRawBufferPointer, type: GGMLType, tensor: GGUFTensorInfo, file: String) throws(QuantizeError) {
        let n = tensor.elementCount
        let rowLen = max(1, tensor.rowLength)
        func fail(_ i: Int, _ v: Float) -> QuantizeError {
            QuantizeError("\(file): tensor '\(tensor.name)' has invalid data: row \(i / rowLen), column \(i % rowLen) is \(v)")
        }
        switch type {
        case .f32:
            let p = data.bindMemory(to: Float.self)
            for i in 0..<n where !p[i].isFinite { throw fail(i, p[i]) }
        case .f16:
            let p = data.bindMemory(to: UInt16.self)
            for i in 0..<n where (p[i] & 0x7C00) == 0x7C00 { throw fail(i, FP16.toFloat(p[i])) }
        case .bf16:
            let p = data.bindMemory(to: UInt16.self)
            for i in 0..<n where (p[i] & 0x7F80) == 0x7F80 { throw fail(i, BF16.toFloat(p[i])) }
        default:
            break
        }
    }
}

/// Converts a tensor in row chunks: source → f32 (dequantize if needed) → optional transform →
/// target type, writing each chunk as it is done.
struct ChunkConverter {
    static let chunkElements = 1 << 22
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

    mutating func convert(_ src: UnsafeRawBufferPointer, tensor t: GGUFTensorInfo, plan p: TensorPlan, job: QuantizeJob,
                          writer: GGUFWriter, file: String) throws {
        let rowLen = t.rowLength
        let rows = t.rowCount
        let importance = job.importance[p.name].flatMap { $0.count == rowLen ? $0 : nil }
        if job.transform != nil {
            // The transform needs the whole tensor at once.
            reserve(t.elementCount)
            try load(src, type: t.type, tensor: t, firstRow: 0, rows: rows, file: file)
            let all = UnsafeMutableBufferPointer(start: f32.baseAddress, count: t.elementCount)
            _ = try job.transform?(p.name, p.shape, all)
            try emit(rows: rows, firstRow: 0, rowLen: rowLen, plan: p, importance: importance, writer: writer, tensor: t, file: file)
        } else {
            reserve(rowLen)
            let rowsPerChunk = max(1, ChunkConverter.chunkElements / max(rowLen, 1))
            var r = 0
            while r < rows {
                let n = min(rowsPerChunk, rows - r)
                try load(src, type: t.type, tensor: t, firstRow: r, rows: n, file: file)
                try emit(rows: n, firstRow: r, rowLen: rowLen, plan: p, importance: importance, writer: writer, tensor: t, file: file)
                r += n
            }
        }
        try writer.endTensor()
    }

    /// Source rows [firstRow, firstRow+rows) → f32 buffer, checking for NaN/Inf.
    private func load(_ src: UnsafeRawBufferPointer, type: GGMLType, tensor t: GGUFTensorInfo, firstRow: Int, rows: Int, file: String) throws {
        let rowLen = t.rowLength
        let rowBytes = t.rowSize
        let dst = f32.baseAddress!
        let base = src.baseAddress! + firstRow * rowBytes
        nonisolated(unsafe) let d = dst
        let pieces = min(rows, threads * 4)
        parallelFor(chunks: pieces, threads: threads) { k in
            let lo = rows * k / pieces, hi = rows * (k + 1) / pieces
            for r in lo..<hi {
                let from = base + r * rowBytes
                let to = d + r * rowLen
                switch type {
                case .f32: to.update(from: from.assumingMemoryBound(to: Float.self), count: rowLen)
                case .f16: FP16.expand(from.assumingMemoryBound(to: UInt16.self), to, count: rowLen)
                case .bf16: BF16.expand(from.assumingMemoryBound(to: UInt16.self), to, count: rowLen)
                default: Quantizer.dequantize(type, from, to, count: rowLen)
                }
            }
        }
        let n = rows * rowLen
        for i in 0..<n where !dst[i].isFinite {
            throw QuantizeError("\(file): tensor '\(t.name)' has invalid data: row \(firstRow + i / rowLen), column \(i % rowLen) is \(dst[i])")
        }
    }

    private func emit(rows: Int, firstRow: Int, rowLen: Int, plan p: TensorPlan, importance: [Float]?, writer: GGUFWriter,
                      tensor t: GGUFTensorInfo, file: String) throws {
        let dst = p.targetType
        guard let rowBytes = dst.rowSize(rowLen) else {
            throw QuantizeError("tensor '\(p.name)': rows of \(rowLen) do not fit \(dst)")
        }
        let src = f32.baseAddress!
        let total = rows * rowBytes
        switch dst {
        case .f32:
            try writer.write(UnsafeRawBufferPointer(start: src, count: total))
            return
        default:
            if let importance {
                importance.withUnsafeBufferPointer { imp in
                    Quantizer.quantize(dst, src, out.baseAddress!, rows: rows, rowLength: rowLen, importance: imp.baseAddress, threads: threads)
                }
            } else {
                Quantizer.quantize(dst, src, out.baseAddress!, rows: rows, rowLength: rowLen, threads: threads)
            }
        }
        try writer.write(UnsafeRawBufferPointer(rebasing: out[0..<total]))
    }
}
