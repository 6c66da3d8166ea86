import Foundation
import SwiftGGUF

/// `hf2gguf MODEL_DIR --outtype Q4_K_M [quantizer options]`: the folder straight to a quantized GGUF,
/// with no intermediate file (`OnePassQuantization`).
///
/// Naming: lower-case `--outtype` values are the converter's (`f32`, `f16`, `bf16`, `q8_0`, `auto`,
/// spelled as convert_hf_to_gguf.py's choices); the upper-case names gguf-quantize --help lists
/// (`Q4_K_M`, `IQ4_XS`, `Q8_0`, `F16`, ...; llama-quantize's own spelling) quantize in one pass:
/// `Q8_0` is llama-quantize's Q8_0 (its metadata and tensor plan), `q8_0` convert_hf_to_gguf.py's.
enum OnePassCommand {
    /// The options hf2gguf adds for a one-pass quantization (gguf-quantize's, same meaning).
    static let options: [OptionSpec] = [
        .option("imatrix", value: "FILE", "with a quantization --outtype: importance matrix (GGUF or legacy .dat), as gguf-quantize --imatrix"),
        .option("include-weights", value: "NAME", "with --imatrix: use it only for tensors whose name contains NAME (repeatable)"),
        .option("exclude-weights", value: "NAME", "with --imatrix: not for tensors whose name contains NAME (repeatable)"),
        .option("tensor-type", value: "NAME_REGEX=T", "with a quantization --outtype: ggml type T for matching tensors (repeatable)"),
        .option("tensor-type-file", value: "FILE", "with a quantization --outtype: NAME_REGEX=T items (repeatable)"),
        .option("output-tensor-type", value: "T", "with a quantization --outtype: ggml type for output.weight"),
        .option("token-embedding-type", value: "T", "with a quantization --outtype: ggml type for token_embd.weight"),
        .flag("pure", "with a quantization --outtype: no k-quant mixture"),
        .flag("leave-output-tensor", "with a quantization --outtype: keep output.weight in f32"),
        .option("override-kv", value: "KEY=TYPE:VALUE", "with a quantization --outtype: set metadata, as gguf-quantize (repeatable)"),
        .option("prune-layers", value: "L0,L1,...", "with a quantization --outtype: drop these blocks, as gguf-quantize"),
        .option("awq", value: "CALIB.txt", "with a quantization --outtype: AWQ pre-scaling calibrated on this text, on the "
                + "checkpoint directly (its f32 conversion in memory), as gguf-quantize --awq"),
        .option("awq-samples", value: "N", "AWQ: calibration lines to use (default 128)"),
        .option("awq-seqlen", value: "L", "AWQ: tokens per calibration block (default 512)"),
        .option("awq-grid", value: "G", "AWQ: scale-search grid points, ratios k/G for k < G (default 20)"),
        .option("awq-search-blocks", value: "N", "AWQ: calibration blocks that score the scale candidates (default: 2048 tokens' worth; 0: all)"),
        .flag("awq-clip", "AWQ: also search clip limits, against the target formats"),
        .flag("awq-only", "AWQ: write the pre-scaled model in its float types (the --outtype picks the formats searched for)"),
        .flag("awq-importance", "AWQ: also quantize with importances from the same calibration pass; not with --imatrix or --awq-only"),
    ]

    /// The llama-quantize option named by `outtype`, spelled as gguf-quantize --help lists it (upper
    /// case: `Q4_K_M`, `IQ4_XS`, `Q8_0`, `F16`, `COPY`). Lower-case names are the converter's, as
    /// convert_hf_to_gguf.py's choices are; ftype numbers are not taken.
    static func quantOption(_ outtype: String) -> QuantOption? {
        QuantOption.table.first { $0.name == outtype }
    }

    /// For an invalid `--outtype`: the gguf-quantize type it may mean (`q4_k_m` → `Q4_K_M`).
    static func hint(_ outtype: String) -> String {
        guard let o = QuantOption.table.first(where: { $0.name.lowercased() == outtype.lowercased() }) else {
            return "; or a gguf-quantize type (upper case, as gguf-quantize --help lists them: Q4_K_M, IQ4_XS, Q8_0, ...)"
        }
        return "; or, to quantize in one pass, the gguf-quantize type \(o.name) (upper case)"
    }

    /// Quantizer options given without a quantization `--outtype`.
    static let quantizerOnly = ["imatrix", "include-weights", "exclude-weights", "tensor-type", "tensor-type-file",
                                "output-tensor-type", "token-embedding-type", "override-kv", "prune-layers", "awq",
                                "awq-samples", "awq-seqlen", "awq-grid", "awq-search-blocks"]

    /// Refuses quantizer options for a plain conversion.
    static func checkUnused(_ a: ParsedArguments) throws(ToolError) {
        for o in quantizerOnly where a.value(o) != nil {
            throw ToolError.usage("--\(o) needs a quantization --outtype (Q4_K_M, IQ4_XS, ...: the types of gguf-quantize)",
                                  command: ConvertCommand.spec.name)
        }
        for o in ["pure", "leave-output-tensor", "awq-clip", "awq-only", "awq-importance"] where a.has(o) {
            throw ToolError.usage("--\(o) needs a quantization --outtype (Q4_K_M, IQ4_XS, ...: the types of gguf-quantize)",
                                  command: ConvertCommand.spec.name)
        }
    }

    /// A gguf-quantize usage error re-labelled for hf2gguf.
    static func relabel<T>(_ body: () throws(ToolError) -> T) throws(ToolError) -> T {
        do { return try body() } catch {
            if case .usage(let m, _) = error { throw ToolError.usage(m, command: ConvertCommand.spec.name) }
            throw error
        }
    }

    static func run(_ a: ParsedArguments, args: [String], directory dir: String, option: QuantOption, convert o: ConvertOptions,
                    console: any Console) throws {
        let name = ConvertCommand.spec.name
        if a.has("vocab-only") { throw ToolError.usage("--vocab-only writes no tensors: it cannot be quantized", command: name) }
        let include = a.all("include-weights"), exclude = a.all("exclude-weights")
        if !include.isEmpty && !exclude.isEmpty {
            throw ToolError.usage("only one of --include-weights and --exclude-weights can be given", command: name)
        }
        if a.value("imatrix") == nil && !(include.isEmpty && exclude.isEmpty) {
            throw ToolError.usage("--include-weights / --exclude-weights need --imatrix FILE", command: name)
        }
        var q = QuantizationRequest(input: dir, output: "", fileType: option.fileType)
        q.onlyCopy = option.onlyCopy
        q.tensorTypes = try relabel { () throws(ToolError) in try QuantizeCommand.tensorTypes(a, args: args) }
        q.pruneLayers = try relabel { () throws(ToolError) in try QuantizeCommand.pruneLayers(a) }
        for kv in a.all("override-kv") {
            do throws(QuantizeError) { q.metadataOverrides.append(try MetadataOverride(parsing: kv)) } catch {
                throw ToolError.usage(error.message, command: name)
            }
        }
        q.pure = a.has("pure")
        q.leaveOutputTensor = a.has("leave-output-tensor")
        if let t = a.value("output-tensor-type") {
            q.outputTensorType = try relabel { () throws(ToolError) in try QuantizeCommand.parseType(t, option: "output-tensor-type") }
        }
        if let t = a.value("token-embedding-type") {
            q.tokenEmbeddingType = try relabel { () throws(ToolError) in try QuantizeCommand.parseType(t, option: "token-embedding-type") }
        }
        // --imatrix and the --awq options, with gguf-quantize's rules.
        q.weighting = try QuantizeCommand.weighting(a, command: name)
        q.threads = o.threads
        q.replaceExisting = o.force
        var r = OnePassRequest(modelDirectory: dir, quantization: q, typeLabel: option.name)
        r.convert = o
        if let s = try ConvertCommand.splitLimits(a) {
            r.split = OutputSplit(maxTensors: s.tensors, maxBytes: s.bytes, noTensorsInFirst: s.smallFirst)
        }

        var bars: [QuantizationStage: ProgressLine] = [:]
        let events: (QuantizationEvent) -> Void = { event in
            switch event {
            case .message(let line): console.err(line)
            case .notice(let line): console.err("hf2gguf: " + line)
            case .progress(let stage, let done, let total, let detail):
                let bar = bars[stage] ?? {
                    let b = ProgressLine(console: console, label: stage == .awq ? "awq" : "hf2gguf", total: total)
                    b.quiet = a.has("quiet")
                    bars[stage] = b
                    return b
                }()
                bar.update(done, detail)
            }
        }
        if a.has("dry-run") {
            let report = try OnePassQuantization.plan(r, events: events)
            console.out("output: " + report.outputPaths.joined(separator: ", ") + "\n")
            console.out(QuantizeCommand.planTable(report.summary))
            if report.summary.needsImportance {
                console.err("hf2gguf: WARNING: dry run completed successfully, but actually completing this quantization will require an imatrix!\n")
            }
            return
        }
        let report = try OnePassQuantization.run(r, events: events)
        for p in report.outputPaths { console.err("hf2gguf: wrote \(p)\n") }
        console.out(QuantizeCommand.totalsText(report.summary) + String(format: "time = %8.2f s\n", report.seconds))
    }
}
