import Foundation
import Testing
import TestSupport
import Inference
@testable import ToolSupport

/// Gemma 2 / Gemma 3 perplexity against llama.cpp b10572: hf2gguf's f32 conversion of the tiny
/// models (byte-identical to b10572's), quantized by gguf-quantize (byte-identical to
/// llama-quantize), then gguf-ppl `-c 128 --chunks 4 -t 2`, whose running figures must be those of
/// llama-perplexity (AVX2 build, flash attention on by default; Fixtures/reference-b10572/perplexity,
/// with the command in each file's first line) to 1e-7: the engine follows b10572's Gemma graphs
/// (embedding scale, sandwich norms, GeGLU from ggml's f16 GELU table, query scale, soft-capping
/// inside flash attention, sliding window with the local RoPE base) and its flash-attention order
/// on the sliding-window layers too. (Before the windowed flash path, Gemma 3 Q4_K_M was 0.23 % off.)
@Suite("gguf-ppl on Gemma 2/3 matches llama-perplexity b10572", .serialized)
struct GemmaPerplexityTests {
    static func referenceFigures(_ name: String, _ type: String = "f32") throws -> [Double] {
        let url = TestPaths.fixtures.appendingPathComponent("reference-b10572/perplexity/\(name)-\(type)-c128-chunks4.log")
        return runningFigures(try String(contentsOf: url, encoding: .utf8))
    }

    /// llama.cpp's `load_arch_hparams`: gemma2 slides every other layer (period 2, window from the
    /// file, base = the global base), gemma3 five layers in six with `rope.freq_base_swa`; Q scaled by
    /// 1/sqrt(head_dim); gemma2 caps scores at 50 and logits at 30, gemma3 (no key) caps nothing.
    @Test("the Gemma hyper-parameters are read as llama.cpp reads them", .golden)
    func hyperParameters() throws {
        let tmp = TemporaryDirectory("gemma-hp")
        for name in ["tiny-gemma2", "tiny-gemma3"] {
            let hf = try Golden.require(model: name)
            let f32 = tmp.file("\(name).gguf")
            #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
            let m = try LanguageModel(path: f32)
            let c = m.config
            #expect(c.embeddingScale == Float(256).squareRoot())
            #expect(c.queryScale == 1 / Float(128).squareRoot())
            #expect(c.slidingWindow == 64)
            #expect(m.layers.allSatisfy { $0.postAttentionNorm?.count == 256 && $0.postFFWNorm?.count == 256 })
            if name == "tiny-gemma2" {
                #expect((0..<2).map(c.isSlidingWindowLayer) == [true, false])
                #expect(c.attentionSoftCap == 50 && c.finalSoftCap == 30)
                #expect(c.ropeFreqBase == 10000 && c.ropeFreqBaseSWA == 10000)
            } else {
                #expect((0..<6).map(c.isSlidingWindowLayer) == [true, true, true, true, true, false])
                #expect(c.attentionSoftCap == 0 && c.finalSoftCap == 0)
                #expect(c.ropeFreqBase == 1_000_000 && c.ropeFreqBaseSWA == 10000)
                #expect(m.layers.allSatisfy { $0.qNorm?.count == 128 && $0.kNorm?.count == 128 })
            }
        }
    }

    @Test("tiny Gemma perplexity (F32, Q8_0, Q4_K_M) prints llama-perplexity's running figures", .golden,
          arguments: ["tiny-gemma2", "tiny-gemma3"], ["f32", "Q8_0", "Q4_K_M"])
    func perplexity(_ name: String, _ type: String) throws {
        let hf = try Golden.require(model: name)
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw").path
        let expected = try Self.referenceFigures(name, type)
        #expect(expected.count == 4)
        let tmp = TemporaryDirectory("gemma-ppl")
        let f32 = tmp.file("\(name)-f32.gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        var model = f32
        if type != "f32" {
            model = tmp.file("\(name)-\(type).gguf")
            #expect(runCommand(QuantizeCommand.run, ["-q", f32, model, type, "2"]).error == nil)
        }
        let r = runCommand(PerplexityCommand.run, ["-m", model, "-f", text, "-c", "128", "--chunks", "4", "-t", "2", "--json", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let json = try decodeResult(r.console.stdout)
        let ours = try #require(json["runningPerplexity"] as? [Double])
        #expect(ours.count == expected.count)
        for (i, (a, b)) in zip(ours, expected).enumerated() {
            #expect(abs(a - b) / b < 1e-7, "\(name) \(type) [\(i + 1)]: ours \(a), llama.cpp \(b)")
        }
    }
}
