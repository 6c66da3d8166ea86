import Testing
import Foundation
import TestSupport
@testable import HFModel

/// SmolLM2-135M-Instruct from the model cache (golden tests: skipped when the cache is absent, failed in CI).
@Suite("SmolLM2 tokenizer.json")
struct TokenizerSmolLM2Tests {
    static func dir(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        try Golden.require(model: "SmolLM2-135M-Instruct-hf", sourceLocation: sourceLocation)
    }

    @Test("AutoTokenizer-style loading gives llama.cpp's smollm chkhsh", .golden)
    func chkhsh() throws {
        let tok = try HFTokenizer.autoTokenizer(directory: try Self.dir().path)
        #expect(tok.transformersClass == "GPT2TokenizerFast")
        // convert_hf_to_gguf.py b4748: "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249" -> "smollm"
        #expect(tok.chkhsh() == "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249")
        let plain = try HFTokenizer(path: try Self.dir().appendingPathComponent("tokenizer.json").path)
        #expect(plain.chkhsh() == tok.chkhsh())
        #expect(tok.vocabCount == 49152)
        #expect(tok.maxTokenID == 49151)
        #expect(tok.addedTokens.count == 17)
        #expect(tok.ggufMerges.count == 48900)
        #expect(tok.ggufMerges.first == "\u{120} t")
    }

    @Test("wiki lines decode back to themselves", .golden)
    func roundTrip() throws {
        let tok = try HFTokenizer(path: try Self.dir().appendingPathComponent("tokenizer.json").path)
        for line in try wikiLines(300) {
            #expect(try tok.decode(tok.encode(line)) == line)
        }
    }

    @Test("wiki lines and random Unicode give the ids of the tokenizers package", .golden)
    func python() throws {
        try PythonTokenizers.require()
        let path = try Self.dir().appendingPathComponent("tokenizer.json").path
        let tok = try HFTokenizer(path: path)
        let texts = try wikiLines(1000) + RandomText.batch(seed: 2025, count: RandomText.count(500), maxLength: 200)
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
