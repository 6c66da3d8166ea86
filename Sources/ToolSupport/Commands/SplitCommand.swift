import Foundation
import SwiftGGUF

/// `gguf-split [--split|--merge] [--split-max-tensors N | --split-max-size N(M|G)] GGUF_IN GGUF_OUT`:
/// llama.cpp's `llama-gguf-split`. A split writes `GGUF_OUT-00001-of-0000N.gguf` ... byte for byte as
/// b10572 does; a merge reads `GGUF_IN` (the first split file) and its siblings and writes one file.
public enum SplitCommand {
    public static let spec = CommandSpec(
        name: "gguf-split",
        synopsis: "[--split | --merge] [--split-max-tensors N | --split-max-size N(M|G)] [--dry-run] GGUF_IN GGUF_OUT",
        summary: "Split a GGUF model into several files (GGUF_OUT is the prefix of their names), or merge the files of a split model (GGUF_IN is the first one) into GGUF_OUT, as llama.cpp's llama-gguf-split does.",
        options: [
            .flag("split", "split GGUF_IN (the default)"),
            .flag("merge", "merge the split model whose first file is GGUF_IN"),
            .option("split-max-tensors", value: "N", aliases: ["split_max_tensors"], "at most N tensors per file (default 128)"),
            .option("split-max-size", value: "N(M|G)", aliases: ["split_max_size"], "at most N megabytes (10^6) or gigabytes (10^9) of tensor data per file"),
            .flag("no-tensor-first-split", aliases: ["no_tensor_first_split"], "put only the metadata in the first file"),
            .flag("dry-run", aliases: ["dry_run"], "print the plan, write nothing"),
            .flag("delete-splits", aliases: ["delete_splits"], "after a successful merge, delete the split files"),
        ],
        positionals: ["GGUF_IN", "GGUF_OUT"], minPositionals: 2, maxPositionals: 2)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        if a.has("split") && a.has("merge") {
            throw ToolError.usage("either --split or --merge can be given, not both", command: spec.name)
        }
        if a.value("split-max-tensors") != nil && a.value("split-max-size") != nil {
            throw ToolError.usage("either --split-max-tensors or --split-max-size can be given, not both", command: spec.name)
        }
        let input = a.positionals[0], output = a.positionals[1]
        if a.has("merge") {
            try merge(input, output, dryRun: a.has("dry-run"), deleteSplits: a.has("delete-splits"), console: console)
            return
        }
        let limit: GGUFSplitLimit
        if let s = a.value("split-max-size") {
            guard let n = parseSize(s) else {
                throw ToolError.usage("invalid --split-max-size '\(s)': expected a positive whole number followed by M (megabytes) or G (gigabytes), e.g. 500M or 5G", command: spec.name)
            }
            limit = .bytes(n)
        } else {
            limit = .tensors(try a.int("split-max-tensors", default: 128, range: 1...Int(Int32.max)))
        }
        try split(input, output, limit: limit, noTensorsInFirst: a.has("no-tensor-first-split"), dryRun: a.has("dry-run"), console: console)
    }

    /// `500M` = 500·10^6 bytes, `5G` = 5·10^9 bytes (gguf-split's units); nil otherwise.
    public static func parseSize(_ s: String) -> Int? {
        guard let unit = s.last, unit == "M" || unit == "G", let n = Int(s.dropLast()), n > 0 else { return nil }
        let (v, o) = n.multipliedReportingOverflow(by: unit == "M" ? 1_000_000 : 1_000_000_000)
        return o ? nil : v
    }

    static func split(_ input: String, _ prefix: String, limit: GGUFSplitLimit, noTensorsInFirst: Bool, dryRun: Bool,
                      console: any Console) throws {
        let file: GGUFFile
        let parts: [GGUFSplitPart]
        do {
            file = try GGUFFile(path: input)
            parts = try GGUFSplitter.plan(file, limit: limit, noTensorsInFirst: noTensorsInFirst)
        } catch { throw ToolError.failure(error.description) }
        console.out("n_split: \(parts.count)\n")
        for (i, p) in parts.enumerated() {
            console.out("split \(GGUFSplitNaming.zeroPadded(i + 1)): n_tensors = \(p.tensors.count), total_size = \((p.headerBytes + p.tensorBytes) / 1_000_000)M\n")
        }
        if !dryRun {
            for (i, p) in parts.enumerated() {
                let path = GGUFSplitNaming.path(prefix: prefix, index: i, count: parts.count)
                console.out("Writing file \(path) ... ")
                if let c = console as? StandardConsole { c.flush() }
                do { try GGUFSplitter.write(p, from: file, to: path, replace: true) } catch { throw ToolError.failure(error.description) }
                console.out("done\n")
            }
        }
        console.err("gguf-split: \(parts.count) split files \(dryRun ? "planned" : "written") with a total of \(file.tensors.count) tensors.\n")
    }

    static func merge(_ input: String, _ output: String, dryRun: Bool, deleteSplits: Bool, console: any Console) throws {
        if FileManager.default.fileExists(atPath: output) {
            throw ToolError.failure("\(output): the output file already exists")
        }
        let model: GGUFFile
        let part: GGUFSplitPart
        do {
            model = try GGUFSplitter.openForMerge(firstPath: input)
            part = try GGUFSplitter.mergePlan(model)
        } catch { throw ToolError.failure(error.description) }
        let paths = model.splitPaths
        for p in paths { console.err("gguf-split: read metadata of \(p)\n") }
        if !dryRun {
            do { try GGUFSplitter.write(part, from: model, to: output, replace: false) } catch { throw ToolError.failure(error.description) }
            if deleteSplits {
                for p in paths {
                    do { try FileManager.default.removeItem(atPath: p) } catch {
                        throw ToolError.failure("\(p): cannot delete: \(error.localizedDescription)")
                    }
                    console.err("gguf-split: deleted \(p)\n")
                }
            }
        }
        console.err("gguf-split: \(output) \(dryRun ? "would be merged" : "merged") from \(paths.count) split files with \(part.tensors.count) tensors (\(part.fileBytes) bytes).\n")
    }
}
