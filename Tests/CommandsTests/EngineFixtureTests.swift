import Foundation
import GGUF
import Inference
import Testing
import TestSupport
@testable import ToolSupport

/// Our converter and engine against an independent float64 numpy forward pass of the Hugging Face
/// checkpoint (tools/make-logits-fixture.py → Fixtures/logits): architecture wiring (RoPE pairing
/// after the Q/K permutation, GQA, biases, q/k norms, tied output) checked end to end.
@Suite("Engine against the numpy reference of the HF checkpoints")
struct EngineFixtureTests {
    struct Fixture {
        let tokens: [Int32]
        let columns: [Int]
        let f16kv: [[Double]]
        let argmax: [Int]
        let logSumExp: [Double]
    }

    static func load(_ name: String) throws -> Fixture {
        let url = TestPaths.fixtures.appendingPathComponent("logits/\(name).json")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return Fixture(tokens: try #require(obj["tokens"] as? [Int]).map(Int32.init),
                       columns: try #require(obj["columns"] as? [Int]),
                       f16kv: try #require(obj["f16kv"] as? [[Double]]),
                       argmax: try #require(obj["argmax_f16kv"] as? [Int]),
                       logSumExp: try #require(obj["logsumexp_f16kv"] as? [Double]))
    }

    @Test("F32 logits equal the float64 pass (f16 KV cache emulated) to 2e-3",
          .golden, arguments: ["tiny-bpe-llama", "tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"])
    func matches(_ name: String) throws {
        let dir: URL
        if name == "tiny-bpe-llama" {
            dir = TestPaths.fixtures.appendingPathComponent(name)
        } else {
            dir = try Golden.require(model: name)
        }
        let fx = try Self.load(name)
        let tmp = TemporaryDirectory("engine-fixture")
        let path = tmp.file("\(name)-f32.gguf")
        let r = runCommand(ConvertCommand.run, [dir.path, "--outtype", "f32", "--outfile", path, "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let model = try LanguageModel(path: path)
        let session = InferenceSession(model: model, contextLength: 64, threads: 2)
        let logits = try session.evaluate(fx.tokens)
        var worst = 0.0
        for p in 0..<fx.tokens.count {
            let row = logits.row(p)
            for (j, c) in fx.columns.enumerated() { worst = max(worst, abs(Double(row[c]) - fx.f16kv[p][j])) }
            var best = 0
            for v in 0..<row.count where row[v] > row[best] { best = v }
            #expect(best == fx.argmax[p], "\(name) position \(p): argmax \(best), numpy \(fx.argmax[p])")
            let m = Double(row[best])
            var s = 0.0
            for v in row { s += Foundation.exp(Double(v) - m) }
            #expect(abs(m + Foundation.log(s) - fx.logSumExp[p]) < 2e-3, "\(name) position \(p): log-sum-exp")
        }
        #expect(worst < 2e-3, "\(name): max |Δlogit| \(worst)")
    }
}
