import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport

/// Runs the commands themselves (in process) over every file of Fixtures/malformed that they
/// read: none may crash; each must exit 1 with a message that names the broken file, or, for the
/// few files listed as valid, succeed.
enum CommandCorpus {
    static let root = TestPaths.fixtures.appendingPathComponent("malformed")

    static func files(_ folder: String, suffix: String = "") -> [String] {
        let dir = root.appendingPathComponent(folder)
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(suffix) }.sorted().map { dir.appendingPathComponent($0).path }
    }

    /// Every GGUF of the corpus: generated files and fuzzer finds.
    static var ggufFiles: [String] { files("gguf", suffix: ".gguf") + files("found", suffix: ".gguf") }

    /// GGUF corpus files that are valid (the readers accept them).
    static let validGGUF: Set<String> = ["nan-inf-weights.gguf", "canonical-twins.gguf"]

    /// A command that reads a GGUF file, with its arguments for one input (`input`, and a scratch
    /// folder for outputs).
    struct GGUFCommand {
        var name: String
        var run: ([String], any Console) throws -> Void
        var args: (_ input: String, _ scratch: String) -> [String]
    }

    /// The commands that read GGUF files. To cover a new tool, add a line, e.g. once it exists:
    ///     .init(name: "gguf-ppl", run: PerplexityCommand.run, args: { input, _ in ["-m", input, "-f", textFile] }),
    /// A tool that must refuse a file the readers accept (gguf-quantize and NaN weights) lists it
    /// in `refusedByTool`.
    static var ggufCommands: [GGUFCommand] {
        [
            .init(name: "gguf-dump", run: DumpCommand.run, args: { input, _ in [input] }),
            .init(name: "gguf-dump --json", run: DumpCommand.run, args: { input, _ in [input, "--json", "--json-array"] }),
            .init(name: "gguf-quantize", run: QuantizeCommand.run, args: { input, dir in [input, dir + "/out.gguf", "q8_0", "-q", "-f"] }),
        ]
    }

    /// Valid corpus files that a given tool must still refuse (tool name → file names).
    /// gguf-quantize: NaN/Inf weights are invalid data (llama.cpp's check_tensors), and a file
    /// without general.architecture is not a model.
    static let refusedByTool: [String: Set<String>] = ["gguf-quantize": ["nan-inf-weights.gguf", "canonical-twins.gguf"]]

    /// Where each Hugging Face corpus folder's files go in a model folder for hf2gguf.
    static let hfPlacement: [(folder: String, placedAs: String)] = [
        ("safetensors", "model.safetensors"),
        ("index", "model.safetensors.index.json"),
        ("tokenizer-json", "tokenizer.json"),
        ("config-json", "config.json"),
        ("tokenizer-config", "tokenizer_config.json"),
        ("spm", "tokenizer.model"),
        ("found", ""),
    ]

    /// Where a fuzzer find goes, from its name prefix (see Fixtures/malformed/found/NOTES.tsv).
    static func foundPlacement(_ name: String) -> String? {
        for (prefix, file) in [("tokenizer-config-", "tokenizer_config.json"), ("tokenizer-", "tokenizer.json"),
                               ("config-", "config.json"), ("safetensors-", "model.safetensors"),
                               ("index-", "model.safetensors.index.json"), ("spm-", "tokenizer.model")]
            where name.hasPrefix(prefix) {
            return file
        }
        return nil
    }

    /// (folder/file) pairs hf2gguf converts anyway, with the reason. hf2gguf runs the tokenizer
    /// only to name the pre-tokenizer (the chkhsh of convert_hf_to_gguf.py); when that fails it
    /// notes why and names the pre-tokenizer from tokenizer.json, so problems that only the
    /// tokenizer run sees do not stop the conversion. (b4748 itself would stop in
    /// AutoTokenizer.from_pretrained for these files.)
    static let hfAccepted: [String: String] = [
        "tokenizer-json/merge-not-in-vocab.json": "merges are copied as written; only the hash run rejects them",
        "tokenizer-json/template-repeats-sequence.json": "the post-processor is used only by the hash run",
        "tokenizer-config/added-token-flag-string.json": "added_tokens_decoder is read only by the hash run",
        "tokenizer-config/added-tokens-decoder-key.json": "added_tokens_decoder is read only by the hash run",
        "tokenizer-config/tokenizer-class-number.json": "tokenizer_class is read only by the hash run",
    ]
}

@Suite("Commands over the malformed corpus: exit 1 and a message naming the file, never a crash")
struct CorpusCommandTests {
    @Test("GGUF readers (gguf-dump; quantize and ppl when added) over every GGUF corpus file")
    func ggufCommands() throws {
        let files = CommandCorpus.ggufFiles
        #expect(files.count >= 40)
        let tmp = TemporaryDirectory("corpus-gguf")
        for c in CommandCorpus.ggufCommands {
            let name = c.name
            for path in files {
                let r = runCommand(c.run, c.args(path, tmp.path))
                let base = (path as NSString).lastPathComponent
                if CommandCorpus.validGGUF.contains(base) && !(CommandCorpus.refusedByTool[name] ?? []).contains(base) {
                    #expect(r.error == nil, "\(name) \(base): \(r.error?.description ?? "")")
                } else {
                    #expect(r.error?.exitCode == 1, "\(name) \(base)")
                    #expect(r.error?.description.hasPrefix(path + ": ") == true, "\(name) \(base): \(r.error?.description ?? "accepted")")
                }
            }
        }
    }

    @Test("NaN and ±Inf weights: the readers accept them, gguf-quantize refuses them naming the tensor")
    func nanWeights() throws {
        let path = CommandCorpus.root.appendingPathComponent("gguf/nan-inf-weights.gguf").path
        #expect(runCommand(DumpCommand.run, [path]).error == nil)
        let tmp = TemporaryDirectory("corpus-nan")
        let e = runCommand(QuantizeCommand.run, [path, tmp.file("out.gguf"), "q8_0", "-q"]).error
        #expect(e?.exitCode == 1)
        #expect(e?.description == "\(path): tensor 'blk.0.attn_q.weight' has invalid data: row 0, column 1 is nan")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out.gguf")))
    }

    @Test("hf2gguf over every Hugging Face corpus file, each placed in a copy of the tiny model")
    func hf2gguf() throws {
        var checked = 0
        for (folder, placement) in CommandCorpus.hfPlacement {
            for source in CommandCorpus.files(folder) {
                let base = (source as NSString).lastPathComponent
                let placedAs: String
                if folder == "found" {
                    if base.hasSuffix(".gguf") || base == "NOTES.tsv" { continue }
                    guard let p = CommandCorpus.foundPlacement(base) else {
                        Issue.record("found/\(base): name it with a prefix saying which file it is (tokenizer-, config-, ...)")
                        continue
                    }
                    placedAs = p
                } else {
                    placedAs = placement
                }
                let m = try ModelCopy()
                let target = m.file(placedAs)
                if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
                try FileManager.default.copyItem(atPath: source, toPath: target)
                let e = m.convert()
                checked += 1
                if let why = CommandCorpus.hfAccepted["\(folder)/\(base)"] {
                    #expect(e == nil, "\(folder)/\(base) should convert (\(why)): \(e?.description ?? "")")
                    if e == nil { #expect(try GGUFFile(path: m.out).tensors.count == 20) }
                    continue
                }
                #expect(e?.exitCode == 1, "\(folder)/\(base): \(e?.description ?? "converted")")
                #expect(e?.description.contains(target) == true, "\(folder)/\(base) does not name \(placedAs): \(e?.description ?? "converted")")
                #expect(!m.outputExists, "\(folder)/\(base) left an output")
                #expect(m.folderIsClean, "\(folder)/\(base) left a temporary file")
            }
        }
        #expect(checked >= 40)
    }
}
