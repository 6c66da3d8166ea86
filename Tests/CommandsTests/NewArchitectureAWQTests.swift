import Testing
import Foundation
import TestSupport
import GGUF
import Inference
@testable import ToolSupport

/// AWQ on the architectures whose matrices are not llama's separate tensors: Phi-3 (fused
/// `attn_qkv` and `ffn_up` = gate‖up, scaled as stored: the norms absorb the inverse scales of
/// the fused tensors' columns, and up → down divides only the up half's rows) and the MoE models
/// Mixtral and Qwen3-MoE (one scale vector for the router and every expert's gate and up; the
/// attention groups as llama's). Scaling alone (`--awq-only`) is a reparameterisation: the float
/// model's logits must stay those of the input up to rounding (this catches a wrong absorption),
/// and the quantized AWQ file must load and run in the engine, and hf2gguf's one pass from the
/// folder must write the same bytes as the two steps.
@Suite("gguf-quantize --awq on Phi-3, Mixtral and Qwen3-MoE", .serialized)
struct NewArchitectureAWQTests {
    static let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path

    struct Case: Sendable, CustomStringConvertible {
        let model: String
        /// Tensors of block 0 that calibration must have rewritten (the groups always pick a
        /// scale on these models) and tensors that must stay as they are.
        let scaled: [String]
        let unchanged: [String]
        var description: String { model }
    }

    static let cases: [Case] = [
        Case(model: "tiny-phi3",
             scaled: ["blk.0.attn_norm.weight", "blk.0.attn_qkv.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_up.weight",
                      "blk.0.ffn_down.weight"],
             unchanged: ["token_embd.weight", "output_norm.weight", "output.weight"]),
        Case(model: "tiny-mixtral",
             scaled: ["blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate_inp.weight",
                      "blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight", "blk.0.ffn_down_exps.weight"],
             unchanged: ["token_embd.weight", "output_norm.weight"]),
        Case(model: "tiny-qwen3moe",
             scaled: ["blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate_inp.weight",
                      "blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight", "blk.0.ffn_down_exps.weight"],
             unchanged: ["blk.0.attn_q_norm.weight", "token_embd.weight", "output_norm.weight"]),
    ]

    func bytes(_ f: GGUFFile, _ name: String) -> [UInt8] {
        guard let t = f.tensor(named: name) else { return [] }
        return Array(f.data(t))
    }

    static let tokens: [Int32] = (0..<96).map { Int32(1 + ($0 * 211) % 31000) }

    func logits(_ path: String) throws -> [Float] {
        let session = InferenceSession(model: try LanguageModel(path: path), contextLength: 96, threads: 2)
        return try session.evaluate(Self.tokens).array
    }

    @Test("--awq-only scales the groups' tensors as stored; the logits stay those of the input; --awq Q4_K_M loads and runs",
          .golden, arguments: cases)
    func awq(_ c: Case) throws {
        let hf = try Golden.require(model: c.model)
        let tmp = TemporaryDirectory("awq-\(c.model)")
        let input = tmp.file("f32.gguf"), scaled = tmp.file("scaled.gguf"), quantized = tmp.file("q4km.gguf")
        try #require(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", input, "-q"]).error == nil)
        let awq = ["--awq", Self.text, "--awq-seqlen", "64", "--awq-grid", "4", "--awq-samples", "8", "-q"]
        let r = runCommand(QuantizeCommand.run, [input, scaled, "Q4_K_M"] + awq + ["--awq-only"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        let i = try GGUFFile(path: input), o = try GGUFFile(path: scaled)
        #expect(Set(i.tensors.map(\.name)) == Set(o.tensors.map(\.name)))
        // (Booleans: a failure names the tensor instead of printing its bytes.)
        for n in c.scaled {
            let same = bytes(i, n) == bytes(o, n)
            #expect(!same, "\(n) was not scaled")
        }
        for n in c.unchanged {
            let same = bytes(i, n) == bytes(o, n)
            #expect(same, "\(n) changed")
        }

        let a = try logits(input), b = try logits(scaled)
        let scale = a.reduce(0) { max($0, abs($1)) }
        let diff = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(diff < 1e-3 * max(scale, 1), "max |Δlogit| \(diff) (largest |logit| \(scale))")

        let q = runCommand(QuantizeCommand.run, [input, quantized, "Q4_K_M"] + awq)
        try #require(q.error == nil, "\(String(describing: q.error))")
        let qf = try GGUFFile(path: quantized)
        #expect(qf.tensors.contains { $0.type == .q4_K })
        let ql = try logits(quantized)
        #expect(ql.count == a.count && ql.allSatisfy(\.isFinite))

        // One pass from the HF folder (calibration on the in-memory f32 model): the same bytes.
        let onePass = tmp.file("one-pass.gguf")
        let h = runCommand(ConvertCommand.run, [hf.path, "--outtype", "Q4_K_M", "--outfile", onePass] + awq)
        try #require(h.error == nil, "\(String(describing: h.error))")
        let same = FileManager.default.contentsEqual(atPath: onePass, andPath: quantized)
        #expect(same, "hf2gguf --outtype Q4_K_M --awq differs from hf2gguf f32 + gguf-quantize --awq")
    }
}
