import Foundation
import SwiftGGUF

/// `gguf-imatrix -m MODEL.gguf -f CALIB.txt [-c 512] [--chunks N] [-o imatrix.dat]`: llama-imatrix
/// (b4748): per-column mean squared activations of every `blk.*` matrix over the text's chunks,
/// written in its legacy binary format (read back by `gguf-quantize --imatrix` and llama-quantize).
public enum ImatrixCommand {
    public static let spec = CommandSpec(
        name: "gguf-imatrix",
        synopsis: "-m MODEL.gguf -f CALIB.txt [-c 512] [--chunks N] [-o imatrix.dat] [-t N]",
        summary: "Compute an importance matrix like llama-imatrix (its .dat format), for gguf-quantize --imatrix.",
        options: [
            .option("model", short: "m", value: "FILE", "the GGUF model (F32/F16 recommended)"),
            .option("file", short: "f", value: "FILE", "calibration text"),
            .option("output-file", short: "o", value: "FILE", "where to write (default imatrix.dat)"),
            .option("ctx-size", short: "c", value: "N", "tokens per chunk (default 512)"),
            .option("batch-size", short: "b", value: "N", "tokens per pass (default 2048: chunks side by side; the sums are the same)"),
            .option("chunks", value: "N", "use at most N chunks (default: all)"),
            .option("chunk", value: "N", "skip the first N chunks of the text"),
            .option("threads", short: "t", value: "N", "threads (default: all cores)"),
            .flag("process-output", "also collect output.weight"),
            .flag("no-ppl", "do not compute perplexity"),
            .flag("no-escape", "do not process escapes in the text"),
            .flag("force", "replace the output file if it exists"),
            .flag("quiet", short: "q", "no progress line"),
        ],
        positionals: [], minPositionals: 0, maxPositionals: 0)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        guard let modelPath = a.value("model") else { throw ToolError.usage("missing -m MODEL.gguf", command: spec.name) }
        guard let textPath = a.value("file") else { throw ToolError.usage("missing -f CALIB.txt", command: spec.name) }
        let outPath = a.value("output-file") ?? "imatrix.dat"
        var o = ImatrixOptions()
        o.contextLength = try a.int("ctx-size", default: 512, range: 1...1_048_576)
        o.batchSize = try a.int("batch-size", default: 2048, range: 1...1_048_576)
        o.chunks = try a.int("chunks", default: -1)
        o.skipChunks = try a.int("chunk", default: 0, range: 0...Int(Int32.max))
        o.threads = try a.int("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), range: 1...1024)
        o.processOutput = a.has("process-output")
        o.computePerplexity = !a.has("no-ppl")
        o.processEscapes = !a.has("no-escape")
        try OutputPath.check(outPath, inputs: [modelPath, textPath], force: a.has("force"))

        let text = try TokenizeCommand.readTextFile(textPath)
        let model = try GGUFModel(path: modelPath)
        // llama-imatrix records the prompt file as given on the command line.
        let (matrix, result) = try model.importanceMatrix(
            text: text, dataset: textPath, options: o,
            output: { s, stream in if stream == .result { console.out(s) } else { console.err(s) } },
            progress: PerplexityCommand.progressPrinter(console, quiet: a.has("quiet")))
        do { try matrix.write(to: outPath, replace: a.has("force")) } catch { throw ToolError.failure(error.description) }
        var line = "gguf-imatrix: wrote \(outPath): \(matrix.entries.count) entries, \(matrix.chunkCount ?? 0) chunks"
        if let result { line += String(format: ", %.1f tokens/s", result.tokensPerSecond) }
        console.err(line + "\n")
    }
}
