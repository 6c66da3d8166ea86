import Testing
import Foundation
import TestSupport
@testable import HFModel

@Suite("tokenizer.json errors and edge cases")
struct TokenizerErrorTests {
    static let model = #""model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<s>": 3}, "merges": ["a b"]}"#

    static func load(_ body: String) throws(HFModelError) -> HFTokenizer {
        try HFTokenizer(json: try JSONParser.parse("{\(body)}", file: "t.json"), path: "t.json")
    }

    static func error(_ kind: HFModelError.Kind, _ message: String) -> HFModelError {
        HFModelError(kind, file: "t.json", message)
    }

    @Test("a minimal BPE tokenizer encodes") func minimal() throws {
        let t = try TokenizerErrorTests.load(TokenizerErrorTests.model)
        #expect(t.encode("abba") == [2, 1, 0])
        #expect(t.encode("") == [])
        #expect(t.encode("x") == [])
    }

    @Test("a model that is not BPE is refused") func notBPE() {
        #expect(throws: TokenizerErrorTests.error(.unsupported, "model type 'WordPiece' is not supported, expected BPE")) {
            try TokenizerErrorTests.load(#""model": {"type": "WordPiece", "vocab": {}}"#)
        }
    }

    @Test("a merge whose result is not in the vocabulary is refused") func badMerge() {
        #expect(throws: TokenizerErrorTests.error(.invalid, "model.merges[0] ('a' 'b') needs token 'ab', which is not in the vocabulary")) {
            try TokenizerErrorTests.load(#""model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}"#)
        }
        #expect(throws: TokenizerErrorTests.error(.invalid, "model.merges[0] is \"a  b\", expected two tokens separated by one space")) {
            try TokenizerErrorTests.load(#""model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a  b"]}"#)
        }
    }

    @Test("an unk_token missing from the vocabulary is refused") func badUnk() {
        #expect(throws: TokenizerErrorTests.error(.invalid, "model.unk_token '<unk>' is not in the vocabulary")) {
            try TokenizerErrorTests.load(#""model": {"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0}, "merges": []}"#)
        }
    }

    @Test("unknown component types are refused, naming where they are") func unknownTypes() {
        #expect(throws: TokenizerErrorTests.error(.unsupported, "pre_tokenizer.pretokenizers[1] type 'UnicodeScripts' is not supported, expected ByteLevel, Split, Digits, Whitespace, WhitespaceSplit, Metaspace, Punctuation, BertPreTokenizer, CharDelimiterSplit or Sequence")) {
            try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "UnicodeScripts"}]}"#)
        }
        #expect(throws: TokenizerErrorTests.error(.unsupported, "normalizer type 'Precompiled' is not supported, expected NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, ByteLevel, BertNormalizer or Sequence")) {
            try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}"#)
        }
        #expect(throws: TokenizerErrorTests.error(.unsupported, "post_processor type 'Custom' is not supported, expected TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing or Sequence")) {
            try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "post_processor": {"type": "Custom"}"#)
        }
    }

    @Test("malformed Split entries are refused") func badSplit() {
        #expect(throws: TokenizerErrorTests.error(.invalid, "pre_tokenizer (Split) has behavior \"Foo\", expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous")) {
            try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Foo", "invert": false}"#)
        }
        #expect(throws: TokenizerErrorTests.error(.unsupported, #"pre_tokenizer (Split) regex "[\\W]" uses \W inside a character class, which has no Swift Regex equivalent"#)) {
            try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[\\W]"}, "behavior": "Isolated", "invert": false}"#)
        }
        #expect(throws: TokenizerErrorTests.error(.invalid, #"pre_tokenizer (Split) has pattern {"Glob":"*"}, expected {"String": ...} or {"Regex": ...}"#)) {
            try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "pre_tokenizer": {"type": "Split", "pattern": {"Glob": "*"}, "behavior": "Isolated", "invert": false}"#)
        }
    }

    @Test("a template naming an undefined special token is refused") func badTemplate() {
        #expect(throws: TokenizerErrorTests.error(.invalid, "post_processor.single[0] uses special token '<s>', which special_tokens does not define")) {
            try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}}"#)
        }
    }

    @Test("an unknown decoder fails only when decoding") func badDecoder() throws {
        let t = try TokenizerErrorTests.load(TokenizerErrorTests.model + #", "decoder": {"type": "CTC"}"#)
        #expect(t.encode("ab") == [2])
        #expect(throws: HFModelError(.unsupported, file: "t.json", "decoder type 'CTC' is not supported")) { try t.decode([2]) }
    }

    @Test("missing and malformed tokenizer.json name the file and position") func files() throws {
        let dir = TemporaryDirectory("tokfile")
        #expect(throws: HFModelError(.missingFile, file: dir.file("tokenizer.json"), "file not found")) {
            try HFTokenizer.autoTokenizer(directory: dir.path)
        }
        try "{\"model\": {\n  \"type\": \"BPE\",\n  \"vocab\": {\"a\" 0}}}".write(toFile: dir.file("tokenizer.json"), atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.malformedJSON, file: dir.file("tokenizer.json"), "line 3, column 17: expected ':' after an object key, found '0'")) {
            try HFTokenizer.autoTokenizer(directory: dir.path)
        }
        try "[1]".write(toFile: dir.file("tokenizer.json"), atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.invalid, file: dir.file("tokenizer.json"), "top-level value is an array, expected an object")) {
            try HFTokenizer(path: dir.file("tokenizer.json"))
        }
    }

    @Test("canonically equivalent tokens stay distinct (lookups compare scalars, not Swift String equality)")
    func canonicalEquivalence() throws {
        let t = try TokenizerErrorTests.load(#""model": {"type": "BPE", "vocab": {"\u00e9": 0, "e": 1, "\u0301": 2, "e\u0301": 3, ";": 4, "\u037e": 5}, "merges": ["e \u0301"]}"#)
        #expect(t.encode("\u{E9}") == [0])
        #expect(t.encode("e\u{301}") == [3])
        #expect(t.encode(";\u{37E};") == [4, 5, 4])
        #expect(t.tokenToID("e\u{301}") == 3)
        #expect(t.idToToken(0)?.unicodeScalars.count == 1)
        #expect(t.vocabCount == 6)
    }
}
