import Testing
import Foundation
import TestSupport
import GGUF
import Inference
@testable import ToolSupport

/// AWQ on Gemma 2/3: AutoAWQ's `Gemma2AWQForCausalLM` / Gemma 3 groups are llama's (input_layernorm
/// → q/k/v, v → o when square, pre_feedforward_layernorm (ffn_norm) → gate/up, up → down), so the
/// scaled norms are the pre-norms (attn_norm, ffn_norm) and never the post norms. Scaling alone
/// (`--awq-only`) must leave the model's function unchanged.
@Suite("gguf-quantize --awq on Gemma 2/3", .serialized)
struct GemmaAWQTests {
    static let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path

    func bytes(_ f: GGUFFile, _ name: String) -> [UInt8] {
        guard let t = f.tensor(named: name) else { return [] }
        return Array(f.data(t))
    }

    @Test("--awq-only scales the pre-norms and the linears; the logits stay those of the input", .golden,
          arguments: ["tiny-gemma2", "tiny-gemma3"])
    func awqOnly(_ name: String) throws {
        let hf = try Golden.require(model: name)
        let tmp = TemporaryDirectory("gemma-awq")
        let input = tmp.file("\(name)-f32.gguf"), out = tmp.file("scaled.gguf")
        try #require(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", input, "-q"]).error == nil)
        let r = runCommand(QuantizeCommand.run, [input, out, "Q4_0", "--awq", Self.text, "--awq-seqlen", "64",
                                                 "--awq-grid", "4", "--awq-samples", "8", "--awq-only", "-q"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        let i = try GGUFFile(path: input), o = try GGUFFile(path: out)
        #expect(Set(i.tensors.map(\.name)) == Set(o.tensors.map(\.name)))
        for n in ["blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "blk.0.attn_q.weight", "blk.0.ffn_up.weight",
                  "blk.0.ffn_down.weight"] {
            #expect(bytes(i, n) != bytes(o, n), "\(n) was not scaled")
        }
        for n in ["blk.0.post_attention_norm.weight", "blk.0.post_ffw_norm.weight", "token_embd.weight", "output_norm.weight"] {
            #expect(bytes(i, n) == bytes(o, n), "\(n) changed")
        }
        let tokens: [Int32] = (0..<96).map { Int32(1 + ($0 * 211) % 31000) }
        func logits(_ path: String) throws -> [Float] {
            let session = InferenceSession(model: try LanguageModel(path: path), contextLength: 96, threads: 2)
            return try session.evaluate(tokens).array
        }
        let a = try logits(input), b = try logits(out)
        let scale = a.reduce(0) { max($0, abs($1)) }
        let diff = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(diff < 1e-3 * max(scale, 1), "max |Δlogit| \(diff)")
    }
}
