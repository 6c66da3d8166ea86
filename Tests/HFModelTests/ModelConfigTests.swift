import Testing
import Foundation
import TestSupport
@testable import HFModel

@Suite("config.json and the other JSON files of a model folder")
struct ModelConfigTests {
    static let folder = TestPaths.fixtures.appendingPathComponent("hfmodel/model-folder").path

    @Test("config.json: typed accessors, find_hparam order, architecture and rope scaling") func config() throws {
        let c = try ModelConfig(directory: ModelConfigTests.folder)
        #expect(try c.architecture() == "LlamaForCausalLM")
        #expect(try c.modelType() == "llama")
        #expect(try c.int("n_layers", "num_hidden_layers", "n_layer") == 30)
        #expect(try c.int(["hidden_size", "n_embd"]) == 576)
        #expect(try c.double("rms_norm_eps", "norm_eps") == 1e-05)
        #expect(try c.double("rope_theta") == 500000)
        #expect(try c.double("num_attention_heads") == 9)
        #expect(try c.bool("tie_word_embeddings") == true)
        #expect(try c.string("torch_dtype") == "bfloat16")
        #expect(try c.int("head_dim") == nil)
        #expect(!c.contains("head_dim"))
        // A key present with null wins the lookup and reads as nil (find_hparam returns None).
        #expect(try c.int("pad_token_id", "eos_token_id") == nil)
        #expect(c.contains("pad_token_id"))
        let rope = try #require(try c.ropeScaling())
        #expect(try c.ropeType(of: rope) == "llama3")
        #expect(rope["factor"]?.double == 32)
        #expect(try c.ropeParameters() == nil)
        #expect(try c.json.requireInt("vocab_size") == 49152)
    }

    @Test("wrong types and missing keys name the file and key") func typeErrors() throws {
        let c = try ModelConfig(directory: ModelConfigTests.folder)
        let file = ModelConfigTests.folder + "/config.json"
        #expect(throws: HFModelError(.invalid, file: file, "key 'rms_norm_eps' is a number (1e-05), expected an integer")) {
            try c.int("rms_norm_eps")
        }
        #expect(throws: HFModelError(.invalid, file: file, "key 'model_type' is a string, expected a number")) {
            try c.double("model_type")
        }
        #expect(throws: HFModelError(.invalid, file: file, "key 'architectures' is an array, expected a string")) {
            try c.string("architectures")
        }
        #expect(throws: HFModelError(.notFound, file: file, "could not find any of: n_head, num_heads")) {
            try c.json.requireInt("n_head", "num_heads")
        }
        #expect(throws: HFModelError(.notFound, file: file, "key 'pad_token_id' is null, expected a value")) {
            try c.json.requireInt("pad_token_id")
        }
    }

    @Test("a missing or malformed config.json names the file and the position") func badFiles() throws {
        let dir = TemporaryDirectory("config")
        #expect(throws: HFModelError(.missingFile, file: dir.file("config.json"), "file not found")) {
            try ModelConfig(directory: dir.path)
        }
        try "{\n  \"hidden_size\": 576,\n  \"vocab_size\": 49152,\n}\n".write(toFile: dir.file("config.json"), atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.malformedJSON, file: dir.file("config.json"), "line 4, column 1: expected '\"' (an object key) after ',', found '}'")) {
            try ModelConfig(directory: dir.path)
        }
        try "[\"LlamaForCausalLM\"]".write(toFile: dir.file("config.json"), atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.invalid, file: dir.file("config.json"), "top-level value is an array, expected an object")) {
            try ModelConfig(directory: dir.path)
        }
        try "{\"architectures\": \"LlamaForCausalLM\"}".write(toFile: dir.file("config.json"), atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.invalid, file: dir.file("config.json"), "key 'architectures' is a string, expected a list of strings")) {
            try ModelConfig(directory: dir.path).architecture()
        }
        try "{\"architectures\": []}".write(toFile: dir.file("config.json"), atomically: false, encoding: .utf8)
        #expect(try ModelConfig(directory: dir.path).architecture() == nil)
    }

    @Test("tokenizer_config.json: special tokens, added_tokens_decoder, chat template") func tokenizerConfig() throws {
        let tc = try #require(try TokenizerConfig.load(directory: ModelConfigTests.folder))
        #expect(tc.addSpecialToken("bos") == true)
        #expect(tc.addSpecialToken("eos") == false)
        #expect(tc.addSpecialToken("sep") == nil)
        #expect(tc.specialTokenContent("bos") == "<|im_start|>")
        #expect(tc.specialTokenContent("eos") == "<|im_end|>")
        #expect(tc.specialTokenContent("pad") == nil)
        #expect(try tc.tokenizerClass() == "GPT2Tokenizer")
        #expect(try tc.addPrefixSpace() == false)
        #expect(tc.chatTemplate?.string?.hasPrefix("{% for message") == true)
        let added = try tc.addedTokensDecoder()
        #expect(added.map(\.id) == [0, 2, 17])
        #expect(added[2] == HFAddedToken(id: 17, content: "<extra>", singleWord: true, lstrip: true, rstrip: false,
                                         normalized: true, special: false))
        #expect(try TokenizerConfig.load(directory: TemporaryDirectory("none").path) == nil)
    }

    @Test("generation_config, special_tokens_map and added_tokens.json") func otherFiles() throws {
        let g = try #require(try HFModelFiles.generationConfig(directory: ModelConfigTests.folder))
        #expect(try g.double("temperature") == 0.2)
        #expect(g["eos_token_id"]?.array?.compactMap(\.int) == [2, 0])
        let m = try #require(try HFModelFiles.specialTokensMap(directory: ModelConfigTests.folder))
        #expect(try m.string("eos_token") == "<|im_end|>")
        let a = try #require(try HFModelFiles.addedTokens(directory: ModelConfigTests.folder))
        #expect(a.map(\.content) == ["<extra>", "<other>"])
        #expect(a.map(\.id) == [17, 18])
        let dir = TemporaryDirectory("added")
        #expect(try HFModelFiles.addedTokens(directory: dir.path) == nil)
        try "{\"<a>\": -1}".write(toFile: dir.file("added_tokens.json"), atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.invalid, file: dir.file("added_tokens.json"), "token '<a>' has id -1, expected a non-negative integer")) {
            try HFModelFiles.addedTokens(directory: dir.path)
        }
    }
}
