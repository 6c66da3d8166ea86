import Foundation
import Testing
import TestSupport
import SwiftGGUF
@testable import ToolSupport

/// Tokenizer parity with llama.cpp b10572's `llama-tokenize` (Fixtures/reference-b10572/tokenize/,
/// README there): every model of the cache whose architecture hf2gguf converts, its vocabulary
/// written by `hf2gguf --vocab-only`, then tokenized in llama-tokenize's four modes (BOS as the
/// vocabulary asks or `--no-bos`; `--parse-special` or `--no-parse-special`) for 100 texts and 11
/// malformed UTF-8 inputs, and the whole of wiki.test.raw as `llama-tokenize -f wiki.test.raw --ids` reads it.
@Suite("Tokenizer: llama-tokenize b10572 on every converted vocabulary")
struct TokenizeB10572Tests {
    static let folder = TestPaths.fixtures.appendingPathComponent("reference-b10572/tokenize")

    struct Row: Sendable, CustomStringConvertible {
        let model: String, vectors: String, wikiTokens: Int, wikiSHA: String
        var description: String { model }
    }

    /// models.tsv: model, vectors file, wiki.test.raw token count and sha256 of the comma-joined ids.
    static let rows: [Row] = {
        guard let text = try? String(contentsOf: folder.appendingPathComponent("models.tsv"), encoding: .utf8) else {
            return []
        }
        return text.split(separator: "\n").dropFirst().compactMap { line -> Row? in
            let f = line.split(separator: "\t").map(String.init)
            guard f.count == 4, let n = Int(f[2]) else { return nil }
            return Row(model: f[0], vectors: f[1], wikiTokens: n, wikiSHA: f[3])
        }
    }()

    /// The four llama-tokenize modes as the fixtures name them: (key, BOS unless --no-bos, parse special).
    static let modes: [(key: String, bos: Bool, special: Bool)] = [
        ("bos-special", true, true), ("nobos-special", false, true),
        ("bos-plain", true, false), ("nobos-plain", false, false),
    ]

    /// Vocabularies already converted, by model (both tests of a model share one conversion).
    final class Converted: @unchecked Sendable {
        private let lock = NSLock()
        private var vocabularies: [String: GGUFVocabulary] = [:]
        /// Holds the lock while converting: one conversion at a time, each model once.
        func get(_ model: String, _ make: () throws -> GGUFVocabulary) throws -> GGUFVocabulary {
            try lock.withLock {
                if let v = vocabularies[model] { return v }
                let v = try make()
                vocabularies[model] = v
                return v
            }
        }
    }
    static let converted = Converted()

    /// The model's vocabulary as hf2gguf --vocab-only writes it.
    static func vocabulary(_ model: String) throws -> GGUFVocabulary {
        let hf = try Golden.require(model: model)
        return try converted.get(model) {
            let tmp = TemporaryDirectory("tokenize-b10572")
            let out = tmp.file("\(model)-vocab.gguf")
            let r = runCommand(ConvertCommand.run, [hf.path, "--vocab-only", "--outfile", out, "-q"])
            try #require(r.error == nil, "hf2gguf --vocab-only \(model): \(String(describing: r.error))")
            return try GGUFVocabulary(file: GGUFFile(path: out))
        }
    }

    static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(name)))
    }

    @Test("the fixtures list every converted model")
    func fixtures() throws {
        #expect(Self.rows.map(\.model).sorted() == [
            "SmolLM2-135M-Instruct-hf", "tiny-gemma2", "tiny-gemma3", "tiny-llama", "tiny-llama-spm", "tiny-mistral",
            "tiny-mixtral", "tiny-phi3", "tiny-qwen2", "tiny-qwen3", "tiny-qwen3moe",
        ])
        let texts = try #require(try Self.json("texts.json") as? [String])
        #expect(texts.count == 100)
    }

    @Test("every text in every mode gives llama-tokenize's ids", .golden, arguments: rows)
    func vectors(_ row: Row) throws {
        let vocab = try Self.vocabulary(row.model)
        let texts = try #require(try Self.json("texts.json") as? [String])
        let file = try #require(try Self.json("\(row.vectors).json") as? [String: Any])
        #expect((file["models"] as? [String])?.contains(row.model) == true)
        let cases = try #require(file["cases"] as? [[String: Any]])
        #expect(cases.count == texts.count)
        var mismatches = 0
        for c in cases {
            let i = try #require(c["text"] as? Int)
            for mode in Self.modes {
                let expected = try #require(c[mode.key] as? [Int]).map { Int32($0) }
                // llama-tokenize: add_special = the vocabulary's add_bos && !--no-bos.
                let got = vocab.tokenize(texts[i], addSpecial: vocab.addBOS && mode.bos, parseSpecial: mode.special)
                if got != expected { mismatches += 1 }
                #expect(got == expected, "\(row.model) text \(i) \(mode.key) \(texts[i].debugDescription)")
            }
        }
        #expect(mismatches == 0, "\(row.model): \(mismatches) of \(cases.count * Self.modes.count) differ")
    }

    @Test("malformed UTF-8 gives llama-tokenize's ids", .golden, arguments: rows)
    func invalidUTF8(_ row: Row) throws {
        let vocab = try Self.vocabulary(row.model)
        let file = try #require(try Self.json("invalid-utf8.json") as? [String: Any])
        let inputs = try #require(file["inputs"] as? [String]).map(Self.bytes(hex:))
        let all = try #require(file["vectors"] as? [String: Any])
        let cases = try #require(all[row.vectors] as? [[String: Any]])
        #expect(cases.count == inputs.count)
        for (input, c) in zip(inputs, cases) {
            for mode in Self.modes {
                let expected = try #require(c[mode.key] as? [Int]).map { Int32($0) }
                let got = vocab.tokenize(bytes: input, addSpecial: vocab.addBOS && mode.bos, parseSpecial: mode.special)
                #expect(got == expected, "\(row.model) \(input) \(mode.key)")
            }
        }
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { $0 <= 0x39 ? $0 - 0x30 : ($0 | 0x20) - 0x61 + 10 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    @Test("wiki.test.raw: token count and sha256 of the ids", .golden, arguments: rows)
    func wiki(_ row: Row) throws {
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw")
        let vocab = try Self.vocabulary(row.model)
        // llama-tokenize -f: the file verbatim, escapes processed, special tokens parsed, BOS as asked.
        let prompt = TokenizeOutput.processEscapes([UInt8](try Data(contentsOf: text)))
        let ids = vocab.tokenize(bytes: prompt, addSpecial: vocab.addBOS, parseSpecial: true)
        #expect(ids.count == row.wikiTokens, "\(row.model)")
        var h = SHA256()
        h.update(ids.map(String.init).joined(separator: ",").utf8)
        #expect(SHA256.hexString(h.finalize()) == row.wikiSHA, "\(row.model)")
    }
}
