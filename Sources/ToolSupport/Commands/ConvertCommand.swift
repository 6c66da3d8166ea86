import Foundation
import SwiftGGUF

/// `hf2gguf MODEL_DIR [--outfile F] [--outtype f32|f16|bf16|q8_0|auto] ...`: convert_hf_to_gguf.py's job.
public enum ConvertCommand {
    public static let spec = CommandSpec(
        name: "hf2gguf",
        synopsis: "MODEL_DIR [--outfile F] [--outtype f32|f16|bf16|q8_0|auto] [--vocab-only] [--dry-run] [--force]",
        summary: "Convert a Hugging Face model folder (safetensors, config.json, tokenizer) to GGUF v3, as llama.cpp's convert_hf_to_gguf.py does.",
        options: [
            .option("outfile", value: "F", "output file (default: <name>-<size>-<TYPE>.gguf in MODEL_DIR); {ftype} is replaced by the type"),
            .option("outtype", value: "T", "f32, f16, bf16, q8_0 or auto (default f16; auto: f16 for f16 checkpoints, else bf16)"),
            .flag("vocab-only", "write only the vocabulary and metadata"),
            .flag("dry-run", "print the tensor plan and metadata, write nothing"),
            .option("model-name", value: "NAME", "set general.name"),
            .flag("force", short: "f", "replace the output file if it exists (only once the new file is complete)"),
            .option("threads", short: "t", value: "N", "threads for conversion (default: all cores)"),
            .flag("verbose", short: "v", "print how the vocabulary and pre-tokenizer were chosen"),
            .flag("quiet", short: "q", "no progress line"),
        ],
        positionals: ["MODEL_DIR"], minPositionals: 1, maxPositionals: 1)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        let dir = a.positionals[0]
        var o = ConvertOptions()
        if let t = a.value("outtype") {
            guard let ot = OutType(rawValue: t.lowercased()) else {
                throw ToolError.usage("invalid --outtype '\(t)'; choose from \(OutType.allCases.map(\.rawValue).joined(separator: ", "))", command: spec.name)
            }
            o.outType = ot
        }
        o.outFile = a.value("outfile")
        o.vocabOnly = a.has("vocab-only")
        o.modelName = a.value("model-name")
        o.force = a.has("force")
        o.threads = try a.int("threads", default: max(1, ProcessInfo.processInfo.activeProcessorCount), range: 1...1024)

        let printNotes = { (plan: ConversionPlan) in
            if a.has("verbose") || a.has("dry-run") {
                for n in plan.notes { console.err("hf2gguf: \(n)\n") }
            }
        }
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
