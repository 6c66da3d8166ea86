import Foundation
import Architectures
import Calibration
import GGUF
import Inference
import Quants

/// Which tensors an importance matrix applies to (`--include-weights` / `--exclude-weights`).
public enum ImportanceFilter: Sendable, Equatable {
    /// Every tensor the matrix has an entry for.
    case all
    /// Only tensors whose name contains one of these strings.
    case include([String])
    /// Every tensor except those whose name contains one of these strings.
    case exclude([String])
}

/// AWQ pre-scaling: calibrate on a text, fold the scales into the float weights, then quantize.
public struct AWQConfiguration: Sendable, Equatable {
    /// What happens after the scales are found.
    public enum Mode: Sendable, Equatable {
        /// Quantize the scaled model with the plain (unweighted) quantizers.
        case quantize
        /// Quantize with importances from the same calibration pass (mean x² per column, divided by
        /// the square of the folded scales) — the weighted quantizers, as with an imatrix.
        case quantizeWithImportance
        /// Quantize the scaled model with an importance matrix file's importances (measured on the
        /// unscaled model, used as they are).
        case quantizeWithImportanceMatrix(path: String, filter: ImportanceFilter)
        /// Write the scaled model in its float types; nothing is quantized (the target type still
        /// chooses the block formats the scales are searched against).
        case scaleOnly
    }

    /// The calibration text (one sample per line).
    public var calibrationText: String
    /// Calibration lines used.
    public var samples = 128
    /// Tokens per calibration block.
    public var sequenceLength = 512
    /// Scale-search grid points: ratios k/grid for k < grid.
    public var grid = 20
    /// Blocks that score the scale candidates (nil: 2048 tokens' worth; 0: all).
    public var searchBlocks: Int?
    /// Rows of the screen that ranks the scale candidates before they are scored exactly
    /// (`AWQOptions.screenRows`; nil: its default; 0: no screen, every candidate scored exactly).
    public var screenRows: Int?
    /// Also search clip limits against the target formats.
    public var clip = false
    public var mode = Mode.quantize

    public init(calibrationText: String) { self.calibrationText = calibrationText }
}

/// What, besides the weights, steers the quantizers.
public enum Weighting: Sendable, Equatable {
    /// llama-quantize's plain quantizers.
    case none
    /// An importance matrix file (llama-imatrix / gguf-imatrix, GGUF or legacy `.dat`), as `llama-quantize --imatrix`.
    case importanceMatrix(path: String, filter: ImportanceFilter)
    /// AWQ pre-scaling calibrated on a text.
    case awq(AWQConfiguration)
}

/// One `gguf-quantize` job.
public struct QuantizationRequest: Sendable {
    /// The GGUF model to quantize (F32, F16 or BF16; quantized tensors need `allowRequantize`).
    public var input: String
    public var output: String
    /// The llama-quantize type (`Q4_K_M`, ...): `FileType` or `QuantOption.parse("Q4_K_M")`.
    public var fileType: FileType
    public var weighting = Weighting.none
    /// No k-quant mixture: every quantizable tensor gets the file type's default type.
    public var pure = false
    /// Keep `output.weight` as stored.
    public var leaveOutputTensor = false
    public var outputTensorType: GGMLType?
    public var tokenEmbeddingType: GGMLType?
    /// `--tensor-type NAME_REGEX=TYPE` (and `--tensor-type-file`): the first pattern found in a
    /// tensor's name picks its type, over the mixture rules and `pure`.
    public var tensorTypes: [TensorTypeOverride] = []
    /// `--prune-layers`: block numbers to drop (later blocks are renumbered, `block_count` follows).
    public var pruneLayers: [Int] = []
    /// `--override-kv KEY=TYPE:VALUE`: metadata set in the output, in order.
    public var metadataOverrides: [MetadataOverride] = []
    /// llama-quantize's `COPY`: every tensor copied as stored, `general.file_type` kept from the
    /// input (`fileType` is then ignored).
    public var onlyCopy = false
    /// Accept quantized input tensors (dequantized first).
    public var allowRequantize = false
    /// Replace `output` if it exists (only once the new file is complete).
    public var replaceExisting = false
    public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public init(input: String, output: String, fileType: FileType) {
        self.input = input
        self.output = output
        self.fileType = fileType
    }
}

/// What a quantization did.
public struct QuantizationReport: Sendable {
    /// Every tensor's plan, the metadata written, sizes and bits per weight.
    public var summary: QuantizeSummary
    /// Seconds spent quantizing and writing (without calibration).
    public var quantizeSeconds: Double
    /// Seconds spent in AWQ calibration (0 without AWQ).
    public var calibrationSeconds: Double
}

/// Something worth telling the user while a quantization runs.
public enum QuantizationEvent: Sendable {
    /// A line of information with its own label (`load_imatrix: ...`, `awq: ...`).
    case message(String)
    /// A line about the job itself (what is written, a tensor without importance), which a tool
    /// prints under its own name.
    case notice(String)
    /// Progress of a stage: (stage, units done, unit count, detail).
    case progress(QuantizationStage, Int, Int, String)
}

public enum QuantizationStage: String, Sendable {
    /// AWQ calibration, one unit per decoder block.
    case awq
    /// Quantizing and writing, one unit per tensor.
    case quantize
}

/// llama-quantize's job: plan the per-tensor types and write byte-identical blocks, optionally
/// with an importance matrix or AWQ pre-scaling.
///
/// ```swift
/// var request = QuantizationRequest(input: "model-f32.gguf", output: "model-Q4_K_M.gguf", fileType: .q4_K_M)
/// request.weighting = .awq(AWQConfiguration(calibrationText: "calibration.txt"))
/// let report = try Quantization.run(request)
/// print(report.summary.bitsPerWeight)
/// ```
public enum Quantization {
    /// The plan llama-quantize would follow (types, sizes, bits per weight), without writing or
    /// calibrating: `gguf-quantize --dry-run`. Like llama-quantize's dry run it does not need the
    /// types' block families nor an importance matrix the types require
    /// (`QuantizeSummary.needsImportance` tells).
    public static func plan(_ request: QuantizationRequest,
                            events: ((QuantizationEvent) -> Void)? = nil) throws(SwiftGGUFError) -> QuantizeSummary {
        let file = try wrapped { try GGUFFile.openModel(path: request.input) }
        let job = try prepare(request, file: file, events: events)
        return try wrapped { try ModelQuantizer.plan(file, job: job, checking: false) }
    }

    /// Calibrates (with AWQ), quantizes and writes `request.output`.
    public static func run(_ request: QuantizationRequest,
                           events: ((QuantizationEvent) -> Void)? = nil) throws(SwiftGGUFError) -> QuantizationReport {
        let file = try wrapped { try GGUFFile.openModel(path: request.input) }
        try OutputPath.check(request.output, inputs: file.splitPaths, force: request.replaceExisting)
        var job = try prepare(request, file: file, events: events)
        var calibrationSeconds = 0.0
        if case .awq(let awq) = request.weighting {
            let start = Date()
            try calibrate(file, awq, job: &job, threads: request.threads, events: events)
            calibrationSeconds = Date().timeIntervalSince(start)
        }
        if case .awq(let awq) = request.weighting, awq.mode == .scaleOnly {
            events?(.notice("writing the AWQ-scaled model '\(request.input)' to '\(request.output)' as \(job.options.fileType.name)\n"))
        } else {
            events?(.notice("quantizing '\(request.input)' to '\(request.output)' as \(request.onlyCopy ? "COPY" : request.fileType.name) "
                             + "using \(request.threads) threads\n"))
        }
        job.progress = { i, n, name in events?(.progress(.quantize, i, n, name)) }
        let start = Date()
        let summary = try wrapped { try ModelQuantizer.run(file, job: job) }
        return QuantizationReport(summary: summary, quantizeSeconds: Date().timeIntervalSince(start),
                                  calibrationSeconds: calibrationSeconds)
    }

    /// The job without calibration: options, importance matrix, and (for AWQ with importances)
    /// the "with imatrix" rules, which already apply to the plan.
    static func prepare(_ r: QuantizationRequest, file: some ModelTensorTable,
                        events: ((QuantizationEvent) -> Void)?) throws(SwiftGGUFError) -> QuantizeJob {
        guard r.threads > 0 else { throw SwiftGGUFError(.invalidOptions, "threads must be positive, got \(r.threads)") }
        var opts = QuantizeOptions(fileType: r.fileType)
        opts.pure = r.pure
        opts.leaveOutputTensor = r.leaveOutputTensor
        opts.outputTensorType = r.outputTensorType
        opts.tokenEmbeddingType = r.tokenEmbeddingType
        opts.tensorTypes = r.tensorTypes
        opts.onlyCopy = r.onlyCopy
        if let bad = r.pruneLayers.first(where: { $0 < 0 }) {
            throw SwiftGGUFError(.invalidOptions, "prune layers: invalid layer id \(bad)")
        }
        opts.pruneLayers = Array(Set(r.pruneLayers)).sorted()
        var job = QuantizeJob(outputPath: r.output, options: opts)
        job.metadataOverrides = r.metadataOverrides
        job.threads = r.threads
        job.allowRequantize = r.allowRequantize
        job.replaceExisting = r.replaceExisting
        switch r.weighting {
        case .none:
            break
        case .importanceMatrix(let path, let filter):
            try loadImportance(path, filter: filter, file: file, job: &job, events: events)
        case .awq(let awq):
            try validate(awq)
            switch awq.mode {
            case .quantizeWithImportance: job.options.hasImportance = true
            case .quantizeWithImportanceMatrix(let path, let filter):
                try loadImportance(path, filter: filter, file: file, job: &job, events: events)
            case .quantize, .scaleOnly: break
            }
        }
        return job
    }

    static func validate(_ a: AWQConfiguration) throws(SwiftGGUFError) {
        func check(_ name: String, _ v: Int, _ range: ClosedRange<Int>) throws(SwiftGGUFError) {
            guard range.contains(v) else {
                throw SwiftGGUFError(.invalidOptions, "AWQ \(name) is \(v), expected \(range.lowerBound)...\(range.upperBound)")
            }
        }
        try check("samples", a.samples, 1...1_000_000)
        try check("sequence length", a.sequenceLength, 1...1_048_576)
        try check("grid", a.grid, 1...1000)
        if let b = a.searchBlocks { try check("search blocks", b, 0...1_000_000) }
        if let r = a.screenRows { try check("screen rows", r, 0...1_000_000) }
    }

    /// Reads an importance matrix like llama-quantize's `load_imatrix` (values divided by the call
    /// count, include/exclude substring filters) and records it in `job` with the
    /// `quantize.imatrix.*` keys. An entry whose size does not match its tensor is an error
    /// (reported by the plan, naming the tensor); a matrix with no entry for any of the model's
    /// `blk.*` matrices is refused as belonging to another model.
    static func loadImportance(_ path: String, filter: ImportanceFilter, file: some ModelTensorTable, job: inout QuantizeJob,
                               events: ((QuantizationEvent) -> Void)?) throws(SwiftGGUFError) {
        // Either format: GGUF (sums and token counts) or the legacy .dat, told apart by the magic.
        let m = try wrapped { try ImportanceMatrixFile(path: path) }
        if !m.datasets.isEmpty {
            events?(.message("load_imatrix: imatrix datasets=[" + m.datasets.map { "'\($0)'" }.joined(separator: ", ") + "]\n"))
        }
        events?(.message("load_imatrix: loaded \(m.entryCount) importance matrix entries from \(path) computed on \(m.chunkCount) chunks\n"))
        let importance: [String: [Float]]
        switch filter {
        case .all: importance = m.importances()
        case .include(let names): importance = m.importances(include: names)
        case .exclude(let names): importance = m.importances(exclude: names)
        }
        let matrices = file.tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count >= 2 }
        if !importance.isEmpty, !matrices.isEmpty, !matrices.contains(where: { importance[$0.name] != nil }) {
            throw SwiftGGUFError(.invalidInput, "\(path): no entry matches a tensor of '\(file.path)' (the first matrix, "
                                 + "'\(matrices[0].name)', has none; the file's entries start with "
                                 + "'\(importance.keys.sorted().first ?? "")'): an importance matrix from another model?")
        }
        // llama-quantize stops at an entry whose size is not the tensor's columns (times its experts);
        // token_embd is exempt (its entry is ignored).
        for t in file.tensors where t.shape.count >= 2 && t.name != TensorName.tokenEmbd.weight() {
            let expected = t.shape[0] * (t.shape.count > 2 ? t.shape[2] : 1)
            if let imp = importance[t.name], imp.count != expected {
                throw SwiftGGUFError(.invalidInput, "\(path): the entry for tensor '\(t.name)' has \(imp.count) values, but '\(file.path)' "
                                     + "needs \(expected) (one per column\(t.shape.count > 2 ? " of each expert" : "")): "
                                     + "an importance matrix from another model?")
            }
        }
        for t in matrices where importance[t.name] == nil && m.entryCount > 0 {
            events?(.notice("did not find imatrix data for \(t.name); using no importance for it\n"))
        }
        job.importance = importance
        // llama-quantize records the matrix only when entries are left after the filters.
        if !importance.isEmpty {
            job.extraMetadata = m.metadata(fileArgument: path, entryCount: importance.count) + job.extraMetadata
        }
    }

    /// The float ftype a scale-only AWQ run keeps: that of the block matrices (F16, BF16, else F32).
    static func floatFileType(_ file: GGUFFile) -> FileType {
        switch file.tensor(named: LinearRole.attnQ.weightName(layer: 0)).map({ file.valueType($0.type) }) {
        case .f16?: return .mostlyF16
        case .bf16?: return .mostlyBF16
        default: return .allF32
        }
    }

    /// Runs AWQ calibration and sets `job`'s transform and metadata (and, for a scale-only run,
    /// its float file type). Nothing is written here.
    static func calibrate(_ file: GGUFFile, _ s: AWQConfiguration, job: inout QuantizeJob, threads: Int,
                          events: ((QuantizationEvent) -> Void)?) throws(SwiftGGUFError) {
        try wrapped { try AWQCalibrator.checkSupported(file) }
        let plan = try wrapped { try ModelQuantizer.plan(file, job: job) }
        var types: [String: GGMLType] = [:]
        // A tensor kept as it is keeps the type it stands for (f32 for an in-memory checkpoint's
        // bf16/f16 matrices, `GGUFFile.widensFloats`).
        for p in plan.plans { types[p.name] = p.allowsQuantization ? p.targetType : file.valueType(p.targetType) }
        let vocab = try wrapped { try GGUFVocabulary(file: file) }
        let set = try wrapped {
            try CalibrationSet(textFile: s.calibrationText, vocabulary: vocab, samples: s.samples, sequenceLength: s.sequenceLength)
        }
        let model = try wrapped { try LanguageModel(file: file) }
        var options = AWQOptions()
        options.grid = s.grid
        options.clip = s.clip
        options.searchBlocks = s.searchBlocks
        if let r = s.screenRows { options.screenRows = r }
        options.threads = threads
        let calibrator = try wrapped {
            try AWQCalibrator(model: model, targetTypes: types, sequenceLength: s.sequenceLength, options: options)
        }
        let withImportance = s.mode == .quantizeWithImportance
        let groups = AWQGroup.groups(for: model.config).map(\.rawValue).joined(separator: "; ")
        let scored = AWQCalibrator.searchBlocks(set.blockCount, sequenceLength: set.sequenceLength, s.searchBlocks)
        events?(.message("awq: '\(s.calibrationText)': \(set.lineCount) lines, \(set.streamLength) tokens -> \(set.blockCount) "
                         + "blocks of \(set.sequenceLength) (\(scored) scored); grid \(s.grid)\(s.clip ? ", clip" : "")"
                         + "\(withImportance ? ", importance" : ""); "
                         + "targets \(job.options.fileType.name); groups: \(groups)\n"))
        let blocks = model.config.blockCount
        let start = Date()
        var result = try wrapped {
            try calibrator.run(set, calibrationFile: s.calibrationText) { done, _, detail in
                events?(.progress(.awq, done, blocks, detail))
            }
        }
        events?(.message(String(format: "awq: calibrated %d groups in %.1f s\n", result.groupCount, Date().timeIntervalSince(start))))
        job.transform = result.transform()
        if withImportance {
            let importance = result.importance
            events?(.message("awq: quantizing with importances for \(importance.count) tensors (mean x² over "
                             + "\(set.blockCount * set.sequenceLength) calibration tokens, divided by the square of the folded scales)\n"))
            job.importance = importance
            result.importanceUsed = true
        }
        job.extraMetadata += result.metadata
        if s.mode == .scaleOnly {
            job.options = QuantizeOptions(fileType: floatFileType(file))
        }
    }
}
