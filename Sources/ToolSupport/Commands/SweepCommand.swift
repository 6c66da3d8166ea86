import Foundation
import SwiftGGUF

/// `gguf-sweep MODEL(.gguf|DIR) --types Q8_0,Q6_K,... --text TEXT [--chunks N] [--imatrix F | --awq CALIB]
/// [-o PREFIX]`: quantizes the model to each type and writes PREFIX.md, PREFIX.json and PREFIX.svg
/// with size, bits per weight, perplexity, KL-divergence (mean, 99 %), same-top rate and time.
public enum SweepCommand {
    public static let spec = CommandSpec(
        name: "gguf-sweep",
        synopsis: "MODEL.gguf|MODEL_DIR --types T1,T2,... --text TEXT [--chunks N] [--imatrix F | --awq CALIB.txt] [-o PREFIX]",
        summary: "Quantize a model to several types and compare each with the unquantized model: file size, bits per "
            + "weight, perplexity, KL-divergence (mean and 99th percentile, as llama-perplexity --kl-divergence) and "
            + "same-top-token rate. Writes PREFIX.md (table), PREFIX.json and PREFIX.svg (size vs KLD, Pareto front). "
            + "A Hugging Face folder is converted first (--outtype). Quantized models are written to a temporary "
            + "folder and removed after their measurement (--keep keeps them).",
        options: [
            .option("types", value: "T1,T2,...", "llama-quantize types to try, e.g. Q8_0,Q6_K,Q5_K_M,Q4_K_M,IQ4_XS,Q3_K_M"),
            .option("text", short: "f", value: "FILE", "the evaluation text (e.g. wiki.eval.raw)"),
            .option("output", short: "o", value: "PREFIX", "write PREFIX.md, PREFIX.json, PREFIX.svg (default: MODEL-sweep)"),
            .flag("force", "replace existing reports"),
            .option("chunks", value: "N", "evaluate at most N chunks of the text (default: all)"),
            .option("ctx-size", short: "c", value: "N", "tokens per chunk (default 512)"),
            .option("batch-size", short: "b", value: "N", "tokens per pass (default 2048)"),
            .option("threads", short: "t", value: "N", "threads (default: all cores)"),
            .option("flash-attn", value: "on|off|auto", aliases: ["fa"], "flash attention (default auto, as gguf-ppl)"),
            .option("outtype", value: "f32|auto", "type a Hugging Face folder is converted to first (default f32; auto: "
                    + "the checkpoint's precision)"),
            .option("work-dir", value: "DIR", "folder for the temporary files (default: the system's temporary folder)"),
            .flag("keep", "keep the temporary folder (converted model, base log-probabilities, quantized models)"),
            .option("imatrix", value: "FILE", "importance matrix for every type (as gguf-quantize --imatrix)"),
            .option("include-weights", value: "NAME", "use the importance matrix only for tensors whose name contains NAME (repeatable)"),
            .option("exclude-weights", value: "NAME", "do not use the importance matrix for tensors whose name contains NAME (repeatable)"),
            .option("awq", value: "CALIB.txt", "AWQ pre-scaling, calibrated for each type on this text (as gguf-quantize --awq)"),
            .option("awq-samples", value: "N", "AWQ: calibration lines to use (default 128)"),
            .option("awq-seqlen", value: "L", "AWQ: tokens per calibration block (default 512)"),
            .option("awq-grid", value: "G", "AWQ: scale-search grid points (default 20)"),
            .option("awq-search-blocks", value: "N", "AWQ: calibration blocks that score the scale candidates"),
            .option("awq-screen", value: "ROWS", "AWQ: rows of the screen that ranks the scale candidates before the best are scored exactly (default 192; 0: score every candidate exactly)"),
            .flag("awq-clip", "AWQ: also search clip limits"),
            .flag("awq-importance", "AWQ: also quantize with importances from the same calibration pass"),
            .flag("quiet", short: "q", "no progress lines"),
        ],
        positionals: ["MODEL"], minPositionals: 1, maxPositionals: 1)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        let model = a.positionals[0]
        guard let typeList = a.value("types") else { throw ToolError.usage("missing --types T1,T2,...", command: spec.name) }
        let types: [QuantOption]
        do throws(SwiftGGUFError) { types = try SweepOptions.parseTypes(typeList) } catch {
            throw ToolError.usage(error.message, command: spec.name)
        }
        guard let textPath = a.value("text") else { throw ToolError.usage("missing --text FILE", command: spec.name) }
        var options = SweepOptions(types: types, textPath: textPath)
        options.evaluation.contextLength = try a.int("ctx-size", default: 512, range: 3...1_048_576)
        options.evaluation.batchSize = try a.int("batch-size", default: 2048, range: 1...1_048_576)
        options.evaluation.chunks = try a.int("chunks", default: -1)
        let threads = try a.int("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), range: 1...1024)
        options.evaluation.threads = threads
        options.threads = threads
        if let fa = a.value("flash-attn") {
            guard let mode = FlashAttentionMode(rawValue: fa) else {
                throw ToolError.usage("-fa takes on, off or auto, not '\(fa)'", command: spec.name)
            }
            options.evaluation.flashAttention = mode
        }
        if let t = a.value("outtype") {
            guard let o = OutType(rawValue: t.lowercased()), o == .f32 || o == .auto || o == .f16 || o == .bf16 else {
                throw ToolError.usage("--outtype takes f32, f16, bf16 or auto, not '\(t)'", command: spec.name)
            }
            options.convertType = o
        }
        options.workDirectory = a.value("work-dir")
        options.keepFiles = a.has("keep")
        options.weighting = try QuantizeCommand.weighting(a, command: spec.name)

        // Everything that can be checked before the long work: the text, the model, the reports.
        _ = try TokenizeCommand.readTextFile(textPath)
        guard FileManager.default.fileExists(atPath: model) else { throw ToolError.failure("\(model): no such file or folder") }
        let prefix = a.value("output") ?? defaultPrefix(model)
        let force = a.has("force")
        var inputs = [model, textPath]
        if case .importanceMatrix(let p, _) = options.weighting { inputs.append(p) }
        if case .awq(let c) = options.weighting { inputs.append(c.calibrationText) }
        try Sweep.checkOutputs(prefix: prefix, force: force, inputs: inputs)

        let progress = SweepProgressPrinter(console: console, quiet: a.has("quiet"))
        let result = try Sweep.run(model: model, options: options) { event in
            switch event {
            case .message(let line): progress.message(line)
            case .progress(let p): progress.update(p)
            }
        }
        let paths = try Sweep.write(result, prefix: prefix, force: force, inputs: inputs)
        console.out(Sweep.markdown(result))
        console.err("gguf-sweep: wrote " + paths.joined(separator: ", ") + "\n")
    }

    /// `MODEL-sweep` in the current folder (the file name without `.gguf`, or the folder's name).
    static func defaultPrefix(_ model: String) -> String {
        var name = (model as NSString).lastPathComponent
        if name.lowercased().hasSuffix(".gguf") { name = String(name.dropLast(5)) }
        return (name.isEmpty ? "model" : name) + "-sweep"
    }
}

/// The sweep's progress on stderr: one line with the whole sweep's share, elapsed time and ETA and
/// the current step; redrawn in place on a terminal, otherwise printed every few seconds and at the
/// end of each step (as `ProgressLine`).
final class SweepProgressPrinter {
    private let console: any Console
    private let screen: StatusLine
    private let quiet: Bool

    init(console: any Console, quiet: Bool) {
        self.console = console
        self.screen = StatusLine(console: console)
        self.quiet = quiet
    }

    /// A line of information; on a terminal, the progress line is cleared first.
    func message(_ line: String) {
        screen.clear()
        console.err(line)
    }

    func update(_ p: SweepProgress) {
        guard !quiet, screen.due(force: p.total > 0 && p.done >= p.total) else { return }
        screen.draw(Self.format(p), finish: false)
    }

    static func format(_ p: SweepProgress) -> String {
        let stage: String
        switch p.stage {
        case .convert: stage = "convert"
        case .baseline: stage = "base logits"
        case .calibrate(let t): stage = "awq \(t)"
        case .quantize(let t): stage = "quantize \(t)"
        case .evaluate(let t): stage = "kld \(t)"
        }
        var line = String(format: "sweep %3.0f%% %@", 100 * p.fraction, duration(p.elapsedSeconds))
        if let eta = p.etaSeconds, p.fraction < 1 { line += ", ETA " + duration(eta) }
        line += " | \(stage) [\(p.done)/\(p.total)]"
        if !p.detail.isEmpty { line += " " + p.detail }
        return line
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t % 3600 / 60)
            : t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : "\(t)s"
    }
}
