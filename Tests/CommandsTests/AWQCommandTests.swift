import Testing
import Foundation
import TestSupport
import GGUF
import Quants
import Inference
@testable import ToolSupport

@Suite("gguf-quantize --awq: end to end and bad input")
struct AWQCommandTests {
    static let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path

    /// The bundled model converted to F32.
    func bundledModel(_ tmp: TemporaryDirectory) throws -> String {
        let out = tmp.file("tiny-f32.gguf")
        let r = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                "--outtype", "f32", "--outfile", out, "-q"])
        try #require(r.error == nil)
        return out
    }

    func tensorBytes(_ f: GGUFFile, _ name: String) -> [UInt8] {
        guard let t = f.tensor(named: name) else { return [] }
        return Array(f.data(t))
    }

    @Test("Q4_K_M with --awq: same plan as without, scaled tensors differ, awq metadata, per-layer progress")
    func quantize() throws {
        let tmp = TemporaryDirectory("awq-cmd")
        let input = try bundledModel(tmp)
        let plain = tmp.file("plain.gguf"), awq = tmp.file("awq.gguf")
        #expect(runCommand(QuantizeCommand.run, [input, plain, "Q4_K_M", "-q"]).error == nil)
        let r = runCommand(QuantizeCommand.run, [input, awq, "Q4_K_M", "--awq", Self.text, "--awq-seqlen", "64", "--awq-grid", "5"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        #expect(r.console.stderr.contains("awq [2/2] 100%"))
        #expect(r.console.stderr.contains("blk.1: qkv r="))
        #expect(r.console.stderr.contains("awq: calibrated"))
        let p = try GGUFFile(path: plain), a = try GGUFFile(path: awq)
        #expect(p.tensors.map(\.name) == a.tensors.map(\.name))
        #expect(p.tensors.map(\.type) == a.tensors.map(\.type))
        typealias K = GGUFKey.Quantize
        #expect(a.metadata[K.awqFile] == .string(Self.text))
        #expect(a.metadata[K.awqSeqLen] == .int32(64))
        #expect(a.metadata[K.awqGrid] == .int32(5))
        #expect(a.metadata[K.awqClip] == .bool(false))
        #expect((a.metadata[K.awqSamples]?.intValue ?? 0) > 0)
        #expect(a.metadata.keys.last == K.awqGroups)
        #expect(p.metadata[K.awqFile] == nil)
        let groups = a.metadata[K.awqGroups]?.intValue ?? 0
        #expect(groups > 0)
        // Every tensor a scaled group touches is rewritten; the others are byte-identical.
        var changed = 0
        for t in p.tensors where tensorBytes(p, t.name) != tensorBytes(a, t.name) {
            changed += 1
            #expect(t.name.hasPrefix("blk."), "\(t.name) changed")
        }
        #expect(changed > 0)
        #expect(tensorBytes(p, "token_embd.weight") == tensorBytes(a, "token_embd.weight"))
    }

    @Test("--awq-only writes the scaled model in its float types; its logits equal the input's")
    func awqOnly() throws {
        let tmp = TemporaryDirectory("awq-cmd")
        let input = try bundledModel(tmp)
        let out = tmp.file("scaled.gguf")
        let r = runCommand(QuantizeCommand.run, [input, out, "Q4_0", "--awq", Self.text, "--awq-seqlen", "64",
                                                 "--awq-grid", "4", "--awq-only", "-q"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        #expect(r.console.stderr.contains("writing the AWQ-scaled model"))
        let i = try GGUFFile(path: input), o = try GGUFFile(path: out)
        #expect(i.tensors.map(\.type) == o.tensors.map(\.type))
        #expect(o.metadata[GGUFKey.General.fileType] == .uint32(0))
        #expect(o.metadata[GGUFKey.Quantize.awqFile] == .string(Self.text))
        #expect(tensorBytes(i, "blk.0.attn_norm.weight") != tensorBytes(o, "blk.0.attn_norm.weight"))
        let tokens: [Int32] = (0..<48).map { Int32(($0 * 37) % 300) }
        func logits(_ path: String) throws -> [Float] {
            let session = InferenceSession(model: try LanguageModel(path: path), contextLength: 64, threads: 2)
            return try session.evaluate(tokens).array
        }
        let a = try logits(input), b = try logits(out)
        let scale = a.reduce(0) { max($0, abs($1)) }
        let diff = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(diff < 1e-3 * max(scale, 1), "max |Δlogit| \(diff)")
    }

    @Test("--awq-clip records the clip search")
    func clip() throws {
        let tmp = TemporaryDirectory("awq-cmd")
        let input = try bundledModel(tmp)
        let out = tmp.file("clip.gguf")
        let r = runCommand(QuantizeCommand.run, [input, out, "Q4_0", "--awq", Self.text, "--awq-seqlen", "32",
                                                 "--awq-grid", "3", "--awq-clip", "--awq-samples", "20", "-q"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        let o = try GGUFFile(path: out)
        #expect(o.metadata[GGUFKey.Quantize.awqClip] == .bool(true))
        #expect(o.metadata[GGUFKey.Quantize.awqSeqLen] == .int32(32))
        #expect((o.metadata[GGUFKey.Quantize.awqSamples]?.intValue ?? 99) <= 20)
    }

    @Test("--awq-importance: importances from the calibration, recorded in the metadata; a different file from plain --awq")
    func importance() throws {
        let tmp = TemporaryDirectory("awq-cmd")
        let input = try bundledModel(tmp)
        let awq = tmp.file("awq.gguf"), imp = tmp.file("awq-imp.gguf")
        let common = ["Q4_K_M", "--awq", Self.text, "--awq-seqlen", "64", "--awq-grid", "5", "-t", "2"]
        var r = runCommand(QuantizeCommand.run, [input, awq] + common + ["-q"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        r = runCommand(QuantizeCommand.run, [input, imp] + common + ["--awq-importance", "-q"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        let count = try GGUFFile(path: input).tensors.filter { $0.name.hasPrefix("blk.") && $0.shape.count == 2 }.count
        #expect(r.console.stderr.contains("awq: quantizing with importances for \(count) tensors"), "\(r.console.stderr)")
        let a = try GGUFFile(path: awq), i = try GGUFFile(path: imp)
        typealias K = GGUFKey.Quantize
        #expect(i.metadata[K.awqImportance] == .bool(true))
        #expect(i.metadata.keys.last == K.awqImportance)
        #expect(a.metadata[K.awqImportance] == nil)
        #expect(i.metadata[K.imatrixFile] == nil)
        // Same calibration, so the same scales and plan: only the weighted quantization differs.
        #expect(a.tensors.map(\.name) == i.tensors.map(\.name))
        #expect(a.tensors.map(\.type) == i.tensors.map(\.type))
        #expect(a.metadata[K.awqGroups] == i.metadata[K.awqGroups])
        var changed = 0
        for t in a.tensors where tensorBytes(a, t.name) != tensorBytes(i, t.name) {
            changed += 1
            #expect(t.name.hasPrefix("blk."), "\(t.name) changed")
        }
        #expect(changed > 0)
        #expect(tensorBytes(a, "blk.0.attn_norm.weight") == tensorBytes(i, "blk.0.attn_norm.weight"))
    }

    @Test("--awq-importance refuses --imatrix, --awq-only and a missing --awq")
    func importanceUsage() throws {
        let tmp = TemporaryDirectory("awq-cmd")
        let input = try bundledModel(tmp)
        let out = tmp.file("out.gguf")
        let imatrix = tmp.file("imatrix.dat")
        try Data([0, 0, 0, 0]).write(to: URL(fileURLWithPath: imatrix))
        let cases: [([String], String)] = [
            (["--awq", Self.text, "--awq-importance", "--imatrix", imatrix],
             "--awq-importance and --imatrix FILE both supply the quantizer's importances; use one or the other"),
            (["--awq", Self.text, "--awq-importance", "--awq-only"],
             "--awq-importance has no effect with --awq-only (nothing is quantized); drop one of them"),
            (["--awq-importance"], "--awq-importance needs --awq CALIB.txt"),
        ]
        for (args, message) in cases {
            let r = runCommand(QuantizeCommand.run, [input, out, "Q4_0"] + args + ["-q"])
            #expect(r.error?.exitCode == 64, "\(args)")
            #expect(r.error?.description.hasPrefix(message) == true, "\(String(describing: r.error))")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test("bad input: short text, missing text, unsupported architecture, quantized input, --awq-* without --awq")
    func badInput() throws {
        let tmp = TemporaryDirectory("awq-cmd")
        let input = try bundledModel(tmp)
        let out = tmp.file("out.gguf")

        let short = tmp.file("short.txt")
        try "Just a few words.\n\nAnd a second line.\n".write(toFile: short, atomically: true, encoding: .utf8)
        var r = runCommand(QuantizeCommand.run, [input, out, "Q4_K_M", "--awq", short, "-q"])
        #expect(r.error?.exitCode == 1)
        #expect(r.error?.description.hasPrefix("\(short): 2 usable line(s) give ") == true, "\(String(describing: r.error))")
        #expect(r.error?.description.contains("one calibration block needs 512 tokens (--awq-seqlen 512)") == true)
        #expect(!FileManager.default.fileExists(atPath: out))

        r = runCommand(QuantizeCommand.run, [input, out, "Q4_K_M", "--awq", tmp.file("none.txt"), "-q"])
        #expect(r.error?.description == "\(tmp.file("none.txt")): calibration text not found")
        #expect(!FileManager.default.fileExists(atPath: out))

        let quantized = tmp.file("q8.gguf")
        try writeTinyF32Model(quantized, type: .q8_0)
        for extra in [[], ["--allow-requantize"]] {
            r = runCommand(QuantizeCommand.run, [quantized, out, "Q4_K_M", "--awq", Self.text, "-q"] + extra)
            #expect(r.error?.exitCode == 1)
            #expect(r.error?.description == "\(quantized): tensor 'token_embd.weight' is already quantized (q8_0); "
                    + "AWQ needs an unquantized F32, F16 or BF16 model")
            #expect(!FileManager.default.fileExists(atPath: out))
        }

        var md = GGUFMetadata()
        md.set(GGUFKey.General.architecture, .string("phi2"))
        let phi = tmp.file("phi2.gguf")
        let w = try GGUFWriter(path: phi, metadata: md, tensors: [GGUFTensorInfo(name: "blk.0.attn_qkv.weight", shape: [32, 96], type: .f32)])
        try [Float](repeating: 0.5, count: 32 * 96).withUnsafeBytes { try w.writeTensor($0) }
        try w.finish(replace: true)
        r = runCommand(QuantizeCommand.run, [phi, out, "Q4_0", "--awq", Self.text, "-q"])
        #expect(r.error?.exitCode == 1)
        #expect(r.error?.description == "\(phi): architecture 'phi2' has no AWQ scaling groups; supported: llama, qwen2, qwen3, phi3, gemma2, gemma3, qwen3moe")
        #expect(!FileManager.default.fileExists(atPath: out))

        for args in [["--awq-clip"], ["--awq-only"], ["--awq-samples", "4"], ["--awq-seqlen", "64"], ["--awq-grid", "3"],
                     ["--awq-screen", "0"]] {
            r = runCommand(QuantizeCommand.run, [input, out, "Q4_0"] + args)
            #expect(r.error?.exitCode == 64)
            #expect(r.error?.description.hasPrefix("--\(args[0].dropFirst(2)) needs --awq CALIB.txt") == true)
        }
        for args in [["--awq-grid", "0"], ["--awq-screen", "-1"]] {
            r = runCommand(QuantizeCommand.run, [input, out, "Q4_0", "--awq", Self.text] + args)
            #expect(r.error?.exitCode == 64)
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
