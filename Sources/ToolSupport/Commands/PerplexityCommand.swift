import Foundation
import SwiftGGUF

/// `gguf-ppl -m MODEL.gguf -f TEXT [-c 512] [-b 2048] [--chunks N] [-t N] [--kl-divergence-base F]
/// [--kl-divergence] [-fa on|off|auto] [--json]`: llama-perplexity's interface and printed figures (running `[i]ppl,`
/// values and the final estimate on the same streams: figures on stdout, information on stderr).
public enum PerplexityCommand {
    public static let spec = CommandSpec(
        name: "gguf-ppl",
        synopsis: "-m MODEL.gguf -f TEXT [-c 512] [--chunks N] [-t N] [--kl-divergence-base FILE [--kl-divergence]]",
        summary: "Perplexity of a GGUF model over a text, with llama-perplexity's chunking and figures; "
            + "KL-divergence against a base model's saved log-probabilities.",
        options: [
            .option("model", short: "m", value: "FILE", "the GGUF model"),
            .option("file", short: "f", value: "FILE", "the text (e.g. wiki.test.raw); not needed with --kl-divergence"),
            .option("ctx-size", short: "c", value: "N", "tokens per chunk (default 512)"),
            .option("batch-size", short: "b", value: "N", "tokens per pass (default 2048: 4 chunks of 512 side by side)"),
            .option("chunks", value: "N", "evaluate at most N chunks (default: all)"),
            .option("threads", short: "t", value: "N", "threads (default: all cores)"),
            .option("flash-attn", value: "on|off|auto", aliases: ["fa"],
                    "flash attention (default auto = on, as llama.cpp b10572 on the CPU; off = b4748's figures)"),
            .option("kl-divergence-base", value: "FILE", "save the log-probabilities here (or, with --kl-divergence, read them)"),
            .flag("kl-divergence", "compare the model with the base file given by --kl-divergence-base"),
            .option("ppl-output-type", value: "0|1", "0: [i]ppl, figures (default); 1: one line per chunk"),
            .flag("no-escape", "do not process escapes (\\n, \\t, \\xHH, ...) in the text (llama.cpp processes them by default)"),
            .flag("json", "print the results as JSON on stdout (the usual figures go to stderr)"),
            .flag("quiet", short: "q", "no progress line"),
        ],
        positionals: [], minPositionals: 0, maxPositionals: 0)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        guard let modelPath = a.value("model") else { throw ToolError.usage("missing -m MODEL.gguf", command: spec.name) }
        var opts = PerplexityOptions()
        opts.contextLength = try a.int("ctx-size", default: 512, range: 1...1_048_576)
        opts.batchSize = try a.int("batch-size", default: 2048, range: 1...1_048_576)
        opts.chunks = try a.int("chunks", default: -1)
        opts.threads = try a.int("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), range: 1...1024)
        opts.outputType = try a.int("ppl-output-type", default: 0, range: 0...1)
        if let fa = a.value("flash-attn") {
            guard let mode = FlashAttentionMode(rawValue: fa) else {
                throw ToolError.usage("-fa takes on, off or auto, not '\(fa)'", command: spec.name)
            }
            opts.flashAttention = mode
        }
        opts.klDivergenceBase = a.value("kl-divergence-base")
        opts.klDivergence = a.has("kl-divergence")
        if opts.klDivergence && opts.klDivergenceBase == nil {
            throw ToolError.usage("--kl-divergence needs --kl-divergence-base FILE (the base model's saved log-probabilities)",
                                  command: spec.name)
        }
        let textPath = a.value("file")
        if !opts.klDivergence && textPath == nil { throw ToolError.usage("missing -f TEXT", command: spec.name) }
        if !opts.klDivergence, let base = opts.klDivergenceBase {
            try OutputPath.check(base, inputs: [modelPath] + (textPath.map { [$0] } ?? []), force: true)
        }
        let json = a.has("json")

        // Read the text before loading the model, so a wrong path fails at once.
        var text: [UInt8] = []
        if !opts.klDivergence, let textPath { text = try TokenizeCommand.readTextFile(textPath) }
        let model = try GGUFModel(path: modelPath)
        let output: (String, PerplexityStream) -> Void = { s, stream in
            switch stream {
            case .result where !json: console.out(s)
            default: console.err(s)
            }
        }
        let progress = progressPrinter(console, quiet: a.has("quiet"))
        let result = opts.klDivergence
            ? try model.klDivergence(options: opts, output: output, progress: progress)
            : try model.perplexity(text: text, options: opts, processEscapes: !a.has("no-escape"), output: output, progress: progress)
        console.err(String(format: "perplexity: %.2f s, %.1f tokens/s over %d chunks of %d\n",
                           result.seconds, result.tokensPerSecond, result.chunks, result.contextLength))
        if json { console.out(result.json() + "\n") }
    }

    /// Chunks done, tokens/s and ETA, redrawn in place on a terminal (nothing otherwise or with `quiet`).
    static func progressPrinter(_ console: any Console, quiet: Bool) -> (PerplexityProgress) -> Void {
        let silent = quiet || !console.errIsTerminal
        return { p in
            guard !silent else { return }
            console.err(String(format: "\r[%d/%d] %.1f tok/s, ETA %.0f s   ", p.chunksDone, p.chunks, p.tokensPerSecond, p.etaSeconds)
                        + (p.chunksDone == p.chunks ? "\n" : ""))
        }
    }
}
