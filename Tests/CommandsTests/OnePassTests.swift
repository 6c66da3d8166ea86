import Testing
import Foundation
import TestSupport
import GGUF
import Quants
@testable import ToolSupport

/// `hf2gguf MODEL_DIR --outtype TYPE` with a gguf-quantize type: one pass from the folder to the
/// quantized file, byte-identical to `hf2gguf --outtype f32` followed by `gguf-quantize`.
@Suite("hf2gguf one pass: the same bytes as hf2gguf f32 + gguf-quantize")
struct OnePassTests {
    static let model = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path

    static func bytes(_ path: String) -> Data? { try? Data(contentsOf: URL(fileURLWithPath: path)) }

    /// The two-step reference: the f32 conversion, then gguf-quantize with `options`.
    static func twoStep(_ type: String, _ options: [String], in tmp: TemporaryDirectory, model: String = model) throws -> String {
        let f32 = tmp.file("f32.gguf")
        if !FileManager.default.fileExists(atPath: f32) {
            let e = runCommand(ConvertCommand.run, [model, "--outtype", "f32", "--outfile", f32, "-q"]).error
            try #require(e == nil, "\(String(describing: e))")
        }
        let out = tmp.file("two-\(type).gguf")
        let e = runCommand(QuantizeCommand.run, options + ["-q", f32, out, type]).error
        try #require(e == nil, "\(String(describing: e))")
        return out
    }

    static func onePass(_ type: String, _ options: [String], in tmp: TemporaryDirectory, model: String = model) throws -> String {
        let out = tmp.file("one-\(type).gguf")
        let e = runCommand(ConvertCommand.run, [model, "--outtype", type, "--outfile", out, "-q"] + options).error
        try #require(e == nil, "\(String(describing: e))")
        return out
    }

    /// A synthetic importance matrix for every 2-D block tensor of the f32 model (and output).
    static func writeImatrix(_ path: String, for f32: String) throws {
        let f = try GGUFFile(path: f32)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        var entries: [ImportanceStatistics.Entry] = []
        for t in f.tensors where t.shape.count >= 2 && t.name != "token_embd.weight" {
            let sums = (0..<t.shape[0]).map { _ -> Float in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(seed >> 40) / Float(1 << 24) * 10 + 0.01
            }
            entries.append(.init(name: t.name, sums: sums, counts: [64]))
        }
        try ImportanceStatistics(entries: entries, datasets: ["synthetic"], chunkCount: 1, chunkSize: 64).write(to: path, replace: true)
    }

    @Test("K-quant, IQ4_XS and Q8_0 with quantizer options: one pass equals two steps",
          arguments: [("Q4_K_M", [String]()), ("IQ4_XS", []), ("Q8_0", ["--pure", "--output-tensor-type", "q6_K"]),
                      ("Q6_K", ["--tensor-type", "ffn_down=q5_0", "--token-embedding-type", "q8_0"])])
    func sameBytes(_ type: String, _ options: [String]) throws {
        let tmp = TemporaryDirectory("onepass")
        let one = try Self.onePass(type, options, in: tmp)
        let two = try Self.twoStep(type, options, in: tmp)
        #expect(Self.bytes(one) == Self.bytes(two), "\(type) \(options)")
        // Nothing else was left in the folder (no intermediate file).
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path))
        #expect(files == ["one-\(type).gguf", "two-\(type).gguf", "f32.gguf"])
    }

    @Test("a type that needs an importance matrix: with --imatrix the same bytes, without it an error and no file")
    func imatrix() throws {
        let tmp = TemporaryDirectory("onepass-imatrix")
        let f32 = tmp.file("f32.gguf")
        #expect(runCommand(ConvertCommand.run, [Self.model, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        let imatrix = tmp.file("imatrix.gguf")
        try Self.writeImatrix(imatrix, for: f32)
        let options = ["--imatrix", imatrix, "--tensor-type", "attn_v=q4_k"]
        let one = try Self.onePass("IQ2_XXS", options, in: tmp)
        let two = try Self.twoStep("IQ2_XXS", options, in: tmp)
        #expect(Self.bytes(one) == Self.bytes(two))
        let f = try GGUFFile(path: one)
        #expect(f.tensor(named: "blk.0.ffn_up.weight")?.type == .iq2_XXS)
        #expect(f.metadata["quantize.imatrix.file"] == .string(imatrix))
        // Q4_K_M with the matrix takes the weighted quantizers: also the same bytes.
        let oneK = try Self.onePass("Q4_K_M", ["--imatrix", imatrix], in: tmp)
        let twoK = try Self.twoStep("Q4_K_M", ["--imatrix", imatrix], in: tmp)
        #expect(Self.bytes(oneK) == Self.bytes(twoK))

        let missing = tmp.file("missing.gguf")
        let e = runCommand(ConvertCommand.run, [Self.model, "--outtype", "IQ2_XXS", "--outfile", missing, "-q"]).error
        #expect(e?.exitCode == 1)
        #expect(e?.description.contains("requires an importance matrix") == true, "\(String(describing: e))")
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test("--split-max-tensors: the files hf2gguf's split makes of the two-step output")
    func split() throws {
        let tmp = TemporaryDirectory("onepass-split")
        let out = tmp.file("one.gguf")
        let e = runCommand(ConvertCommand.run, [Self.model, "--outtype", "Q8_0", "--outfile", out, "--split-max-tensors", "7", "-q"]).error
        #expect(e == nil, "\(String(describing: e))")
        #expect(!FileManager.default.fileExists(atPath: out))
        let two = try Self.twoStep("Q8_0", [], in: tmp)
        let reference = TemporaryDirectory("onepass-split-ref")
        let ref = reference.file("one.gguf")
        try FileManager.default.copyItem(atPath: two, toPath: ref)
        try ConvertCommand.splitOutput(ref, (7, 0, false), replace: false, console: CapturedConsole())
        for i in 1...3 {
            let name = "one-0000\(i)-of-00003.gguf"
            let a = Self.bytes(tmp.file(name)), b = Self.bytes(reference.file(name))
            #expect(a != nil && a == b, "\(name)")
        }
        // The whole model reads back from its first file.
        let model = try GGUFFile.openModel(path: tmp.file("one-00001-of-00003.gguf"))
        #expect(model.tensors.count == 20)
    }

    @Test("--dry-run prints the quantizer's plan and writes nothing")
    func dryRun() throws {
        let tmp = TemporaryDirectory("onepass-dry")
        let out = tmp.file("x-{ftype}.gguf")
        let r = runCommand(ConvertCommand.run, [Self.model, "--outtype", "Q4_K_M", "--outfile", out, "--dry-run"])
        #expect(r.error == nil)
        #expect(r.console.stdout.hasPrefix("output: \(tmp.file("x-q4_k_m.gguf"))\n"))   // {ftype}: lower case, as gguf-py fills it
        #expect(r.console.stdout.contains("(q4_K)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }

    @Test("bad input: one clear error, no output")
    func badInput() throws {
        let tmp = TemporaryDirectory("onepass-bad")
        let out = tmp.file("out.gguf")
        func run(_ extra: [String]) -> ToolError? {
            runCommand(ConvertCommand.run, [Self.model, "--outfile", out, "-q"] + extra).error
        }
        let unknown = run(["--outtype", "Q4_K_X"])
        #expect(unknown?.exitCode == 64)
        #expect(unknown?.description.hasPrefix("invalid --outtype 'Q4_K_X'; choose from f32, f16, bf16, q8_0, auto; or a gguf-quantize type") == true)
        let lower = run(["--outtype", "q4_k_m"])
        #expect(lower?.exitCode == 64)
        #expect(lower?.description.contains("the gguf-quantize type Q4_K_M (upper case)") == true, "\(String(describing: lower))")
        let noQuant = run(["--outtype", "f16", "--imatrix", "x.gguf"])
        #expect(noQuant?.exitCode == 64)
        #expect(noQuant?.description.hasPrefix("--imatrix needs a quantization --outtype") == true)
        // --awq runs in one pass (CheckpointCalibrationTests); its text is checked before any work.
        let awq = run(["--outtype", "Q4_K_M", "--awq", "calib.txt"])
        #expect(awq?.exitCode == 1)
        #expect(awq?.description == "calib.txt: calibration text not found")
        let vocab = run(["--outtype", "Q4_K_M", "--vocab-only"])
        #expect(vocab?.exitCode == 64)
        let badType = run(["--outtype", "Q4_K_M", "--output-tensor-type", "q9_9"])
        #expect(badType?.exitCode == 64)
        #expect(badType?.description.contains("hf2gguf --help") == true)
        let noFile = run(["--outtype", "Q4_K_M", "--imatrix", tmp.file("none.gguf")])
        #expect(noFile?.exitCode == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }

    @Test("tiny MoE (stacked experts): one pass equals llama-quantize b10572 on b10572's f32 conversion", .golden)
    func moe() throws {
        let hf = try Golden.require(model: "tiny-mixtral")
        let tmp = TemporaryDirectory("onepass-moe")
        let one = try Self.onePass("Q8_0", ["-t", "2"], in: tmp, model: hf.path)
        let digest = try #require(ReferenceDigest(TestPaths.fixtures.appendingPathComponent("reference-b10572/quantize/tiny-mixtral-Q8_0.json")))
        let diffs = digest.differences(from: try GGUFFile(path: one))
        #expect(diffs.isEmpty, "\(diffs.prefix(5).joined(separator: "\n"))")
    }
}
