import Testing
import Foundation
import TestSupport
import GGUF
import Quants
@testable import ToolSupport

/// A small F32 model file written with our own writer: two layers of 256-wide matrices.
func writeTinyF32Model(_ path: String, nan: Bool = false, type: GGMLType = .f32) throws {
    var md = GGUFMetadata()
    md.set(GGUFKey.General.architecture, .string("llama"))
    md.set(GGUFKey.LLM.blockCount("llama"), .uint32(2))
    md.set(GGUFKey.LLM.headCount("llama"), .uint32(4))
    md.set(GGUFKey.LLM.headCountKV("llama"), .uint32(2))
    md.set(GGUFKey.General.fileType, .uint32(0))
    md.set(GGUFKey.General.quantizationVersion, .uint32(2))
    md.set("tokenizer.ggml.model", .string("gpt2"))
    var infos: [GGUFTensorInfo] = [GGUFTensorInfo(name: "token_embd.weight", shape: [256, 64], type: type),
                                   GGUFTensorInfo(name: "output_norm.weight", shape: [256], type: .f32)]
    for l in 0..<2 {
        infos.append(GGUFTensorInfo(name: "blk.\(l).attn_norm.weight", shape: [256], type: .f32))
        for n in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] {
            infos.append(GGUFTensorInfo(name: "blk.\(l).\(n).weight", shape: [256, 32], type: type))
        }
    }
    let w = try GGUFWriter(path: path, metadata: md, tensors: infos)
    var g = SplitMix64(seed: 5)
    for (i, t) in w.tensors.enumerated() {
        var v = (0..<t.elementCount).map { _ in g.nextGaussian() * 0.05 }
        if nan && i == 3 { v[300] = .nan }
        if t.type == .f32 {
            try v.withUnsafeBytes { try w.writeTensor($0) }
        } else {
            var out = [UInt8](repeating: 0, count: t.byteCount)
            v.withUnsafeBufferPointer { s in out.withUnsafeMutableBytes {
                Quantizer.quantize(t.type, s.baseAddress!, $0.baseAddress!, rows: t.rowCount, rowLength: t.rowLength)
            } }
            try out.withUnsafeBytes { try w.writeTensor($0) }
        }
    }
    try w.finish(replace: true)
}

@Suite("gguf-quantize: options, plan and bad input")
struct QuantizeCommandTests {
    @Test("Q4_K_M on a small model: types, metadata order and sizes")
    func quantizes() throws {
        let tmp = TemporaryDirectory("quant")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try writeTinyF32Model(input)
        let r = runCommand(QuantizeCommand.run, [input, output, "q4_k_m", "2", "-q"])
        #expect(r.error == nil)
        let f = try GGUFFile(path: output)
        #expect(f.tensors.map(\.name).prefix(3) == ["output_norm.weight", "token_embd.weight", "blk.0.attn_k.weight"])
        #expect(f.tensor(named: "token_embd.weight")?.type == .q6_K)   // tied embedding: the output rule
        // use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2: false for 0 of 2, true for 1 of 2.
        #expect(f.tensor(named: "blk.0.attn_v.weight")?.type == .q4_K)
        #expect(f.tensor(named: "blk.1.attn_v.weight")?.type == .q6_K)
        #expect(f.tensor(named: "blk.0.attn_q.weight")?.type == .q4_K)
        #expect(f.tensor(named: "blk.0.attn_norm.weight")?.type == .f32)
        #expect(f.metadata.keys.suffix(2) == [GGUFKey.General.quantizationVersion, GGUFKey.General.fileType])
        #expect(f.metadata[GGUFKey.General.fileType] == .uint32(15))
        #expect(r.console.stdout.contains("quant size  ="))
    }

    @Test("default output name, nthreads and ftype numbers like llama-quantize")
    func defaultName() throws {
        let tmp = TemporaryDirectory("quant")
        let input = tmp.file("in.gguf")
        try writeTinyF32Model(input)
        #expect(runCommand(QuantizeCommand.run, [input, "7", "-q"]).error == nil)
        #expect(try GGUFFile(path: tmp.file("ggml-model-Q8_0.gguf")).tensor(named: "blk.1.ffn_up.weight")?.type == .q8_0)
    }

    @Test("--pure, --output-tensor-type, --token-embedding-type, --leave-output-tensor")
    func options() throws {
        let tmp = TemporaryDirectory("quant")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try writeTinyF32Model(input)
        #expect(runCommand(QuantizeCommand.run, ["--pure", "--token-embedding-type", "q8_0", input, output, "Q4_K_M", "-q"]).error == nil)
        let f = try GGUFFile(path: output)
        #expect(f.tensor(named: "blk.0.attn_v.weight")?.type == .q4_K)
        #expect(f.tensor(named: "token_embd.weight")?.type == .q8_0)
    }

    @Test("--dry-run prints the plan and writes nothing")
    func dryRun() throws {
        let tmp = TemporaryDirectory("quant")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try writeTinyF32Model(input)
        let r = runCommand(QuantizeCommand.run, [input, output, "Q5_K_S", "--dry-run"])
        #expect(r.error == nil)
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(r.console.stdout.contains("blk.0.attn_v.weight"))
        #expect(r.console.stdout.contains("size =     0.03 MiB ->     0.01 MiB (q5_K)"))
    }

    @Test("unknown type lists the valid ones")
    func unknownType() throws {
        let tmp = TemporaryDirectory("quant")
        let input = tmp.file("in.gguf")
        try writeTinyF32Model(input)
        let e = runCommand(QuantizeCommand.run, [input, tmp.file("o.gguf"), "Q7_K"]).error
        #expect(e?.exitCode == 64)
        #expect(e?.description.hasPrefix("invalid quantization type 'Q7_K'; valid types: Q1_0, Q2_0, Q4_0, Q4_1, MXFP4_MOE") == true)
    }

    @Test("input not a GGUF, truncated, output equal to input")
    func badFiles() throws {
        let tmp = TemporaryDirectory("quant")
        let notGGUF = tmp.file("x.gguf")
        try "hello world, not a model".write(toFile: notGGUF, atomically: true, encoding: .utf8)
        #expect(runCommand(QuantizeCommand.run, [notGGUF, tmp.file("o.gguf"), "Q8_0"]).error?.description ==
                "\(notGGUF): invalid magic 'hell', expected 'GGUF': not a GGUF file (at offset 0)")
        let input = tmp.file("in.gguf")
        try writeTinyF32Model(input)
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        let cut = tmp.file("cut.gguf")
        try data.prefix(data.count - 5000).write(to: URL(fileURLWithPath: cut))
        let e = runCommand(QuantizeCommand.run, [cut, tmp.file("o.gguf"), "Q8_0"]).error
        #expect(e?.description.contains("needs 32768 bytes") == true)
        let same = runCommand(QuantizeCommand.run, [input, input, "Q8_0", "--force"]).error
        #expect(same?.description == "\(input): output path is the input file '\(input)'; refusing to overwrite the input")
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == data)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("o.gguf")))
    }

    @Test("requantizing needs --allow-requantize")
    func requantize() throws {
        let tmp = TemporaryDirectory("quant")
        let input = tmp.file("q8.gguf"), output = tmp.file("out.gguf")
        try writeTinyF32Model(input, type: .q8_0)
        let e = runCommand(QuantizeCommand.run, [input, output, "Q4_0", "-q"]).error
        #expect(e?.description == "\(input): tensor 'token_embd.weight' is Q8_0: requantizing from type q8_0 is disabled (use --allow-requantize)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(runCommand(QuantizeCommand.run, ["--allow-requantize", input, output, "Q4_0", "-q"]).error == nil)
        #expect(try GGUFFile(path: output).tensor(named: "blk.0.attn_q.weight")?.type == .q4_0)
    }

    @Test("a NaN weight names the tensor and row, and no output is left")
    func nanWeight() throws {
        let tmp = TemporaryDirectory("quant")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try writeTinyF32Model(input, nan: true)
        let e = runCommand(QuantizeCommand.run, [input, output, "Q4_K_M", "-q"]).error
        #expect(e?.description == "\(input): tensor 'blk.0.attn_q.weight' has invalid data: row 1, column 44 is nan")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted() == ["in.gguf"])
    }
}
