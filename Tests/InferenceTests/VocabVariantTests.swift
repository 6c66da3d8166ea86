import Foundation
import GGUF
import Inference
import Testing
import TestSupport

/// Every pre-tokenizer and flag path against llama.cpp: vocabularies of ../shared (and of
/// llama.cpp's models/ when present) with `tokenizer.*` keys overridden as listed in
/// Fixtures/vocab/variants.tsv, tokenizing Fixtures/vocab/inputs.inp (llama.cpp's test inputs plus
/// whitespace, contraction, number, mark, CJK, emoji, symbol, special-token and malformed UTF-8
/// cases). Expected ids come from libllama b4748 (see Fixtures/vocab/README.md).
@Suite("Vocab: pre-tokenizers and flags against llama.cpp")
struct VocabVariantTests {
    struct Variant: CustomStringConvertible, Sendable {
        let name: String
        let base: String
        let overrides: [String]
        var description: String { name }
    }

    /// The variants on a vocabulary of ../shared (golden) and on one of llama.cpp's models/ (oracle).
    static let sharedVariants = variants.filter { $0.base.hasPrefix("shared:") }
    static let oracleVariants = variants.filter { !$0.base.hasPrefix("shared:") }

    static let variants: [Variant] = {
        let url = VocabTestData.fixtures.appendingPathComponent("variants.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Variant(name: f[0], base: f[1], overrides: f.count > 2 ? f[2].split(separator: " ").map(String.init) : [])
        }
    }()

    /// The base vocabulary's metadata with the overrides applied (`key=s:text`, `key=b:true`,
    /// `key=u:7`, `key=DELETE`); a golden failure (CI) or a skip when the base file is absent.
    static func build(_ v: Variant) throws -> GGUFVocabulary {
        let url: URL
        if v.base.hasPrefix("shared:") {
            url = try Golden.require(shared: "reference/tokenizer/" + v.base.dropFirst("shared:".count))
        } else {
            url = try Golden.requireOracle().appendingPathComponent("models/" + v.base.dropFirst("oracle:".count))
        }
        var metadata = try GGUFFile(path: url.path).metadata
        for o in v.overrides {
            let kv = o.split(separator: "=", maxSplits: 1).map(String.init)
            let key = kv[0], value = kv[1]
            if value == "DELETE" { metadata.remove(key); continue }
            let tv = value.split(separator: ":", maxSplits: 1).map(String.init)
            switch tv[0] {
            case "s": metadata.set(key, .string(tv[1]))
            case "b": metadata.set(key, .bool(tv[1] == "true"))
            case "u": metadata.set(key, .uint32(UInt32(tv[1]) ?? 0))
            default: Issue.record("bad override \(o)")
            }
        }
        return try GGUFVocabulary(metadata: metadata, file: url.lastPathComponent)
    }

    @Test("add_special and parse_special on: ids equal llama.cpp's line by line", .golden, arguments: sharedVariants)
    func special(_ v: Variant) throws { try Self.special(v) }

    @Test("add_special and parse_special on, vocabularies of llama.cpp's models/", .oracle, arguments: oracleVariants)
    func specialOracle(_ v: Variant) throws { try Self.special(v) }

    static func special(_ v: Variant) throws {
        let vocab = try Self.build(v)
        let inputs = try VocabTestData.inputs(VocabTestData.fixtures.appendingPathComponent("inputs.inp"))
        let expected = try VocabTestData.outputs(VocabTestData.fixtures.appendingPathComponent("expected/\(v.name).out"))
        #expect(inputs.count == expected.count)
        for (i, (input, want)) in zip(inputs, expected).enumerated() {
            let got = vocab.tokenize(bytes: input, addSpecial: true, parseSpecial: true)
            #expect(got == want, "\(v.name) case \(i): '\(String(decoding: input, as: UTF8.self))'")
        }
    }

    @Test("add_special and parse_special off: digest of all lines equals llama.cpp's", .golden, arguments: sharedVariants)
    func plain(_ v: Variant) throws { try Self.plain(v) }

    @Test("add_special and parse_special off, vocabularies of llama.cpp's models/", .oracle, arguments: oracleVariants)
    func plainOracle(_ v: Variant) throws { try Self.plain(v) }

    static func plain(_ v: Variant) throws {
        let vocab = try Self.build(v)
        let inputs = try VocabTestData.inputs(VocabTestData.fixtures.appendingPathComponent("inputs.inp"))
        let table = try String(contentsOf: VocabTestData.fixtures.appendingPathComponent("plain-digests.tsv"), encoding: .utf8)
        let want = table.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            .first(where: { $0[0] == v.name })?[1]
        var lines = ""
        for input in inputs {
            lines += vocab.tokenize(bytes: input, addSpecial: false, parseSpecial: false).map(String.init)
                .joined(separator: " ") + "\n"
        }
        var h = SHA256()
        h.update(lines.utf8)
        #expect(SHA256.hexString(h.finalize()) == want)
    }

    @Test("wiki.test.raw: count and sha256 equal llama-tokenize's", .golden,
          arguments: ["gpt2-qwen2", "gpt2-llama-bpe", "gpt2-tekken", "spm-noprefix"])
    func wiki(_ name: String) throws { try Self.wiki(name) }

    @Test("wiki.test.raw with a vocabulary of llama.cpp's models/", .oracle, arguments: ["phi-3"])
    func wikiOracle(_ name: String) throws { try Self.wiki(name) }

    static func wiki(_ name: String) throws {
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw")
        guard let v = Self.variants.first(where: { $0.name == name }) else {
            Issue.record("\(name) is not in variants.tsv")
            return
        }
        let vocab = try Self.build(v)
        let table = try String(contentsOf: VocabTestData.fixtures.appendingPathComponent("wiki-variants.tsv"), encoding: .utf8)
        guard let row = table.split(separator: "\n").map({ $0.split(separator: "\t").map(String.init) })
            .first(where: { $0[0] == name }) else {
            Issue.record("\(name) is not in wiki-variants.tsv")
            return
        }
        let ids = vocab.tokenize(bytes: [UInt8](try Data(contentsOf: text)), addSpecial: vocab.addBOS, parseSpecial: true)
        #expect(ids.count == Int(row[1]))
        #expect(VocabTestData.digest(ids) == row[2])
    }
}
