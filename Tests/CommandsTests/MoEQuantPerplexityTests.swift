import Foundation
import Testing
import TestSupport
@testable import ToolSupport

@Suite("gguf-ppl on quantized MoE models (repacked experts) prints llama-perplexity's figures", .serialized)
struct MoEQuantPerplexityTests {
    static let cases: [(String, String)] = ["tiny-mixtral", "tiny-qwen3moe"].flatMap { m in
        ["Q4_K_M", "Q4_0", "IQ4_NL"].map { (m, $0) }
    }

    /// tiny-mixtral and tiny-qwen3moe (hidden 256, expert FFN 768 / 256: every expert tensor has a
    /// multiple of 8 rows, so b10572's AVX2 build repacks the Q4_K, Q4_0 and IQ4_NL experts and
    /// multiplies them in `mul_mat_id` with its GEMV kernels, LaneGEMM+Experts.swift), converted to
    /// F32 by hf2gguf and quantized by gguf-quantize, against llama-perplexity b10572 (AVX2 build,
    /// default flash attention) on llama-quantize's file of b10572's F32 conversion
    /// (Fixtures/reference-b10572/perplexity/NAME-TYPE-c128-chunks4.log): every running figure and
    /// the final line with its uncertainty, digit for digit.
    @Test("tiny MoE Q4_K_M / Q4_0 / IQ4_NL perplexity equals llama-perplexity b10572's", .golden, arguments: cases)
    func quantizedMoE(_ model: String, _ type: String) throws {
        let hf = try Golden.require(model: model)
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw").path
        let log = try String(contentsOf: TestPaths.fixtures.appendingPathComponent(
            "reference-b10572/perplexity/\(model)-\(type)-c128-chunks4.log"), encoding: .utf8)
        let tmp = TemporaryDirectory("ppl-moe-quant")
        let f32 = tmp.file("f32.gguf"), q = tmp.file("\(type).gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        #expect(runCommand(QuantizeCommand.run, [f32, q, type, "2", "-q"]).error == nil)
        let r = runCommand(PerplexityCommand.run, ["-m", q, "-f", text, "-c", "128", "--chunks", "4", "-t", "2", "--json", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let expected = runningFigures(log)
        let json = try decodeResult(r.console.stdout)
        let ours = try #require(json["runningPerplexity"] as? [Double])
        #expect(expected.count == 4 && ours.count == 4)
        for (i, (a, b)) in zip(ours, expected).enumerated() {
            #expect(String(format: "%.4f", a) == String(format: "%.4f", b), "\(model) \(type) [\(i + 1)]: ours \(a), llama.cpp \(b)")
        }
        let finalLine = try #require(log.split(separator: "\n").first { $0.hasPrefix("Final estimate: PPL =") })
        #expect(r.console.stderr.contains(finalLine), "\(model) \(type): expected '\(finalLine)'")
    }
}
