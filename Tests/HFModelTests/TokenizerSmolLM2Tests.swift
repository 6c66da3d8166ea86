import Testing
import Foundation
import TestSupport
@testable import HFModel

/// SmolLM2-135M-Instruct from the model cache (skipped when the cache is absent).
@Suite("SmolLM2 tokenizer.json")
struct TokenizerSmolLM2Tests {
    static let dir = TestPaths.modelDir("SmolLM2-135M-Instruct-hf")

    @Test("AutoTokenizer-style loading gives llama.cpp's smollm chkhsh", .enabled(if: dir != nil))
    func chkhsh() throws {
        let tok = try HFTokenizer.autoTokenizer(directory: try #require(TokenizerSmolLM2Tests.dir).path)
        #expect(tok.transformersClass == "GPT2TokenizerFast")
        // convert_hf_to_gguf.py b4748: "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249" -> "smollm"
        #expect(tok.chkhsh() == "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249")
        let plain = try HFTokenizer(path: try #require(TokenizerSmolLM2Tests.dir).appendingPathComponent("tokenizer.json").path)
        #expect(plain.chkhsh() == tok.chkhsh())
        #expect(tok.vocabCount == 49152)
        #expect(tok.maxTokenID == 49151)
        #expect(tok.addedTokens.count == 17)
        #expect(tok.ggufMerges.count == 48900)
        #expect(tok.ggufMerges.first == "\u{120} t")
    }

    @Test("wiki lines decode back to themselves", .enabled(if: dir != nil && wikiLines(1) != nil))
    func roundTrip() throws {
        let tok = try HFTokenizer(path: try #require(TokenizerSmolLM2Tests.dir).appendingPathComponent("tokenizer.json").path)
        for line in wikiLines(300) ?? [] {
            #expect(try tok.decode(tok.encode(line)) == line)
        }
    }

    @Test("wiki lines and random Unicode give the ids of the tokenizers package",
          .enabled(if: dir != nil && PythonTokenizers.available))
    func python() throws {
        let path = try #require(TokenizerSmolLM2Tests.dir).appendingPathComponent("tokenizer.json").path
        let tok = try HFTokenizer(path: path)
        let texts = (wikiLines(1000) ?? []) + RandomText.batch(seed: 2025, count: RandomText.count(500), maxLength: 200)
            + [HFTokenizer.chktxt, "<|im_start|>user\nHi<|im_end|>\n<|endoftext|>", ""]
        let tmp = TemporaryDirectory("smol")
        let expected = try #require(try PythonTokenizers.encode(tokenizer: path, texts: texts, addSpecialTokens: true, dir: tmp))
        var bad = 0
        for (t, e) in zip(texts, expected) where tok.encode(t) != e {
            bad += 1
            if bad <= 3 { Issue.record("\(scalarDump(t)): got \(tok.encode(t)), expected \(e)") }
        }
        #expect(bad == 0)
    }
}
