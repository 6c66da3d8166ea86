import Testing
import Foundation
import TestSupport
@testable import HFModel

@Suite("tokenizer.json rebuilt from llama.cpp vocabularies")
struct TokenizerVocabTests {
    static let available = VocabFixture.models.keys.sorted().filter { VocabFixture.vocabFile($0) != nil }

    @Test("encodes llama.cpp's test vectors like Hugging Face and gives the chkhsh of the b4748 table",
          arguments: available)
    func vectors(name: String) throws {
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
    static let vocabs = PythonTokenizers.available ? TokenizerVocabTests.available : []

    @Test("rebuilt vocabularies: random Unicode and wiki lines give the ids of tokenizers", arguments: vocabs)
    func vocab(name: String) throws {
        let dir = TemporaryDirectory("pyvocab")
        let path = try VocabFixture.write(name, to: dir)
        let tok = try HFTokenizer(path: path)
        let texts = RandomText.batch(seed: 0x5EED &+ UInt64(name.utf8.count), count: RandomText.count(300)) + (wikiLines(200) ?? [])
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
