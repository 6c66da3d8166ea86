import Foundation
import Testing
import TestSupport
@testable import ToolSupport

/// Gemma 2 / Gemma 3 perplexity against llama.cpp b10572: hf2gguf's f32 conversion of the tiny
/// models (byte-identical to b10572's), then gguf-ppl `-c 128 --chunks 4 -t 2`, whose running
/// figures must be within 0.01 % of llama-perplexity's (Fixtures/reference-b10572/perplexity,
/// with the command in each file's first line). The engine follows b10572's Gemma graphs
/// (embedding scale, sandwich norms, GeGLU from ggml's f16 GELU table, query scale, soft-capping,
/// sliding window with the local RoPE base) but not its flash-attention summation order, hence a
/// tolerance instead of identical digits.
@Suite("gguf-ppl on Gemma 2/3 matches llama-perplexity b10572", .serialized)
struct GemmaPerplexityTests {
    static func referenceFigures(_ name: String) throws -> [Double] {
        let url = TestPaths.fixtures.appendingPathComponent("reference-b10572/perplexity/\(name)-f32-c128-chunks4.log")
        return runningFigures(try String(contentsOf: url, encoding: .utf8))
    }

    @Test("tiny Gemma F32 perplexity within 0.01 % of llama-perplexity", .golden,
          arguments: ["tiny-gemma2", "tiny-gemma3"])
    func perplexity(_ name: String) throws {
        let hf = try Golden.require(model: name)
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw").path
        let expected = try Self.referenceFigures(name)
        #expect(expected.count == 4)
        let tmp = TemporaryDirectory("gemma-ppl")
        let f32 = tmp.file("\(name)-f32.gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        let r = runCommand(PerplexityCommand.run, ["-m", f32, "-f", text, "-c", "128", "--chunks", "4", "-t", "2", "--json", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let json = try decodeResult(r.console.stdout)
        let ours = try #require(json["runningPerplexity"] as? [Double])
        #expect(ours.count == expected.count)
        for (i, (a, b)) in zip(ours, expected).enumerated() {
            #expect(abs(a - b) / b < 1e-4, "\(name) [\(i + 1)]: ours \(a), llama.cpp \(b)")
        }
    }
}
