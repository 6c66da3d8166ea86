import Foundation
import GGUF
import Quants
import Inference
import Calibration

/// `gguf-quantize [options] IN.gguf [OUT.gguf] TYPE [nthreads]`, llama-quantize's interface.
public enum QuantizeCommand {
    public static let spec = CommandSpec(
        name: "gguf-quantize",
        synopsis: "[options] model-f32.gguf [model-quant.gguf] TYPE [nthreads]",
        summary: "Quantize a GGUF model like llama-quantize (same tensor types, byte-identical blocks).\n\nAllowed quantization types:\n" + QuantOption.helpList,
        options: [
            .flag("allow-requantize", "allow quantized input tensors (they are dequantized first)"),
            .flag("leave-output-tensor", "keep output.weight as stored"),
            .flag("pure", "no k-quant mixtures: every quantizable tensor gets TYPE (shape fallbacks still apply)"),
            .option("output-tensor-type", value: "T", "ggml type for output.weight (and a tied token_embd)"),
            .option("token-embedding-type", value: "T", "ggml type for token_embd.weight"),
            .flag("dry-run", "print the per-tensor plan and the resulting size, write nothing"),
            .flag("force", short: "f", "replace OUT if it exists (only once the new file is complete)"),
            .option("threads", short: "t", value: "N", "threads (default: all cores); the trailing nthreads argument also works"),
            .flag("quiet", short: "q", "no progress line"),
            .option("imatrix", value: "FILE", "importance matrix (llama-imatrix / gguf-imatrix .dat): weighted quantizers, as llama-quantize --imatrix"),
            .option("include-weights", value: "NAME", "use the importance matrix only for tensors whose name contains NAME (repeatable)"),
            .option("exclude-weights", value: "NAME", "do not use the importance matrix for tensors whose name contains NAME (repeatable)"),
            .option("awq", value: "CALIB.txt", "AWQ pre-scaling: calibrate on this text (one sample per line) and fold the scales"),
            .option("awq-samples", value: "N", "AWQ: calibration lines to use (default 128)"),
            .option("awq-seqlen", value: "L", "AWQ: tokens per calibration block (default 512)"),
            .option("awq-grid", value: "G", "AWQ: scale-search grid points, ratios k/G for k < G (default 20)"),
            .option("awq-search-blocks", value: "N", "AWQ: calibration blocks that score the scale candidates (default: 2048 tokens' worth; 0: all)"),
            .flag("awq-clip", "AWQ: also search clip limits, against the target formats"),
            .flag("awq-only", "AWQ: write the pre-scaled model in its float types and stop (TYPE picks the formats searched for)"),
            .flag("awq-importance", "AWQ: also quantize with importances (mean x² per column) from the same calibration pass, "
                  + "adjusted for the folded scales; not with --imatrix or --awq-only"),
        ],
        positionals: ["model-f32.gguf", "TYPE"], minPositionals: 2, maxPositionals: 4)

    static func parseType(_ s: String, option: String) throws(ToolError) -> GGMLType {
        guard let t = GGMLType(name: s), Quantizer.canQuantize(t) else {
            let valid = GGMLType.allCases.filter { Quantizer.canQuantize($0) && $0 != .q8_K && $0 != .q8_1 }.map(\.name)
            throw ToolError.usage("unknown ggml type '\(s)' for --\(option); valid: \(valid.joined(separator: ", "))", command: spec.name)
        }
        return t
    }

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        var pos = a.positionals
        let input = pos.removeFirst()
        var output: String
        let option: QuantOption
        if let o = QuantOption.parse(pos[0]) {
            option = o
            let dir = (input as NSString).deletingLastPathComponent
            output = (dir.isEmpty ? "" : dir + "/") + "ggml-model-\(o.name).gguf"
            pos.removeFirst()
        } else {
            output = pos.removeFirst()
            guard let t = pos.first else { throw ToolError.usage("missing expected argument 'TYPE'", command: spec.name) }
            guard let o = QuantOption.parse(t) else {
                throw ToolError.usage("invalid quantization type '\(t)'; valid types: " +
                                      QuantOption.table.map(\.name).joined(separator: ", "), command: spec.name)
            }
            option = o
            pos.removeFirst()
        }
        var threads = try a.int("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), range: 1...1024)
        if let n = pos.first {
            guard let v = Int(n), v > 0 else { throw ToolError.usage("invalid nthreads '\(n)'", command: spec.name) }
            threads = v
            pos.removeFirst()
        }
        if let extra = pos.first { throw ToolError.usage("unexpected argument '\(extra)'", command: spec.name) }

        var opts = QuantizeOptions(fileType: option.fileType)
        opts.pure = a.has("pure")
        opts.leaveOutputTensor = a.has("leave-output-tensor")
        if let t = a.value("output-tensor-type") { opts.outputTensorType = try parseType(t, option: "output-tensor-type") }
        if let t = a.value("token-embedding-type") { opts.tokenEmbeddingType = try parseType(t, option: "token-embedding-type") }

        let awq = try AWQSettings(a)
        let include = a.all("include-weights"), exclude = a.all("exclude-weights")
        if !include.isEmpty && !exclude.isEmpty {
            throw ToolError.usage("only one of --include-weights and --exclude-weights can be given", command: spec.name)
        }
        if a.value("imatrix") == nil && !(include.isEmpty && exclude.isEmpty) {
            throw ToolError.usage("--include-weights / --exclude-weights need --imatrix FILE", command: spec.name)
        }

        let file: GGUFFile
        do { file = try GGUFFile(path: input) } catch { throw ToolError.failure(error.description) }
        if !a.has("dry-run") { try OutputPath.check(output, inputs: [input], force: a.has("force")) }

        var job = QuantizeJob(outputPath: output, options: opts)
        job.threads = threads
        job.allowRequantize = a.has("allow-requantize")
        job.replaceExisting = a.has("force")
        if let path = a.value("imatrix") {
            try loadImportance(path, include: include, exclude: exclude, file: file, job: &job, console: console)
        }

        // --awq-importance quantizes with importances: the plan follows llama-quantize's "with imatrix"
        // rules already in --dry-run, before any calibration.
        if awq?.importance == true { job.options.hasImportance = true }

        if a.has("dry-run") {
            let s: QuantizeSummary
            do { s = try ModelQuantizer.plan(file, job: job) } catch { throw ToolError.failure(error.description) }
            console.out(planTable(s))
            return
        }
        if let awq {
            try calibrate(file, settings: awq, job: &job, threads: threads, quiet: a.has("quiet"), console: console)
        }
        if awq?.only == true {
            console.err("gguf-quantize: writing the AWQ-scaled model '\(input)' to '\(output)' as \(job.options.fileType.name)\n")
        } else {
            console.err("gguf-quantize: quantizing '\(input)' to '\(output)' as \(option.name) using \(threads) threads\n")
        }
        let progress = ProgressLine(console: console, label: "quantize", total: file.tensors.count)
        progress.quiet = a.has("quiet")
        job.progress = { i, _, name in progress.update(i, name) }
        let start = Date()
        let s: QuantizeSummary
        do { s = try ModelQuantizer.run(file, job: job) } catch { throw ToolError.wrap(error) }
        console.out(summaryText(s, seconds: Date().timeIntervalSince(start)))
    }

    static func mib(_ n: Int) -> String { String(format: "%.2f MiB", Double(n) / 1048576) }

    static func summaryText(_ s: QuantizeSummary, seconds: Double) -> String {
        let n = Double(max(1, s.elementCount))
        var t = String(format: "model size  = %@ (%.2f BPW)\n", mib(s.sourceBytes), Double(s.sourceBytes) * 8 / n)
        t += String(format: "quant size  = %@ (%.2f BPW)\n", mib(s.targetBytes), s.bitsPerWeight)
        if s.fallbackCount > 0 {
            let quantized = s.plans.filter { !$0.isCopy || $0.usedFallback }.count
            t += "WARNING: \(s.fallbackCount) of \(quantized) tensor(s) required fallback quantization\n"
        }
        t += String(format: "quantize time = %8.2f ms\n", seconds * 1000)
        return t
    }

    static func planTable(_ s: QuantizeSummary) -> String {
        var t = ""
        for (i, p) in s.plans.enumerated() {
            let shape = "[" + p.shape.map { TextFormat.pad(String($0), left: 5) }.joined(separator: ", ") + "]"
            let action = p.isCopy ? "copy" : "\(p.sourceType.name) -> \(p.targetType.name)" + (p.usedFallback ? " (fallback)" : "")
            t += "[\(TextFormat.pad(String(i + 1), left: 4))/\(TextFormat.pad(String(s.plans.count), left: 4))] "
            t += TextFormat.pad(p.name, left: 36) + " - " + shape + ", " + TextFormat.pad(action, right: 24) + " "
            t += mib(p.sourceBytes) + " -> " + mib(p.targetBytes) + "\n"
        }
        return t + summaryText(s, seconds: 0).split(separator: "\n").dropLast().joined(separator: "\n") + "\n"
    }
}

// MARK: - Importance matrix (--imatrix)

extension QuantizeCommand {
    /// Reads an importance matrix like llama-quantize's `load_imatrix` (values divided by the call
    /// count, `--include-weights` / `--exclude-weights` substring filters) and records it in `job`
    /// with the `quantize.imatrix.*` keys. An entry whose size does not match its tensor is an error
    /// (reported by the plan, naming the tensor); a matrix with no entry for any of the model's
    /// quantized `blk.*` matrices is refused as belonging to another model.
    static func loadImportance(_ path: String, include: [String], exclude: [String], file: GGUFFile,
                               job: inout QuantizeJob, console: any Console) throws(ToolError) {
        let m: ImportanceMatrix
        do { m = try ImportanceMatrix(path: path) } catch { throw ToolError.failure(error.description) }
        console.err("load_imatrix: loaded \(m.entries.count) importance matrix entries from \(path)"
                    + (m.chunkCount.map { " computed on \($0) chunks" } ?? "") + "\n")
        let importance = m.importances(include: include, exclude: exclude)
        let matrices = file.tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count >= 2 }
        if !importance.isEmpty, !matrices.isEmpty, !matrices.contains(where: { importance[$0.name] != nil }) {
            throw ToolError.failure("\(path): no entry matches a tensor of '\(file.path)' (the first matrix, '\(matrices[0].name)', "
                                    + "has none; the file's entries start with '\(importance.keys.sorted().first ?? "")'): "
                                    + "an importance matrix from another model?")
        }
        for t in matrices where importance[t.name] == nil && !m.entries.isEmpty {
            console.err("gguf-quantize: did not find imatrix data for \(t.name); using no importance for it\n")
        }
        job.importance = importance
        job.extraMetadata = m.metadata(fileArgument: path, entryCount: importance.count) + job.extraMetadata
    }
}

// MARK: - AWQ (--awq)

/// The `--awq*` options.
struct AWQSettings {
    var calibrationFile: String
    var samples: Int
    var sequenceLength: Int
    var grid: Int
    var searchBlocks: Int?
    var clip: Bool
    var only: Bool
    /// `--awq-importance`: hand the calibration's importances (adjusted for the scales) to the
    /// weighted quantizers.
    var importance: Bool

    /// nil without `--awq`; a usage error when another `--awq-*` option comes without it.
    init?(_ a: ParsedArguments) throws(ToolError) {
        let name = QuantizeCommand.spec.name
        guard let f = a.value("awq") else {
            for o in ["awq-samples", "awq-seqlen", "awq-grid", "awq-search-blocks"] where a.value(o) != nil {
                throw ToolError.usage("--\(o) needs --awq CALIB.txt", command: name)
            }
            for o in ["awq-clip", "awq-only", "awq-importance"] where a.has(o) {
                throw ToolError.usage("--\(o) needs --awq CALIB.txt", command: name)
            }
            return nil
        }
        calibrationFile = f
        samples = try a.int("awq-samples", default: 128, range: 1...1_000_000)
        sequenceLength = try a.int("awq-seqlen", default: 512, range: 1...1_048_576)
        grid = try a.int("awq-grid", default: 20, range: 1...1000)
        searchBlocks = a.value("awq-search-blocks") == nil ? nil : try a.int("awq-search-blocks", default: 0, range: 0...1_000_000)
        clip = a.has("awq-clip")
        only = a.has("awq-only")
        importance = a.has("awq-importance")
        if importance && only {
            throw ToolError.usage("--awq-importance has no effect with --awq-only (nothing is quantized); drop one of them",
                                  command: name)
        }
        if importance && a.value("imatrix") != nil {
            throw ToolError.usage("--awq-importance and --imatrix FILE both supply the quantizer's importances; "
                                  + "use one or the other", command: name)
        }
    }
}

extension QuantizeCommand {
    /// The float ftype `--awq-only` keeps: that of the block matrices (F16, BF16, else F32).
    static func floatFileType(_ file: GGUFFile) -> FileType {
        switch file.tensor(named: LinearRole.attnQ.weightName(layer: 0))?.type {
        case .f16?: return .mostlyF16
        case .bf16?: return .mostlyBF16
        default: return .allF32
        }
    }

    /// Runs AWQ calibration and sets `job`'s transform and metadata (and, for `--awq-only`, its
    /// float file type). Nothing is written here.
    static func calibrate(_ file: GGUFFile, settings s: AWQSettings, job: inout QuantizeJob, threads: Int, quiet: Bool,
                          console: any Console) throws(ToolError) {
        let plan: QuantizeSummary
        do {
            try AWQCalibrator.checkSupported(file)
            plan = try ModelQuantizer.plan(file, job: job)
        } catch {
            throw ToolError.failure(String(describing: error))
        }
        var types: [String: GGMLType] = [:]
        for p in plan.plans { types[p.name] = p.targetType }
        if s.importance {
            // The file will be written with importances, which changes llama-quantize's plan (Q4_0 /
            // Q5_0 ffn_down of the first layers): search against the types it will really get.
            var options = job.options
            options.hasImportance = true
            let facts: ModelFacts
            do { facts = try ModelQuantizer.facts(of: file) } catch { throw ToolError.failure(error.description) }
            for p in TypePlanner.plan(tensors: file.tensors.map { ($0.name, $0.shape, $0.type) }, facts: facts, options: options) {
                types[p.name] = p.targetType
            }
        }
        let vocab: GGUFVocabulary
        do { vocab = try GGUFVocabulary(file: file) } catch { throw ToolError.failure(error.description) }
        let set: CalibrationSet
        do {
            set = try CalibrationSet(textFile: s.calibrationFile, vocabulary: vocab, samples: s.samples, sequenceLength: s.sequenceLength)
        } catch { throw ToolError.failure(error.description) }
        let model: LanguageModel
        do { model = try LanguageModel(file: file) } catch { throw ToolError.failure(error.description) }
        var options = AWQOptions()
        options.grid = s.grid
        options.clip = s.clip
        options.searchBlocks = s.searchBlocks
        options.threads = threads
        let calibrator: AWQCalibrator
        do {
            calibrator = try AWQCalibrator(model: model, targetTypes: types, sequenceLength: s.sequenceLength, options: options)
        } catch { throw ToolError.failure(error.description) }
        let groups = AWQGroup.groups(for: model.config).map(\.rawValue).joined(separator: "; ")
        let scored = AWQCalibrator.searchBlocks(set.blockCount, sequenceLength: set.sequenceLength, s.searchBlocks)
        console.err("awq: '\(s.calibrationFile)': \(set.lineCount) lines, \(set.streamLength) tokens -> \(set.blockCount) blocks of "
                    + "\(set.sequenceLength) (\(scored) scored); grid \(s.grid)\(s.clip ? ", clip" : "")"
                    + "\(s.importance ? ", importance" : ""); "
                    + "targets \(job.options.fileType.name); groups: \(groups)\n")
        let progress = ProgressLine(console: console, label: "awq", total: model.config.blockCount)
        progress.quiet = quiet
        let start = Date()
        var result: AWQResult
        do {
            result = try calibrator.run(set, calibrationFile: s.calibrationFile) { done, _, detail in progress.update(done, detail) }
        } catch { throw ToolError.failure(error.description) }
        console.err(String(format: "awq: calibrated %d groups in %.1f s\n", result.groupCount, Date().timeIntervalSince(start)))
        job.transform = result.transform()
        if s.importance {
            let importance = result.importance
            console.err("awq: quantizing with importances for \(importance.count) tensors (mean x² over \(set.blockCount * set.sequenceLength) "
                        + "calibration tokens, divided by the square of the folded scales)\n")
            job.importance = importance
            result.importanceUsed = true
        }
        job.extraMetadata += result.metadata
        if s.only {
            job.options = QuantizeOptions(fileType: floatFileType(file))
        }
    }
}
