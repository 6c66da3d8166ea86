import Testing
import Foundation
import TestSupport
@testable import HFModel

@Suite("tokenizer.json rebuilt from llama.cpp vocabularies")
struct TokenizerVocabTests {
    @Test("encodes llama.cpp's test vectors like Hugging Face and gives the chkhsh of the b4748 table",
          .golden, arguments: VocabFixture.inShared)
    func vectors(name: String) throws { try Self.vectors(name) }

    @Test("the same with the vocabularies of llama.cpp's models/", .oracle, arguments: VocabFixture.inOracle)
    func vectorsOracle(name: String) throws { try Self.vectors(name) }

    static func vectors(_ name: String) throws {
        let dir = TemporaryDirectory("vocab")
        let tok = try HFTokenizer(path: try VocabFixture.write(name, to: dir))
        let vectors = try VocabFixture.testVectors(name)
        #expect(vectors.count >= 40)
        for (text, ids) in vectors {
            #expect(tok.encode(text, addSpecialTokens: false) == ids, "\(name): \(text.debugDescription)")
        }
        #expect(vectors.last?.text == HFTokenizer.chktxt)
        #expect(tok.chkhsh() == VocabFixture.models[name]!.hash, "\(name)")
    }
}

@Suite("tokenizer.json against the Python tokenizers package")
struct TokenizerPythonTests {
    @Test("rebuilt vocabularies: random Unicode and wiki lines give the ids of tokenizers", .golden,
          arguments: VocabFixture.inShared)
    func vocab(name: String) throws { try Self.vocab(name) }

    @Test("the same with the vocabularies of llama.cpp's models/", .oracle, arguments: VocabFixture.inOracle)
    func vocabOracle(name: String) throws { try Self.vocab(name) }

    static func vocab(_ name: String) throws {
        try PythonTokenizers.require()
        let dir = TemporaryDirectory("pyvocab")
        let path = try VocabFixture.write(name, to: dir)
        let tok = try HFTokenizer(path: path)
        let texts = RandomText.batch(seed: 0x5EED &+ UInt64(name.utf8.count), count: RandomText.count(300)) + (try wikiLines(200))
        let expected = try #require(try PythonTokenizers.encode(tokenizer: path, texts: texts, addSpecialTokens: true, dir: dir))
        var mismatches = 0
        for (t, e) in zip(texts, expected) {
            let got = tok.encode(t)
            if got != e {
                mismatches += 1
                if mismatches <= 3 { Issue.record("\(name): \(scalarDump(t)): got \(got), expected \(e)") }
            }
        }
        #expect(mismatches == 0)
    }
}
