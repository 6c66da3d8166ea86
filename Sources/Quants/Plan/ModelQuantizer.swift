import GGUF


/// `--override-kv KEY=TYPE:VALUE`: a metadata value set in the output (after `general.file_type`,
/// in order). Written like llama-quantize b10572: an int as UINT32 of its absolute value, a float as
/// FLOAT32, a bool, a string (at most 127 bytes).
public struct MetadataOverride: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case int(Int64), float(Double), bool(Bool), string(String)
    }

    public let key: String
    public let value: Value

    /// - Throws: `QuantizeError` for an empty key, a key of 128 bytes or more, a string of more
    ///   than 127 bytes, an int whose magnitude does not fit UINT32, or a non-finite float.
    public init(key: String, value: Value) throws(QuantizeError) {
        guard !key.isEmpty, key.utf8.count < 128 else {
            throw QuantizeError("--override-kv: the key must have 1 to 127 bytes, '\(key)' has \(key.utf8.count)")
        }
        switch value {
        case .int(let v):
            guard v.magnitude <= UInt64(UInt32.max) else {
                throw QuantizeError("--override-kv \(key): int \(v) does not fit the UINT32 it is written as")
            }
        case .float(let v):
            guard v.isFinite else { throw QuantizeError("--override-kv \(key): float value must be finite, got \(v)") }
        case .string(let s):
            guard s.utf8.count <= 127 else {
                throw QuantizeError("--override-kv \(key): the string value cannot exceed 127 bytes (it has \(s.utf8.count))")
            }
        case .bool: break
        }
        self.key = key
        self.value = value
    }

    /// Parses `KEY=TYPE:VALUE` with TYPE one of `int`, `float`, `bool` (`true`/`false`), `str`.
    public init(parsing s: String) throws(QuantizeError) {
        guard let eq = s.firstIndex(of: "=") else {
            throw QuantizeError("--override-kv: malformed '\(s)': expected KEY=TYPE:VALUE (TYPE: int, float, bool, str)")
        }
        let key = String(s[..<eq]), rest = String(s[s.index(after: eq)...])
        let value: Value
        if rest.hasPrefix("int:") {
            let t = String(rest.dropFirst(4))
            guard let v = Int64(t) else { throw QuantizeError("--override-kv \(key): '\(t)' is not an integer") }
            value = .int(v)
        } else if rest.hasPrefix("float:") {
            let t = String(rest.dropFirst(6))
            guard let v = Double(t) else { throw QuantizeError("--override-kv \(key): '\(t)' is not a number") }
            value = .float(v)
        } else if rest.hasPrefix("bool:") {
            let t = rest.dropFirst(5)
            guard t == "true" || t == "false" else {
                throw QuantizeError("--override-kv \(key): invalid boolean '\(t)', expected true or false")
            }
            value = .bool(t == "true")
        } else if rest.hasPrefix("str:") {
            value = .string(String(rest.dropFirst(4)))
        } else {
            throw QuantizeError("--override-kv: invalid type in '\(s)': expected KEY=TYPE:VALUE with TYPE int, float, bool or str")
        }
        try self.init(key: key, value: value)
    }

    /// The value as written.
    public var ggufValue: GGUFValue {
        switch value {
        case .int(let v): return .uint32(UInt32(v.magnitude))
        case .float(let v): return .float32(Float(v))
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        }
    }
}

/// Everything `gguf-quantize` needs besides the input file.
public struct QuantizeJob {
    public var outputPath: String
    public var options: QuantizeOptions
    public var threads: Int = 2
    public var allowRequantize = false
    /// `--force`: replace an existing output (atomically, only on success).
    public var replaceExisting = false
    /// Per-tensor importance (one value per column, `ne[0]` entries, times `ne[2]` for expert
    /// stacks), keyed by the input tensor name.
    public var importance: [String: [Float]] = [:]
    /// `--override-kv`, set after `general.file_type`, in order.
    public var metadataOverrides: [MetadataOverride] = []
    /// Metadata appended after the overrides (imatrix / AWQ provenance), in order.
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
    /// Tensors and elements of the input (pruned tensors included), llama-quantize's denominators.
    public var inputTensorCount: Int
    public var inputElementCount: Int
    public var sourceBytes: Int { plans.reduce(0) { $0 + $1.sourceBytes } }
    public var targetBytes: Int { plans.reduce(0) { $0 + $1.targetBytes } }
    public var elementCount: Int { plans.reduce(0) { $0 + $1.shape.reduce(1, *) } }
    public var fallbackCount: Int { plans.filter(\.usedFallback).count }
    /// Some tensor's type needs an importance matrix and none is given (a dry run reports it;
    /// a real run refuses).
    public var needsImportance: Bool
    /// Bits per weight of the output tensors.
    public var bitsPerWeight: Double { inputElementCount == 0 ? 0 : Double(targetBytes) * 8 / Double(inputElementCount) }

    public init(plans: [TensorPlan], metadata: GGUFMetadata, inputTensorCount: Int, inputElementCount: Int,
                needsImportance: Bool = false) {
        self.plans = plans
        self.metadata = metadata
        self.inputTensorCount = inputTensorCount
        self.inputElementCount = inputElementCount
        self.needsImportance = needsImportance
    }
}

/// llama-quantize's model pipeline: copy the metadata, plan types, convert tensor by tensor in
/// row chunks (memory stays flat), write through `GGUFWriter` (temporary file, renamed at the end).
public enum ModelQuantizer {
    /// Model facts from the metadata (`{arch}.block_count`, head counts, expert count), with
    /// `--override-kv` values in place of the file's (llama.cpp loads the model with them).
    public static func facts(of file: some ModelTensorTable, overrides: [MetadataOverride] = []) throws(QuantizeError) -> ModelFacts {
        guard let arch = file.architecture else {
            throw QuantizeError("\(file.path): no '\(GGUFKey.General.architecture)' key: not a model file")
        }
        func int(_ key: String) -> Int? {
            if let o = overrides.last(where: { $0.key == key }), case .int(let v) = o.value { return Int(v) }
            guard let v = file.metadata[key] else { return nil }
            if let i = v.intValue { return i }
            // Per-layer arrays (`get_key_or_arr`): the rules read layer 0.
            switch v.arrayValue {
            case .uint32(let a)?: return a.first.map { Int($0) }
            case .int32(let a)?: return a.first.map { Int($0) }
            default: return nil
            }
        }
        let layers = int(GGUFKey.LLM.blockCount(arch))
            ?? (file.tensors.compactMap { TensorName.layer(of: $0.name) }.max().map { $0 + 1 } ?? 0)
        let heads = int(GGUFKey.LLM.headCount(arch)) ?? 0
        let kv = int(GGUFKey.LLM.headCountKV(arch)) ?? heads
        let experts = int(GGUFKey.LLM.expertCount(arch)) ?? 0
        return ModelFacts(arch: arch, layerCount: layers, headCount: heads, headCountKV: kv, expertCount: experts)
    }

    /// `general.file_type` of a COPY run: the input's value, else the type most tensors have
    /// (first to reach the largest count in tensor order) with llama.cpp's "guessed" bit (1024).
    static func inputFileType(_ file: some ModelTensorTable) -> UInt32 {
        if let v = file.metadata[GGUFKey.General.fileType]?.intValue, let u = UInt32(exactly: v) { return u }
        var counts: [GGMLType: Int] = [:]
        var best: GGMLType?, bestCount = 0
        for name in TypePlanner.ordered(file.tensors.map(\.name)) {
            guard let t = file.tensor(named: name)?.type else { continue }
            counts[t, default: 0] += 1
            if counts[t]! > bestCount { bestCount = counts[t]!; best = t }
        }
        let byType: [GGMLType: FileType] = [
            .f32: .allF32, .f16: .mostlyF16, .bf16: .mostlyBF16, .q4_0: .q4_0, .q4_1: .q4_1, .q5_0: .q5_0, .q5_1: .q5_1,
            .q8_0: .q8_0, .q2_K: .q2_K, .q3_K: .q3_K_M, .q4_K: .q4_K_M, .q5_K: .q5_K_M, .q6_K: .q6_K, .tq1_0: .tq1_0,
            .tq2_0: .tq2_0, .iq2_XXS: .iq2_XXS, .iq2_XS: .iq2_XS, .iq2_S: .iq2_S, .iq3_XXS: .iq3_XXS, .iq1_S: .iq1_S,
            .iq1_M: .iq1_M, .iq4_NL: .iq4_NL, .iq4_XS: .iq4_XS, .iq3_S: .iq3_S, .q1_0: .q1_0, .q2_0: .q2_0,
        ]
        let raw: UInt32 = best == .nvfp4 ? 39 : UInt32(best.flatMap { byType[$0] }?.rawValue ?? 0)
        return raw | 1024
    }

    /// The output metadata: the input's keys in order, then quantization_version and file_type
    /// moved to the end, split keys removed, then the overrides and `extra`, then (when layers
    /// were pruned) the new block count.
    public static func outputMetadata(_ input: GGUFMetadata, fileType: FileType, extra: [GGUFKeyValue]) -> GGUFMetadata {
        outputMetadata(input, fileTypeValue: UInt32(fileType.rawValue), overrides: [], extra: extra, blockCount: nil)
    }

    static func outputMetadata(_ input: GGUFMetadata, fileTypeValue: UInt32, overrides: [MetadataOverride],
                               extra: [GGUFKeyValue], blockCount: (key: String, value: Int)?) -> GGUFMetadata {
        var md = input
        md.setMovingToEnd(GGUFKey.General.quantizationVersion, .uint32(2))
        md.setMovingToEnd(GGUFKey.General.fileType, .uint32(fileTypeValue))
        md.remove(GGUFKey.Split.no)
        md.remove(GGUFKey.Split.count)
        md.remove(GGUFKey.Split.tensorsCount)
        for o in overrides { md.setMovingToEnd(o.key, o.ggufValue) }
        for kv in extra { md.setMovingToEnd(kv.key, kv.value) }
        if let b = blockCount { md.setMovingToEnd(b.key, .uint32(UInt32(clamping: b.value))) }
        return md
    }

    /// Plans the run without writing anything. With `checking` (a real run), everything that would
    /// stop the run is found here, before the output exists: a type that needs an importance
    /// matrix without one, a type this build cannot quantize to, a row length the type does not
    /// fit, quantized input without `allowRequantize`.
    public static func plan(_ file: some ModelTensorTable, job: QuantizeJob, checking: Bool = true) throws(QuantizeError) -> QuantizeSummary {
        let facts = try facts(of: file, overrides: job.metadataOverrides)
        var options = job.options
        options.hasImportance = options.hasImportance || !job.importance.isEmpty
        let plans = try TypePlanner.plan(tensors: file.tensors.map { ($0.name, $0.shape, $0.type) }, facts: facts, options: options)
        let needsImportance = job.importance.isEmpty && !job.options.hasImportance && plans.contains { $0.allowsQuantization && $0.requiresImportance }
        if checking {
            try check(plans, file: file, job: job)
        }
        let arch = facts.arch
        var blockCount: (key: String, value: Int)?
        if !options.pruneLayers.isEmpty {
            let layers = plans.compactMap { TypePlanner.blockNumber($0.name)?.0 }
            blockCount = (GGUFKey.LLM.blockCount(arch), (layers.max() ?? -1) + 1)
        }
        let fileTypeValue = options.onlyCopy ? inputFileType(file) : UInt32(options.fileType.rawValue)
        let md = outputMetadata(file.metadata, fileTypeValue: fileTypeValue, overrides: job.metadataOverrides,
                                extra: job.extraMetadata, blockCount: blockCount)
        return QuantizeSummary(plans: plans, metadata: md, inputTensorCount: file.tensors.count,
                               inputElementCount: file.tensors.reduce(0) { $0 + $1.elementCount }, needsImportance: needsImportance)
    }

    static func check(_ plans: [TensorPlan], file: some ModelTensorTable, job: QuantizeJob) throws(QuantizeError) {
        for p in plans where p.allowsQuantization && p.requiresImportance {
            if job.importance.isEmpty {
                // Importances still to come (AWQ calibration plans before it measures them).
                if job.options.hasImportance { continue }
                throw QuantizeError("this quantization requires an importance matrix (--imatrix FILE): tensor '\(p.name)' "
                                    + "gets \(p.targetType.name), which gives garbage without one")
            }
            guard let imp = job.importance[p.sourceName], imp.count == (p.shape.first ?? 0) * (p.shape.count > 2 ? p.shape[2] : 1) else {
                throw QuantizeError("missing importance matrix for tensor '\(p.name)' in a very low-bit quantization "
                                    + "(\(p.targetType.name)): the importance matrix has no entry for it")
            }
            _ = imp
        }
        for p in plans where !p.isCopy {
            if p.sourceType.isQuantized && !job.allowRequantize {
                throw QuantizeError("\(file.path): tensor '\(p.sourceName)' is \(p.sourceType): requantizing from type \(p.sourceType.name) is disabled (use --allow-requantize)")
            }
            if p.sourceType.isQuantized && !Quantizer.canDequantize(p.sourceType) {
                throw QuantizeError("\(file.path): tensor '\(p.sourceName)' has type \(p.sourceType), which cannot be dequantized here")
            }
            if !Quantizer.canQuantize(p.targetType) {
                throw QuantizeError("tensor '\(p.name)': the plan needs type \(p.targetType.name), which this build cannot "
                                    + "quantize to yet (no block family for \(p.targetType)); nothing was written")
            }
            if p.targetType.rowSize(p.shape.first ?? 0) == nil {
                throw QuantizeError("tensor '\(p.name)': rows of \(p.shape.first ?? 0) values are not a whole number of "
                                    + "\(p.targetType.name) blocks (\(p.targetType.blockSize) values)")
            }
            if let imp = job.importance[p.sourceName], imp.count != (p.shape.first ?? 0) * (p.shape.count > 2 ? p.shape[2] : 1),
               !TensorRole.isTokenEmbedding(p.name) {
                throw QuantizeError("importance matrix has \(imp.count) values for tensor '\(p.sourceName)', expected \(p.shape.first ?? 0) (one per column)")
            }
        }
    }

    /// Quantizes `file` into `job.outputPath`.
    public static func run(_ file: GGUFFile, job: QuantizeJob) throws -> QuantizeSummary {
        let summary = try plan(file, job: job)
        let infos = summary.plans.map { GGUFTensorInfo(name: $0.name, shape: $0.shape, type: $0.targetType) }
        let writer = try GGUFWriter(path: job.outputPath, metadata: summary.metadata, tensors: infos)
        var converter = ChunkConverter(threads: job.threads)
        defer { converter.deallocate() }
        for (i, p) in summary.plans.enumerated() {
            guard let t = file.tensor(named: p.sourceName) else { continue }
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
                          writer: some TensorDataSink, file: String) throws {
        let rowLen = t.rowLength
        let rows = t.rowCount
        // One importance vector for every row, or one per expert of a 3-D stack (`ne[1]` rows each).
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
        if job.transform != nil {
            // The transform needs the whole tensor at once.
            reserve(t.elementCount)
            try load(src, type: t.type, tensor: t, firstRow: 0, rows: rows, file: file)
            let all = UnsafeMutableBufferPointer(start: f32.baseAddress, count: t.elementCount)
            _ = try job.transform?(p.sourceName, p.shape, all)
            var r = 0
            while r < rows {
                let n = min(rowsPerExpert - r % rowsPerExpert, rows - r)
                try emit(rows: n, firstRow: r, bufferRow: r, rowLen: rowLen, plan: p, importance: importance(row: r),
                         writer: writer, tensor: t, file: file)
                r += n
            }
        } else {
            reserve(rowLen)
            let rowsPerChunk = max(1, ChunkConverter.chunkElements / max(rowLen, 1))
            var r = 0
            while r < rows {
                // Chunks never straddle two experts.
                let n = min(rowsPerChunk, rows - r, rowsPerExpert - r % rowsPerExpert)
                try load(src, type: t.type, tensor: t, firstRow: r, rows: n, file: file)
                try emit(rows: n, firstRow: r, bufferRow: 0, rowLen: rowLen, plan: p, importance: importance(row: r),
                         writer: writer, tensor: t, file: file)
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

    /// Converts `rows` rows held in the f32 buffer from `bufferRow` on and writes them.
    private func emit(rows: Int, firstRow: Int, bufferRow: Int, rowLen: Int, plan p: TensorPlan, importance: ArraySlice<Float>?,
                      writer: some TensorDataSink, tensor t: GGUFTensorInfo, file: String) throws {
        let dst = p.targetType
        guard let rowBytes = dst.rowSize(rowLen) else {
            throw QuantizeError("tensor '\(p.name)': rows of \(rowLen) do not fit \(dst)")
        }
        let src = f32.baseAddress! + bufferRow * rowLen
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
