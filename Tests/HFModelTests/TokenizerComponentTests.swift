import Testing
import Foundation
import TestSupport
@testable import HFModel

/// Component variants of three small trained tokenizers (Fixtures/hfmodel/tokenizer-*.json),
/// with the ids the Python tokenizers package gave when the fixtures were made
/// (make_tokenizer_fixtures.py).
enum TokenizerFixtures {
    static let dir = TestPaths.fixtures.appendingPathComponent("hfmodel")

    static func base(_ name: String) throws -> JSONObject {
        try #require(try JSONParser.parseFile(dir.appendingPathComponent("tokenizer-\(name).json").path).object)
    }

    struct Variant: CustomTestStringConvertible {
        let name: String
        let json: JSONObject
        let expected: [[Int]]
        var testDescription: String { name }
    }

    static let variantsFile: JSONObject? = try? JSONParser.parseFile(dir.appendingPathComponent("tokenizer-variants.json").path).object
    static var texts: [String] { variantsFile?["texts"]?.array?.compactMap(\.string) ?? [] }

    /// Every variant with its patch applied (same rules as the generator's `apply`).
    static func variants() throws -> [Variant] {
        guard let file = variantsFile else { return [] }
        var bases: [String: JSONObject] = [:]
        var out: [Variant] = []
        for v in file["variants"]?.array ?? [] {
            let name = try #require(v["name"]?.string), baseName = try #require(v["base"]?.string)
            if bases[baseName] == nil { bases[baseName] = try base(baseName) }
            var json = bases[baseName]!
            var model = try #require(json["model"]?.object)
            for m in v["patch"]?.object?.members ?? [] {
                if m.key == "added_tokens" {
                    json.set("added_tokens", .array((json["added_tokens"]?.array ?? []) + (file["added_tokens"]?.array ?? [])))
                } else if m.key == "model.merges" {
                    let strings: [JSONValue] = (model["merges"]?.array ?? []).map { e in
                        .string((e.array ?? []).compactMap(\.string).joined(separator: " "))
                    }
                    model.set("merges", .array(strings))
                } else if m.key.hasPrefix("model.") {
                    model.set(String(m.key.dropFirst(6)), m.value)
                } else {
                    json.set(m.key, m.value)
                }
            }
            json.set("model", .object(model))
            let ids = (v["ids"]?.array ?? []).map { $0.array?.compactMap(\.int) ?? [] }
            out.append(Variant(name: name, json: json, expected: ids))
        }
        return out
    }
}

@Suite("tokenizer.json components")
struct TokenizerComponentTests {
    static let variants: [TokenizerFixtures.Variant] = (try? TokenizerFixtures.variants()) ?? []

    @Test("the fixtures are present") func fixtures() {
        #expect(TokenizerComponentTests.variants.count >= 40)
        #expect(TokenizerFixtures.texts.count == 7)
    }

    @Test("each variant encodes the test texts like tokenizers", arguments: variants)
    func variant(_ v: TokenizerFixtures.Variant) throws {
        let tok = try HFTokenizer(json: .object(v.json), path: "\(v.name).json")
        for (text, ids) in zip(TokenizerFixtures.texts, v.expected) {
            #expect(tok.encode(text) == ids, "\(v.name): \(text.debugDescription)")
        }
    }

    @Test("each variant matches tokenizers on random text", .golden, arguments: variants)
    func variantRandom(_ v: TokenizerFixtures.Variant) throws {
        try PythonTokenizers.require()
        let dir = TemporaryDirectory("variant")
        let path = dir.file("\(v.name).json")
        try JSONValue.object(v.json).serialized().write(toFile: path, atomically: false, encoding: .utf8)
        let tok = try HFTokenizer(path: path)
        var texts = RandomText.batch(seed: v.name.utf8.reduce(UInt64(7)) { $0 &* 31 &+ UInt64($1) }, count: RandomText.count(200))
        texts += ["[X] [x]  [Y] a [Z]  b [W]x [W] <special><special>[X][x]", "I'M 'S 'Ll 'rE", "\u{17F} 'ſ 'K"]
        let expected = try #require(try PythonTokenizers.encodeDecode(tokenizer: path, texts: texts, addSpecialTokens: true, dir: dir))
        var bad = 0, badDecode = 0
        for (i, t) in texts.enumerated() {
            let got = tok.encode(t)
            if got != expected.ids[i] {
                bad += 1
                if bad <= 3 { Issue.record("\(v.name): \(scalarDump(t)): got \(got), expected \(expected.ids[i])") }
            }
            // tokenizers ≥ 0.22 decodes a normalized added token as its normalized text ("[x]"),
            // 0.21 (the llama.cpp b4748 era) and this module as written ("[X]").
            let text = try tok.decode(expected.ids[i])
            if v.name != "added-tokens" && !sameText(text, expected.decoded[i]) {
                badDecode += 1
                if badDecode <= 3 { Issue.record("\(v.name) decode \(expected.ids[i]): got \(scalarDump(text)), expected \(scalarDump(expected.decoded[i]))") }
            }
        }
        #expect(bad == 0, "\(v.name)")
        #expect(badDecode == 0, "\(v.name)")
    }
}
