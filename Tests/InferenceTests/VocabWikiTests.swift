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

    /// `minimum` (perplexity with --chunks reads only the chunks it scores): the first ids of the
    /// whole text's, at least `minimum` of them, and all of them when the text has fewer.
    @Test("a tokenization stopped at a minimum is the start of the whole one", .golden,
          arguments: ["smollm2-f32.gguf", "ggml-vocab-llama-spm.gguf", "ggml-vocab-deepseek-coder.gguf"])
    func prefix(_ name: String) throws {
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw")
        let vocab = try VocabTestData.load(try Self.vocabURL(name))
        let prompt = TokenizeOutput.processEscapes([UInt8](try Data(contentsOf: text)))
        for special in [false, true] {
            let whole = vocab.tokenize(bytes: prompt, addSpecial: true, parseSpecial: special)
            for minimum in [0, 1, 2, 513, 4096, 100_000, whole.count - 1, whole.count, whole.count + 7] {
                let part = prompt.withUnsafeBufferPointer {
                    vocab.tokenize(bytes: $0, addSpecial: true, parseSpecial: special, minimum: minimum)
                }
                #expect(part.count >= Swift.min(minimum, whole.count), "\(name) minimum \(minimum)")
                #expect(Array(whole.prefix(part.count)) == part, "\(name) minimum \(minimum)")
                if name.hasPrefix("smollm2") || name.contains("deepseek") {
                    // BPE stops after a word: a few tokens past the minimum, not the whole text.
                    #expect(minimum >= whole.count || part.count < minimum + 64, "\(name) minimum \(minimum)")
                }
            }
            let none = prompt.withUnsafeBufferPointer {
                vocab.tokenize(bytes: $0, addSpecial: true, parseSpecial: special, minimum: nil)
            }
            #expect(none == whole)
        }
    }
}
