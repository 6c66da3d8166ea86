import Foundation
import SwiftGGUF

/// `hf2gguf MODEL_DIR [--outfile F] [--outtype f32|f16|bf16|q8_0|auto] ...`: convert_hf_to_gguf.py's job.
/// MODEL_DIR may also be a model id (`ORG/NAME`, not an existing folder) found in the local Hugging
/// Face cache (`HubCache`; `--revision`); then, as with convert_hf_to_gguf.py --remote, general.name
/// is the id and the default output is `./ORG-NAME-{ftype}.gguf`.
public enum ConvertCommand {
    public static let spec = CommandSpec(
        name: "hf2gguf",
        synopsis: "MODEL_DIR|ORG/NAME [--revision REV] [--outfile F] [--outtype f32|f16|bf16|q8_0|auto] [--vocab-only] [--dry-run] [--force]",
        summary: "Convert a Hugging Face model folder (safetensors, config.json, tokenizer) to GGUF v3, as llama.cpp's convert_hf_to_gguf.py does.",
        options: [
            .option("split-max-tensors", value: "N", "split the output: at most N tensors per file (as convert_hf_to_gguf.py)"),
            .option("split-max-size", value: "N[K|M|G]", "split the output: at most N bytes (K/M/G: 10^3/10^6/10^9) of tensor data per file"),
            .flag("no-tensor-first-split", "with a split: the first file holds only the metadata"),
            .option("revision", value: "REV", "with a model id: the branch, tag or commit in the Hugging Face cache (default main)"),
            .option("outfile", value: "F", "output file (default: <name>-<size>-<TYPE>.gguf in MODEL_DIR); {ftype} is replaced by the type"),
            .option("outtype", value: "T", "f32, f16, bf16, q8_0 or auto (default f16; auto: f16 for f16 checkpoints, else bf16), "
                    + "or a gguf-quantize type (Q4_K_M, IQ4_XS, Q8_0, ...): quantize in one pass, no intermediate file"),
            .flag("vocab-only", "write only the vocabulary and metadata"),
            .flag("dry-run", "print the tensor plan and metadata, write nothing"),
            .option("model-name", value: "NAME", "set general.name"),
            .flag("force", short: "f", "replace the output file if it exists (only once the new file is complete)"),
            .option("threads", short: "t", value: "N", "threads for conversion (default: all cores)"),
            .flag("verbose", short: "v", "print how the vocabulary and pre-tokenizer were chosen"),
            .flag("quiet", short: "q", "no progress line"),
        ] + OnePassCommand.options,
        positionals: ["MODEL_DIR"], minPositionals: 1, maxPositionals: 1)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        var dir = a.positionals[0]
        var o = ConvertOptions()
        // A gguf-quantize type (Q4_K_M, ...) quantizes in one pass (OnePassCommand).
        let onePass = a.value("outtype").flatMap(OnePassCommand.quantOption)
        if let t = a.value("outtype"), onePass == nil {
            guard let ot = OutType(rawValue: t.lowercased()) else {
                throw ToolError.usage("invalid --outtype '\(t)'; choose from \(OutType.allCases.map(\.rawValue).joined(separator: ", "))" + OnePassCommand.hint(t), command: spec.name)
            }
            o.outType = ot
        }
        o.outFile = a.value("outfile")
        o.vocabOnly = a.has("vocab-only")
        o.modelName = a.value("model-name")
        o.force = a.has("force")
        o.threads = try a.int("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), range: 1...1024)
        if let snapshot = try hubSnapshot(dir, revision: a.value("revision"), console: console) {
            // As convert_hf_to_gguf.py --remote: general.name is the model id, the output
            // ./ORG-NAME-{ftype}.gguf (the snapshot folder is named by its commit hash).
            if o.outFile == nil { o.outFile = "./" + dir.replacingOccurrences(of: "/", with: "-") + "-{ftype}.gguf" }
            if o.modelName == nil { o.modelName = dir }
            dir = snapshot
        }
        if let q = onePass { return try OnePassCommand.run(a, args: args, directory: dir, option: q, convert: o, console: console) }
        try OnePassCommand.checkUnused(a)

        let printNotes = { (plan: ConversionPlan) in
            if a.has("verbose") || a.has("dry-run") {
                for n in plan.notes { console.err("hf2gguf: \(n)\n") }
            }
        }
        let split = try splitLimits(a)
        if a.has("dry-run") {
            let plan = try Conversion.plan(modelDirectory: dir, options: o)
            printNotes(plan)
            console.out(planText(plan))
            return
        }
        var bar: ProgressLine?
        let start = Date()
        let plan = try Conversion.run(modelDirectory: dir, options: o, planned: { plan in
            printNotes(plan)
            bar = ProgressLine(console: console, label: "hf2gguf", total: plan.tensors.count)
            bar?.quiet = a.has("quiet")
        }) { i, _, name in bar?.update(i, name) }
        let mb = Double(plan.outputBytes) / 1_048_576
        console.err(String(format: "hf2gguf: wrote %@ (%d tensors, %.1f MiB, %@) in %.2f s\n",
                           plan.outputPath, plan.tensors.count, mb, plan.outType.rawValue, Date().timeIntervalSince(start)))
        if let split { try splitOutput(plan.outputPath, split, replace: o.force, console: console) }
    }

    /// `--split-max-tensors`, `--split-max-size`, `--no-tensor-first-split`; nil when not splitting.
    static func splitLimits(_ a: ParsedArguments) throws -> (tensors: Int, bytes: Int, smallFirst: Bool)? {
        let n = try a.int("split-max-tensors", default: 0, range: 0...Int(Int32.max))
        var bytes = 0
        if let s = a.value("split-max-size") {
            guard let b = parseSplitSize(s) else {
                throw ToolError.usage("invalid --split-max-size '\(s)': a number, optionally followed by K, M or G", command: spec.name)
            }
            bytes = b
        }
        guard n > 0 || bytes > 0 || a.has("no-tensor-first-split") else { return nil }
        return (n, bytes, a.has("no-tensor-first-split"))
    }

    /// convert_hf_to_gguf.py's sizes: `N`, `NK`, `NM`, `NG` (powers of 1000).
    static func parseSplitSize(_ s: String) -> Int? {
        let units: [Character: Int] = ["K": 1000, "M": 1_000_000, "G": 1_000_000_000]
        let (digits, unit) = s.last.flatMap { units[$0] }.map { (s.dropLast(), $0) } ?? (Substring(s), 1)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let n = Int(digits), n >= 0 else { return nil }
        let (v, o) = n.multipliedReportingOverflow(by: unit)
        return o ? nil : v
    }

    /// Splits the converted file into the files convert_hf_to_gguf.py would have written (same
    /// names and bytes), then removes it. One file: the output stays as it is. (The whole model is
    /// on disk twice until the split is done.)
    static func splitOutput(_ path: String, _ limits: (tensors: Int, bytes: Int, smallFirst: Bool), replace: Bool, console: any Console) throws {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw ToolError.failure(error.description) }
        let parts = GGUFSplitter.planLikeGGUFPy(file, maxTensors: limits.tensors, maxBytes: limits.bytes, smallFirstShard: limits.smallFirst)
        guard parts.count > 1 else {
            console.err("hf2gguf: the model fits the split limits: one file\n")
            return
        }
        let paths = GGUFSplitter.ggufPyShardPaths(path, count: parts.count)
        if !replace, let p = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw ToolError.failure("\(p): output file already exists (use --force to replace it); the unsplit model is \(path)")
        }
        for (p, part) in zip(paths, parts) {
            do { try GGUFSplitter.write(part, from: file, to: p, replace: replace) } catch { throw ToolError.failure(error.description) }
            console.err("hf2gguf: \(p): \(part.tensors.count) tensors\n")
        }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw ToolError.failure("\(path): cannot remove the unsplit file: \(error.localizedDescription)")
        }
    }

    /// The cached snapshot folder when `arg` is a model id and not a folder; nil for a folder.
    static func hubSnapshot(_ arg: String, revision: String?, console: any Console) throws -> String? {
        var isDir: ObjCBool = false
        guard !FileManager.default.fileExists(atPath: arg, isDirectory: &isDir), HubCache.looksLikeModelID(arg) else {
            if revision != nil { throw ToolError.usage("--revision applies to a model id (ORG/NAME), not to the folder '\(arg)'", command: spec.name) }
            return nil
        }
        do {
            let folder = try HubCache.snapshot(of: arg, revision: revision ?? "main")
            console.err("hf2gguf: \(arg) -> \(folder)\n")
            return folder
        } catch { throw ToolError.failure(error.description) }
    }

    static func planText(_ p: ConversionPlan) -> String {
        var s = "output: \(p.outputPath)\narchitecture: \(p.architecture), outtype: \(p.outType.rawValue), \(p.tensors.count) tensors, \(p.totalParameters) parameters, \(p.outputBytes) bytes of tensor data\n"
        let width = (p.tensors.map { $0.ggufName.count }.max() ?? 0) + 1
        for t in p.tensors {
            let shape = "{" + t.ggmlShape.map(String.init).joined(separator: ", ") + "}"
            let from = (t.hfName ?? t.expertSources?.first).map { _ in t.sourceDType.rawValue.lowercased() } ?? "generated"
            s += TextFormat.pad(t.ggufName + ",", right: width + 1) + " \(from) --> \(t.type.upperName), shape = \(shape)"
            if t.permuteHeads != nil { s += " (rows permuted for rope)" }
            if let e = t.expertSources { s += " (\(e.count) experts stacked)" }
            s += "\n"
        }
        s += "metadata (\(p.metadata.count) keys):\n"
        for kv in p.metadata {
            switch kv.value {
            case .array(let arr): s += "  \(kv.key): [\(arr.elementType)] x \(arr.count)\n"
            case .string(let str): s += "  \(kv.key) = \(TextFormat.pythonRepr(String(str.unicodeScalars.prefix(60))))\n"
            default: s += "  \(kv.key) = \(DumpCommand.scalarText(kv.value))\n"
            }
        }
        return s
    }
}
