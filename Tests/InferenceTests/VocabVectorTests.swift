import Foundation
import GGUF
import Inference
import Testing
import TestSupport

/// llama.cpp's own tokenizer test vectors (tests/test-tokenizer-0.cpp: add_special and
/// parse_special both false, ids compared without BOS).
@Suite("Vocab: llama.cpp test vectors")
struct VocabVectorTests {
    static let sharedVocabs = ["deepseek-coder", "falcon", "gpt-2", "llama-spm", "starcoder"]
    /// In llama.cpp's models/ with .inp/.out; bert-bge (WordPiece) is not supported.
    static let oracleVocabs = ["deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-spm", "mpt",
                               "phi-3", "refact", "starcoder"]

    static func check(_ gguf: URL) throws {
        let vocab = try VocabTestData.load(gguf)
        let inputs = try VocabTestData.inputs(URL(fileURLWithPath: gguf.path + ".inp"))
        let outputs = try VocabTestData.outputs(URL(fileURLWithPath: gguf.path + ".out"))
        #expect(inputs.count == outputs.count)
        for (input, expected) in zip(inputs, outputs) {
            let got = vocab.tokenize(bytes: input, addSpecial: false, parseSpecial: false)
            #expect(got == expected, "\(gguf.lastPathComponent): '\(String(decoding: input, as: UTF8.self))'")
        }
    }

    @Test("shared vocabularies reproduce every .out line", .golden, arguments: sharedVocabs)
    func shared(_ name: String) throws {
        try Self.check(try Golden.require(shared: "reference/tokenizer/ggml-vocab-\(name).gguf"))
    }

    @Test("llama.cpp models/ vocabularies reproduce every .out line", .oracle, arguments: oracleVocabs)
    func oracle(_ name: String) throws {
        try Self.check(try Golden.requireOracle().appendingPathComponent("models/ggml-vocab-\(name).gguf"))
    }
}
