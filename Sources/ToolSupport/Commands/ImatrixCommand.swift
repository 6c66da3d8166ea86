import Foundation
import SwiftGGUF

/// `gguf-imatrix -m MODEL.gguf -f CALIB.txt [-c 512] [--chunks N] [-o imatrix.gguf]`: llama-imatrix
/// (b10572): per `blk.*` matrix the sums of squared activations per input column and the token
/// counts over the text's chunks, written as a GGUF imatrix (default) or in the legacy .dat format
/// (`--output-format dat`); `--in-file` adds earlier files (alone: merges them), and
/// `--show-statistics` prints per-tensor statistics of one file. Both formats are read back by
/// `gguf-quantize --imatrix` and llama-quantize.
public enum ImatrixCommand {
    public static let spec = CommandSpec(
        name: "gguf-imatrix",
        synopsis: "-m MODEL.gguf -f CALIB.txt [-c 512] [--chunks N] [-o imatrix.gguf] [--output-format {gguf,dat}] "
            + "[--in-file F ...] [-t N] | --in-file F --show-statistics",
        summary: "Compute an importance matrix like llama-imatrix (GGUF or its legacy .dat format), for gguf-quantize --imatrix.",
        options: [
            .option("model", short: "m", value: "FILE", "the GGUF model (F32/F16 recommended), or a Hugging Face folder or "
                    + "cached model id (ORG/NAME), run as its f32 conversion built in memory (no file written)"),
            .option("file", short: "f", value: "FILE", "calibration text"),
            .option("output-file", short: "o", value: "FILE", aliases: ["output"], "where to write (default imatrix.gguf)"),
            .option("output-format", value: "{gguf,dat}", "file format (default gguf)"),
            .option("in-file", value: "FILE", "an earlier imatrix (either format) to add to; repeat or separate with commas "
                    + "(without -f: merge them)"),
            .flag("show-statistics", "print per-tensor statistics of the one --in-file and exit"),
            .option("ctx-size", short: "c", value: "N", "tokens per chunk (default 512)"),
            .option("batch-size", short: "b", value: "N", "tokens per pass (default 2048: chunks side by side; the sums are the same)"),
            .option("ubatch-size", value: "N", aliases: ["ub"], "micro-batch size: with several chunks per pass, the sums follow "
                    + "llama.cpp's split into micro-batches of this many tokens (default 512)"),
            .flag("kv-unified", aliases: ["kvu"], "add up rows in order, as llama-imatrix with a unified KV cache (and older versions)"),
            .option("chunks", value: "N", "use at most N chunks (default: all)"),
            .option("chunk", value: "N", aliases: ["from-chunk"], "skip the first N chunks of the text"),
            .option("threads", short: "t", value: "N", "threads (default: all cores)"),
            .option("flash-attn", value: "on|off|auto", aliases: ["fa"],
                    "flash attention (default auto = on, as llama-imatrix b10572 on the CPU; off = its -fa off sums)"),
            .flag("process-output", "also collect output.weight"),
            .flag("no-ppl", "do not compute perplexity"),
            .flag("ppl", "compute perplexity (the default)"),
            .flag("escape", short: "e", "process escapes (\\n, \\t, ...) in the text (llama-imatrix's default: off)"),
            .flag("no-escape", "do not process escapes in the text (the default)"),
            .flag("parse-special", "parse special tokens in the text"),
            .flag("force", "replace the output file if it exists"),
            .flag("quiet", short: "q", "no progress line"),
        ],
        positionals: [], minPositionals: 0, maxPositionals: 0)

    enum Format { case gguf, dat }

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        var format = Format.gguf
        if let f = a.value("output-format") {
            switch f {
            case "gguf": format = .gguf
            case "dat": format = .dat
            default: throw ToolError.usage("invalid output format '\(f)': expected gguf or dat", command: spec.name)
            }
        }
        let inFiles = a.all("in-file").flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let contextLength = try a.int("ctx-size", default: 512, range: 1...1_048_576)

        if a.has("show-statistics") {
            guard inFiles.count == 1 else {
                throw ToolError.usage("a single imatrix file (--in-file) is required to compute tensor statistics", command: spec.name)
            }
            let stats = try load(inFiles, chunkSize: contextLength)
            let report = ImportanceReport(stats)
            for s in report.skipped { console.err("compute_statistics: \(s)\n") }
            guard !report.rows.isEmpty else { throw ToolError.failure("cannot compute statistics for \(inFiles[0])") }
            console.out(report.text(file: inFiles[0]))
            return
        }

        let outPath = a.value("output-file") ?? "imatrix.gguf"
        let textPath = a.value("file")
        let modelPath = a.value("model")
        if textPath != nil && modelPath == nil { throw ToolError.usage("missing -m MODEL.gguf", command: spec.name) }
        if textPath == nil && inFiles.isEmpty {
            throw ToolError.usage("missing -f CALIB.txt (or --in-file FILE ... to combine precomputed matrices)", command: spec.name)
        }
        try OutputPath.check(outPath, inputs: [modelPath, textPath].compactMap { $0 } + inFiles, force: a.has("force"))
        if format == .gguf && a.value("output-format") == nil && !outPath.hasSuffix(".gguf") {
            console.err("gguf-imatrix: saving the imatrix in GGUF format with a suffix other than .gguf; "
                        + "for the previous imatrix format, use --output-format dat\n")
        }
        let inputs = inFiles.isEmpty ? nil : try load(inFiles, chunkSize: contextLength)

        let stats: ImportanceStatistics
        var result: PerplexityResult?
        if let textPath, let modelPath {
            var o = ImatrixOptions()
            o.contextLength = contextLength
            o.batchSize = try a.int("batch-size", default: 2048, range: 1...1_048_576)
            o.chunks = try a.int("chunks", default: -1)
            o.skipChunks = try a.int("chunk", default: 0, range: 0...Int(Int32.max))
            o.threads = try a.int("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), range: 1...1024)
            o.processOutput = a.has("process-output")
            o.computePerplexity = !a.has("no-ppl")
            o.processEscapes = a.has("escape") && !a.has("no-escape")
            if let fa = a.value("flash-attn") {
                guard let mode = FlashAttentionMode(rawValue: fa) else {
                    throw ToolError.usage("-fa takes on, off or auto, not '\(fa)'", command: spec.name)
                }
                o.flashAttention = mode
            }
            let text = try TokenizeCommand.readTextFile(textPath)
            let model = try openModel(modelPath, quiet: a.has("quiet"), console: console)
            // llama-imatrix records the prompt file as given on the command line.
            let microBatch = a.has("kv-unified") ? nil : try a.int("ubatch-size", default: 512, range: 1...1_048_576)
            (stats, result) = try model.importanceStatistics(
                text: text, dataset: textPath, options: o, parseSpecial: a.has("parse-special"), inputs: inputs, microBatch: microBatch,
                output: { s, stream in if stream == .result { console.out(s) } else { console.err(s) } },
                progress: PerplexityCommand.progressPrinter(console, quiet: a.has("quiet")))
        } else if let inputs {
            stats = inputs
        } else {
            return
        }
        var line = "gguf-imatrix: wrote \(outPath)"
        do {
            switch format {
            case .gguf:
                try stats.write(to: outPath, replace: a.has("force"))
                line += " (GGUF): \(stats.entries.count) entries"
            case .dat:
                let m = stats.legacy(chunkSize: contextLength, dataset: textPath)
                try m.write(to: outPath, replace: a.has("force"))
                line += " (.dat): \(m.entries.count) entries"
            }
        } catch {
            throw ToolError.failure(String(describing: error))
        }
        line += ", \(stats.chunkCount) chunks"
        if let result { line += String(format: ", %.1f tokens/s", result.tokensPerSecond) }
        console.err(line + "\n")
    }

    /// Reads and adds up `files` (llama-imatrix `load_imatrix`, one after the other).
    static func load(_ files: [String], chunkSize: Int) throws -> ImportanceStatistics {
        var s = ImportanceStatistics.empty(chunkSize: chunkSize)
        for f in files {
            do {
                switch try ImportanceMatrixFile(path: f) {
                case .legacy(let m): try s.merge(m, file: f)
                case .gguf(let g): try s.merge(g, file: f)
                }
            } catch {
                throw ToolError.failure("failed to load \(f): \(String(describing: error))")
            }
        }
        return s
    }
}
