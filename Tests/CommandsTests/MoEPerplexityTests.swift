import Foundation
import Testing
import TestSupport
@testable import ToolSupport

@Suite("gguf-ppl on MoE models")
struct MoEPerplexityTests {
    /// tiny-mixtral (general.architecture llama with experts) and tiny-qwen3moe, converted to F32 by
    /// hf2gguf, against llama-perplexity b10572's figures on the same file
    /// (Fixtures/reference-b10572/perplexity, `-c 128 --chunks 4 -t 2`): every running figure
    /// within 0.01 %. (Not digit for digit: ggml multiplies the experts with `mul_mat_id`, one
    /// `vec_dot` per row, while the engine uses its tinyBLAS-order product.)
    @Test("tiny MoE F32 perplexity within 0.01 % of llama-perplexity b10572", .golden,
          arguments: ["tiny-mixtral", "tiny-qwen3moe"])
    func tinyMoE(_ model: String) throws {
        let hf = try Golden.require(model: model)
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw").path
        let log = try String(contentsOf: TestPaths.fixtures.appendingPathComponent(
            "reference-b10572/perplexity/\(model)-f32-c128-chunks4.log"), encoding: .utf8)
        let expected = runningFigures(log)
        let tmp = TemporaryDirectory("ppl-moe")
        let f32 = tmp.file("\(model)-f32.gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        let r = runCommand(PerplexityCommand.run, ["-m", f32, "-f", text, "-c", "128", "--chunks", "4", "-t", "2", "--json", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let json = try decodeResult(r.console.stdout)
        let ours = try #require(json["runningPerplexity"] as? [Double])
        #expect(expected.count == 4 && ours.count == 4)
        for (i, (a, b)) in zip(ours, expected).enumerated() {
            #expect(abs(a - b) / b < 1e-4, "\(model) [\(i + 1)]: ours \(a), llama.cpp \(b)")
        }
    }
}
