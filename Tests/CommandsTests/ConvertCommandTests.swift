import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport

/// Runs a command in-process; returns (error text or nil, captured console).
func runCommand(_ run: ([String], any Console) throws -> Void, _ args: [String]) -> (error: ToolError?, console: CapturedConsole) {
    let c = CapturedConsole()
    do {
        try run(args, c)
        return (nil, c)
    } catch {
        return (ToolError.wrap(error), c)
    }
}

/// A copy of the bundled model in a temporary folder, to break one thing at a time.
final class ModelCopy {
    let tmp = TemporaryDirectory("hf2gguf")
    let dir: String
    init() throws {
        dir = tmp.file("m")
        try FileManager.default.copyItem(atPath: TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path, toPath: dir)
    }
    func file(_ n: String) -> String { dir + "/" + n }
    func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file("config.json")))
        var obj = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: file("config.json")))
    }
    var out: String { tmp.file("out.gguf") }
    func convert(_ extra: [String] = []) -> ToolError? {
        runCommand(ConvertCommand.run, [dir, "--outfile", out, "-q"] + extra).error
    }
    var outputExists: Bool { FileManager.default.fileExists(atPath: out) }
    /// No stray temporary files either.
    var folderIsClean: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []).allSatisfy { $0 == "m" || $0 == "out.gguf" }
    }
}

@Suite("hf2gguf: bad input gives one clear error, exit 1, no output")
struct ConvertCommandTests {
    func expectFailure(_ m: ModelCopy, _ extra: [String] = [], _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let e = m.convert(extra)
        #expect(e?.exitCode == 1, sourceLocation: sourceLocation)
        #expect(e?.description == expected, sourceLocation: sourceLocation)
        #expect(!m.outputExists, sourceLocation: sourceLocation)
        #expect(m.folderIsClean, sourceLocation: sourceLocation)
    }

    @Test("the bundled model converts and reads back")
    func converts() throws {
        let m = try ModelCopy()
        #expect(m.convert() == nil)
        let f = try GGUFFile(path: m.out)
        #expect(f.architecture == "llama")
        #expect(f.tensors.count == 20)
        #expect(f.metadata[GGUFKey.Tokenizer.pre]?.stringValue == "gpt-2")
    }

    @Test("missing config.json")
    func missingConfig() throws {
        let m = try ModelCopy()
        try FileManager.default.removeItem(atPath: m.file("config.json"))
        expectFailure(m, [], "\(m.dir)/config.json: file not found")
    }

    @Test("malformed config.json")
    func malformedConfig() throws {
        let m = try ModelCopy()
        try "{\"a\": 1,}".write(toFile: m.file("config.json"), atomically: true, encoding: .utf8)
        expectFailure(m, [], "\(m.dir)/config.json: line 1, column 9: expected '\"' (an object key) after ',', found '}'")
    }

    @Test("missing tokenizer")
    func missingTokenizer() throws {
        let m = try ModelCopy()
        try FileManager.default.removeItem(atPath: m.file("tokenizer.json"))
        expectFailure(m, [], "\(m.dir): no tokenizer found: expected tokenizer.model or tokenizer.json")
    }

    @Test("malformed tokenizer.json")
    func malformedTokenizer() throws {
        let m = try ModelCopy()
        try "[1\n".write(toFile: m.file("tokenizer.json"), atomically: true, encoding: .utf8)
        expectFailure(m, [], "\(m.dir)/tokenizer.json: line 2, column 1: expected ',' or ']' after an array element, found end of file")
    }

    @Test("unknown architecture names the supported ones")
    func unknownArchitecture() throws {
        let m = try ModelCopy()
        try m.editConfig { $0["architectures"] = ["GPTJForCausalLM"] }
        expectFailure(m, [], "\(m.dir)/config.json: architecture 'GPTJForCausalLM' is not supported; supported: LlamaForCausalLM, LLaMAForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MixtralForCausalLM, Qwen3MoeForCausalLM")
    }

    @Test("shapes that contradict config.json")
    func wrongShape() throws {
        let m = try ModelCopy()
        try m.editConfig { $0["hidden_size"] = 512 }
        expectFailure(m, [], "\(m.dir)/model.safetensors: tensor 'model.embed_tokens.weight' has shape [320, 256], but \(m.dir)/config.json implies [320, 512]")
    }

    @Test("tensors missing for the configured layer count")
    func missingTensors() throws {
        let m = try ModelCopy()
        try m.editConfig { $0["num_hidden_layers"] = 3 }
        expectFailure(m, [], "\(m.dir): 9 tensor(s) expected for LlamaForCausalLM are missing: 'model.layers.2.input_layernorm.weight', 'model.layers.2.self_attn.q_proj.weight', 'model.layers.2.self_attn.k_proj.weight', 'model.layers.2.self_attn.v_proj.weight', 'model.layers.2.self_attn.o_proj.weight', ...")
    }

    @Test("a tensor whose byte range runs past its file")
    func truncatedSafetensors() throws {
        let m = try ModelCopy()
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: m.file("model.safetensors")))
        try h.truncate(atOffset: 1_000_000)
        try h.close()
        expectFailure(m, [], "\(m.dir)/model.safetensors: tensor 'model.layers.1.mlp.down_proj.weight' has data_offsets [951808, 1082880] past the end of the data (997864 bytes)")
    }

    @Test("no safetensors in the folder")
    func noWeights() throws {
        let m = try ModelCopy()
        try FileManager.default.removeItem(atPath: m.file("model.safetensors"))
        expectFailure(m, [], "\(m.dir): no model*.safetensors file in the folder")
    }

    @Test("an existing output is refused without --force and replaced with it")
    func existingOutput() throws {
        let m = try ModelCopy()
        try "keep".write(toFile: m.out, atomically: true, encoding: .utf8)
        let e = m.convert()
        #expect(e?.description == "\(m.out): output file already exists (use --force to replace it)")
        #expect(try String(contentsOfFile: m.out, encoding: .utf8) == "keep")
        #expect(m.convert(["--force"]) == nil)
        #expect(try GGUFFile(path: m.out).tensors.count == 20)
    }

    @Test("an output folder that does not exist")
    func unwritableOutput() throws {
        let m = try ModelCopy()
        let e = runCommand(ConvertCommand.run, [m.dir, "--outfile", "/nonexistent-dir/x.gguf", "-q"]).error
        #expect(e?.description == "/nonexistent-dir/x.gguf: output folder '/nonexistent-dir' does not exist")
    }

    @Test("the output path equal to an input is refused, even with --force")
    func outputIsInput() throws {
        let m = try ModelCopy()
        let input = m.file("model.safetensors")
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        let e = runCommand(ConvertCommand.run, [m.dir, "--outfile", input, "--force", "-q"]).error
        #expect(e?.description == "\(input): output path is the input file '\(input)'; refusing to overwrite the input")
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before)
    }

    @Test("usage errors exit 64")
    func usage() throws {
        let e = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path, "--outtype", "q4_0"]).error
        #expect(e?.exitCode == 64)
        #expect(e?.description.hasPrefix("invalid --outtype 'q4_0'; choose from f32, f16, bf16, q8_0, auto") == true)
        let u = runCommand(ConvertCommand.run, ["--outfil", "x"]).error
        #expect(u?.description.hasPrefix("unknown option '--outfil'. Did you mean '--outfile'?") == true)
    }

    @Test("--dry-run writes nothing and lists every tensor")
    func dryRun() throws {
        let m = try ModelCopy()
        let r = runCommand(ConvertCommand.run, [m.dir, "--outfile", m.out, "--dry-run"])
        #expect(r.error == nil)
        #expect(!m.outputExists)
        #expect(r.console.stdout.contains("token_embd.weight,"))
        #expect(r.console.stdout.components(separatedBy: " --> ").count - 1 == 20)
    }
}
