import Foundation
import SwiftGGUF

/// `gguf-quantize [options] IN.gguf [OUT.gguf] TYPE [nthreads]`, llama-quantize's interface
/// (or `--target-bpw B | --target-size S IN OUT [nthreads]`: types chosen for a size).
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
            .option("tensor-type", value: "NAME_REGEX=T", "quantize tensors whose name matches NAME_REGEX (searched, lower-cased) "
                    + "to ggml type T, over the mixture and --pure (repeatable; the first match wins)"),
            .option("tensor-type-file", value: "FILE", "NAME_REGEX=T items separated by spaces or newlines (repeatable)"),
            .option("prune-layers", value: "L0,L1,...", "drop these blocks (later blocks are renumbered, block_count follows)"),
            .option("override-kv", value: "KEY=TYPE:VALUE", "set metadata in the output; TYPE int (written as u32), float, "
                    + "bool or str (repeatable)"),
            .flag("dry-run", "print each tensor's type and size, the totals and bits per weight; write nothing"),
            .flag("keep-split", "with a split model (its first file NAME-00001-of-0000N.gguf): write the output split the "
                  + "same way, OUT-00001-of-0000N.gguf ... (OUT without .gguf), as llama-quantize --keep-split"),
            .flag("force", short: "f", "replace OUT if it exists (only once the new file is complete)"),
            .option("threads", short: "t", value: "N", "threads (default: all cores); the trailing nthreads argument also works"),
            .flag("quiet", short: "q", "no progress line"),
            .option("imatrix", value: "FILE", "importance matrix (llama-imatrix / gguf-imatrix, GGUF or legacy .dat): weighted quantizers, as llama-quantize --imatrix"),
            .option("include-weights", value: "NAME", "use the importance matrix only for tensors whose name contains NAME (repeatable)"),
            .option("exclude-weights", value: "NAME", "do not use the importance matrix for tensors whose name contains NAME (repeatable)"),
            .option("awq", value: "CALIB.txt", "AWQ pre-scaling: calibrate on this text (one sample per line) and fold the scales"),
            .option("awq-samples", value: "N", "AWQ: calibration lines to use (default 128)"),
            .option("awq-seqlen", value: "L", "AWQ: tokens per calibration block (default 512)"),
            .option("awq-grid", value: "G", "AWQ: scale-search grid points, ratios k/G for k < G (default 20)"),
            .option("awq-search-blocks", value: "N", "AWQ: calibration blocks that score the scale candidates (default: 2048 tokens' worth; 0: all)"),
            .option("awq-screen", value: "ROWS", "AWQ: rows of the screen that ranks the scale candidates before the best are scored exactly (default 192; 0: score every candidate exactly)"),
            .flag("awq-clip", "AWQ: also search clip limits, against the target formats"),
            .flag("awq-only", "AWQ: write the pre-scaled model in its float types and stop (TYPE picks the formats searched for)"),
            .flag("awq-importance", "AWQ: also quantize with importances (mean x² per column) from the same calibration pass, "
                  + "adjusted for the folded scales; not with --imatrix or --awq-only"),
        ] + sizeTargetOptions,
        positionals: ["model-f32.gguf", "TYPE"], minPositionals: 2, maxPositionals: 4)

    /// A ggml type name, any case (llama-quantize's `parse_ggml_type`). Whether this build can
    /// quantize to it is checked with the plan, before anything is written.
    static func parseType(_ s: String, option: String) throws(ToolError) -> GGMLType {
        guard let t = GGMLType(name: s) else {
            throw ToolError.usage("unknown ggml type '\(s)' for --\(option); valid: "
                                  + GGMLType.allCases.map(\.name).joined(separator: ", "), command: spec.name)
        }
        return t
    }

    /// `--tensor-type` and `--tensor-type-file` items, in command-line order.
    static func tensorTypes(_ a: ParsedArguments, args: [String]) throws(ToolError) -> [TensorTypeOverride] {
        var out: [TensorTypeOverride] = []
        // The parser keeps each option's values apart; walk the arguments to restore their order.
        var items = a.all("tensor-type").map { (true, $0) } + a.all("tensor-type-file").map { (false, $0) }
        if !a.all("tensor-type").isEmpty && !a.all("tensor-type-file").isEmpty {
            items = []
            var direct = a.all("tensor-type")[...], files = a.all("tensor-type-file")[...]
            for arg in args {
                if (arg == "--tensor-type" || arg.hasPrefix("--tensor-type=")), let v = direct.popFirst() { items.append((true, v)) }
                if (arg == "--tensor-type-file" || arg.hasPrefix("--tensor-type-file=")), let v = files.popFirst() { items.append((false, v)) }
            }
        }
        for (direct, value) in items {
            do throws(QuantizeError) {
                if direct {
                    out.append(try TensorTypeOverride(parsing: value))
                } else {
                    guard let text = try? String(contentsOfFile: value, encoding: .utf8) else {
                        throw QuantizeError("--tensor-type-file: cannot read '\(value)'")
                    }
                    out += try TensorTypeOverride.parse(fileContents: text, file: value)
                }
            } catch {
                throw ToolError.usage(error.message, command: spec.name)
            }
        }
        return out
    }

    /// `--prune-layers 1,2,...`: non-negative block numbers.
    static func pruneLayers(_ a: ParsedArguments) throws(ToolError) -> [Int] {
        var out: [Int] = []
        for list in a.all("prune-layers") {
            for item in list.split(separator: ",", omittingEmptySubsequences: false) {
                guard let v = Int(item.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                    throw ToolError.usage("--prune-layers: invalid layer id '\(item)' in '\(list)'", command: spec.name)
                }
                out.append(v)
            }
        }
        return Array(Set(out)).sorted()
    }

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        var pos = a.positionals
        let input = pos.removeFirst()
        var output: String
        let option: QuantOption
        let target = try sizeTarget(a)
        if let target {
            // --target-bpw / --target-size choose the types: IN OUT [nthreads], no TYPE.
            output = try targetOutput(&pos, target: target)
            guard let placeholder = QuantOption.parse("Q8_0") else { throw ToolError.usage("no Q8_0 option", command: spec.name) }
            option = placeholder
        } else if let o = QuantOption.parse(pos[0]) {
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

        var request = QuantizationRequest(input: input, output: output, fileType: option.fileType)
        request.onlyCopy = option.onlyCopy
        request.tensorTypes = try tensorTypes(a, args: args)
        request.pruneLayers = try pruneLayers(a)
        for kv in a.all("override-kv") {
            do throws(QuantizeError) { request.metadataOverrides.append(try MetadataOverride(parsing: kv)) } catch {
                throw ToolError.usage(error.message, command: spec.name)
            }
        }
        request.pure = a.has("pure")
        request.leaveOutputTensor = a.has("leave-output-tensor")
        if let t = a.value("output-tensor-type") { request.outputTensorType = try parseType(t, option: "output-tensor-type") }
        if let t = a.value("token-embedding-type") { request.tokenEmbeddingType = try parseType(t, option: "token-embedding-type") }
        request.threads = threads
        request.allowRequantize = a.has("allow-requantize")
        request.replaceExisting = a.has("force")
        request.weighting = try weighting(a)

        let quiet = a.has("quiet")
        var bars: [QuantizationStage: ProgressLine] = [:]
        let events: (QuantizationEvent) -> Void = { event in
            switch event {
            case .message(let line): console.err(line)
            case .notice(let line): console.err("gguf-quantize: " + line)
            case .progress(let stage, let done, let total, let detail):
                let bar = bars[stage] ?? {
                    let b = ProgressLine(console: console, label: stage.rawValue, total: total)
                    b.quiet = quiet
                    bars[stage] = b
                    return b
                }()
                bar.update(done, detail)
            }
        }
        if let target {
            try runSizeTarget(request, target: target, a, console: console, events: events)
            return
        }
        if a.has("keep-split") {
            return try runKeepingSplit(request, dryRun: a.has("dry-run"), events: events, console: console)
        }
        if a.has("dry-run") {
            let summary = try Quantization.plan(request, events: events)
            console.out(planTable(summary))
            if summary.needsImportance {
                console.err("gguf-quantize: WARNING: dry run completed successfully, but actually completing this quantization will require an imatrix!")
            }
            return
        }
        let report = try Quantization.run(request, events: events)
        console.out(summaryText(report.summary, seconds: report.quantizeSeconds))
    }

    static func filter(_ include: [String], _ exclude: [String]) -> ImportanceFilter {
        !include.isEmpty ? .include(include) : !exclude.isEmpty ? .exclude(exclude) : .all
    }

    /// `--imatrix` / `--include-weights` / `--exclude-weights` / `--awq*` as one typed value.
    static func weighting(_ a: ParsedArguments, command: String = spec.name) throws(ToolError) -> Weighting {
        let name = command
        let include = a.all("include-weights"), exclude = a.all("exclude-weights")
        if !include.isEmpty && !exclude.isEmpty {
            throw ToolError.usage("only one of --include-weights and --exclude-weights can be given", command: name)
        }
        if a.value("imatrix") == nil && !(include.isEmpty && exclude.isEmpty) {
            throw ToolError.usage("--include-weights / --exclude-weights need --imatrix FILE", command: name)
        }
        guard let calibration = a.value("awq") else {
            for o in ["awq-samples", "awq-seqlen", "awq-grid", "awq-search-blocks", "awq-screen"] where a.value(o) != nil {
                throw ToolError.usage("--\(o) needs --awq CALIB.txt", command: name)
            }
            for o in ["awq-clip", "awq-only", "awq-importance"] where a.has(o) {
                throw ToolError.usage("--\(o) needs --awq CALIB.txt", command: name)
            }
            guard let path = a.value("imatrix") else { return .none }
            return .importanceMatrix(path: path, filter: filter(include, exclude))
        }
        var c = AWQConfiguration(calibrationText: calibration)
        c.samples = try a.int("awq-samples", default: 128, range: 1...1_000_000)
        c.sequenceLength = try a.int("awq-seqlen", default: 512, range: 1...1_048_576)
        c.grid = try a.int("awq-grid", default: 20, range: 1...1000)
        c.searchBlocks = a.value("awq-search-blocks") == nil ? nil : try a.int("awq-search-blocks", default: 0, range: 0...1_000_000)
        c.screenRows = a.value("awq-screen") == nil ? nil : try a.int("awq-screen", default: 0, range: 0...1_000_000)
        c.clip = a.has("awq-clip")
        let importance = a.has("awq-importance")
        if importance && a.has("awq-only") {
            throw ToolError.usage("--awq-importance has no effect with --awq-only (nothing is quantized); drop one of them",
                                  command: name)
        }
        if importance && a.value("imatrix") != nil {
            throw ToolError.usage("--awq-importance and --imatrix FILE both supply the quantizer's importances; "
                                  + "use one or the other", command: name)
        }
        if importance {
            c.mode = .quantizeWithImportance
        } else if a.has("awq-only") {
            c.mode = .scaleOnly
        } else if let path = a.value("imatrix") {
            c.mode = .quantizeWithImportanceMatrix(path: path, filter: filter(include, exclude))
        }
        return .awq(c)
    }

    static func mib(_ n: Int) -> String { String(format: "%.2f MiB", Double(n) / 1048576) }

    /// The totals llama-quantize prints: sizes over the input's element count, and the fallbacks.
    static func totalsText(_ s: QuantizeSummary) -> String {
        let n = Double(max(1, s.inputElementCount))
        var t = String(format: "model size  = %8.2f MiB (%.2f BPW)\n", Double(s.sourceBytes) / 1048576, Double(s.sourceBytes) * 8 / n)
        t += String(format: "quant size  = %8.2f MiB (%.2f BPW)\n", Double(s.targetBytes) / 1048576, Double(s.targetBytes) * 8 / n)
        if s.fallbackCount > 0 {
            t += "WARNING: \(s.fallbackCount) of \(s.inputTensorCount) tensor(s) required fallback quantization\n"
        }
        return t
    }

    static func summaryText(_ s: QuantizeSummary, seconds: Double) -> String {
        totalsText(s) + String(format: "quantize time = %8.2f ms\n", seconds * 1000)
    }

    /// One line per tensor in llama-quantize's dry-run layout: shape padded to 4 dimensions,
    /// the stored type, and the size (with the new type when it changes).
    static func planTable(_ s: QuantizeSummary) -> String {
        var t = ""
        for (i, p) in s.plans.enumerated() {
            let dims = (p.shape + Array(repeating: 1, count: max(0, 4 - p.shape.count))).map { TextFormat.pad(String($0), left: 6) }
            t += "[" + TextFormat.pad(String(i + 1), left: 4) + "/" + TextFormat.pad(String(s.inputTensorCount), left: 4) + "] "
            t += TextFormat.pad(p.name, right: 36) + " - [" + dims.joined(separator: ", ") + "], type = "
            t += TextFormat.pad(p.sourceType.name, left: 6) + ", "
            if p.isCopy {
                t += String(format: "size = %8.3f MiB\n", Double(p.sourceBytes) / 1048576)
            } else {
                t += String(format: "size = %8.2f MiB -> %8.2f MiB ", Double(p.sourceBytes) / 1048576,
                            Double(p.targetBytes) / 1048576) + "(\(p.targetType.name))\n"
            }
        }
        return t + totalsText(s)
    }
}
