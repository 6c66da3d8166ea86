import Foundation
import GGUF
import Inference
import Testing
import TestSupport

/// `llama-tokenize -m VOCAB -f wiki.test.raw --ids` over the whole test split
/// (../shared/reference/tokenizer/wiki-test-ids.tsv): escapes processed, BOS when the vocabulary
/// adds it, control tokens parsed, nothing stripped from the end of the file.
@Suite("Vocab: wiki.test.raw as llama-tokenize")
struct VocabWikiTests {
    struct Row { let vocab: String; let count: Int; let sha: String }

    static func rows() throws -> [Row] {
        let tsv = try Golden.require(shared: "reference/tokenizer/wiki-test-ids.tsv")
        return try String(contentsOf: tsv, encoding: .utf8).split(separator: "\n").dropFirst().map {
            let f = $0.split(separator: "\t").map(String.init)
            return Row(vocab: f[0], count: Int(f[1]) ?? -1, sha: f[2])
        }
    }

    static func vocabURL(_ name: String) throws -> URL {
        if name.hasPrefix("ggml-vocab-") { return try Golden.require(shared: "reference/tokenizer/\(name)") }
        return try Golden.require(model: name)
    }

    @Test("count and sha256 of the ids match for every listed vocabulary", .golden,
          arguments: ["smollm2-f32.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf",
                      "ggml-vocab-falcon.gguf", "ggml-vocab-starcoder.gguf", "ggml-vocab-deepseek-coder.gguf"])
    func wiki(_ name: String) throws {
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw")
        guard let row = try Self.rows().first(where: { $0.vocab == name }) else {
            Issue.record("\(name) is not in wiki-test-ids.tsv")
            return
        }
        let vocab = try VocabTestData.load(try Self.vocabURL(name))
        let prompt = TokenizeOutput.processEscapes([UInt8](try Data(contentsOf: text)))
        let start = Date()
        let ids = vocab.tokenize(bytes: prompt, addSpecial: vocab.addBOS, parseSpecial: true)
        let seconds = Date().timeIntervalSince(start)
        print("wiki.test.raw with \(name): \(ids.count) tokens in \(String(format: "%.3f", seconds)) s")
        #expect(ids.count == row.count)
        #expect(VocabTestData.digest(ids) == row.sha)
    }
}
