import Testing
import Foundation
import TestSupport
@testable import HFModel

/// `HFTokenizer.autoTokenizer` against transformers 4.49.0's `AutoTokenizer.from_pretrained` on
/// folders made of the byte-level fixture plus a tokenizer_config.json / config.json. The expected
/// ids and added tokens were printed by transformers 4.49.0 with tokenizers 0.21.4.
@Suite("AutoTokenizer behaviour (transformers 4.49)")
struct TransformersCompatTests {
    static let texts = ["Hello world! <s>x</s> <mask> a <|endoftext|>b", " Hello  <s> ok", "plain text 123"]

    /// name → (tokenizer_config.json, config.json, use the <s> $A </s> template post-processor).
    static let folders: [String: (tc: String?, config: String?, template: Bool)] = [
        "gpt2-add-prefix-space": (#"{"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": true}"#, nil, false),
        "llama-bos-eos": (#"{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true, "add_eos_token": true}"#, nil, false),
        "llama-defaults": (#"{"tokenizer_class": "LlamaTokenizer"}"#, nil, false),
        "decoder-lstrip": (#"{"tokenizer_class": "PreTrainedTokenizerFast", "added_tokens_decoder": {"1": {"content": "<s>", "lstrip": true, "rstrip": true, "normalized": false, "single_word": false, "special": true}}}"#, nil, false),
        "qwen2-split-special": (#"{"tokenizer_class": "Qwen2Tokenizer", "split_special_tokens": true}"#, nil, false),
        "neox-model-type": (#"{}"#, #"{"model_type": "gpt_neox"}"#, true),
        "new-special-token": (#"{"tokenizer_class": "PreTrainedTokenizerFast", "mask_token": "<mask>"}"#, nil, false),
    ]

    typealias Added = (id: Int, content: String, special: Bool, lstrip: Bool, rstrip: Bool, normalized: Bool)
    static let expected: [String: (cls: String, ids: [[Int]], added: [Added])] = [
        "gpt2-add-prefix-space": ("GPT2TokenizerFast", [[223, 326, 268, 81, 302, 364, 356, 3, 223, 1, 410, 2, 223, 30, 292, 85, 77, 32, 259, 223, 0, 223, 68], [223, 326, 268, 81, 260, 1, 223, 81, 77], [223, 82, 78, 67, 75, 80, 281, 414, 21]],
            [(0, "<|endoftext|>", true, false, false, false), (1, "<s>", true, false, false, false), (2, "</s>", true, false, false, false)]),
        "llama-bos-eos": ("LlamaTokenizerFast", [[1, 326, 268, 81, 302, 364, 356, 3, 223, 1, 90, 2, 223, 30, 292, 85, 77, 32, 259, 223, 0, 68, 2], [1, 223, 326, 268, 81, 260, 1, 223, 81, 77, 2], [1, 82, 78, 67, 75, 80, 281, 414, 21, 2]],
            [(0, "<|endoftext|>", true, false, false, false), (1, "<s>", true, false, false, false), (2, "</s>", true, false, false, false), (420, "<unk>", true, false, false, false)]),
        "llama-defaults": ("LlamaTokenizerFast", [[1, 326, 268, 81, 302, 364, 356, 3, 223, 1, 90, 2, 223, 30, 292, 85, 77, 32, 259, 223, 0, 68], [1, 223, 326, 268, 81, 260, 1, 223, 81, 77], [1, 82, 78, 67, 75, 80, 281, 414, 21]],
            [(0, "<|endoftext|>", true, false, false, false), (1, "<s>", true, false, false, false), (2, "</s>", true, false, false, false), (420, "<unk>", true, false, false, false)]),
        "decoder-lstrip": ("PreTrainedTokenizerFast", [[326, 268, 81, 302, 364, 356, 3, 1, 90, 2, 223, 30, 292, 85, 77, 32, 259, 223, 0, 68], [223, 326, 268, 81, 1, 81, 77], [82, 78, 67, 75, 80, 281, 414, 21]],
            [(0, "<|endoftext|>", true, false, false, false), (1, "<s>", true, true, true, false), (2, "</s>", true, false, false, false)]),
        "qwen2-split-special": ("Qwen2TokenizerFast", [[326, 268, 81, 302, 364, 356, 3, 223, 30, 85, 32, 90, 30, 17, 85, 32, 223, 30, 292, 85, 77, 32, 259, 223, 30, 94, 71, 264, 81, 72, 86, 274, 86, 94, 32, 68], [223, 326, 268, 81, 223, 223, 30, 85, 32, 223, 81, 77], [82, 78, 67, 75, 80, 281, 414, 21]],
            [(0, "<|endoftext|>", true, false, false, false), (1, "<s>", true, false, false, false), (2, "</s>", true, false, false, false)]),
        "neox-model-type": ("GPTNeoXTokenizerFast", [[326, 268, 81, 302, 364, 356, 3, 223, 1, 90, 2, 223, 30, 292, 85, 77, 32, 259, 223, 0, 68], [223, 326, 268, 81, 260, 1, 223, 81, 77], [82, 78, 67, 75, 80, 281, 414, 21]],
            [(0, "<|endoftext|>", true, false, false, false), (1, "<s>", true, false, false, false), (2, "</s>", true, false, false, false)]),
        "new-special-token": ("PreTrainedTokenizerFast", [[326, 268, 81, 302, 364, 356, 3, 223, 1, 90, 2, 223, 420, 259, 223, 0, 68], [223, 326, 268, 81, 260, 1, 223, 81, 77], [82, 78, 67, 75, 80, 281, 414, 21]],
            [(0, "<|endoftext|>", true, false, false, false), (1, "<s>", true, false, false, false), (2, "</s>", true, false, false, false), (420, "<mask>", true, false, false, false)]),
    ]

    static func makeFolder(_ name: String, in dir: TemporaryDirectory) throws -> String {
        let spec = try #require(folders[name])
        var json = try TokenizerFixtures.base("bytelevel")
        if spec.template, let t = try TokenizerFixtures.variants().first(where: { $0.name == "template" }) {
            json.set("post_processor", t.json["post_processor"] ?? .null)
        }
        let folder = dir.file(name)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try JSONValue.object(json).serialized().write(toFile: folder + "/tokenizer.json", atomically: false, encoding: .utf8)
        if let tc = spec.tc { try tc.write(toFile: folder + "/tokenizer_config.json", atomically: false, encoding: .utf8) }
        if let c = spec.config { try c.write(toFile: folder + "/config.json", atomically: false, encoding: .utf8) }
        return folder
    }

    @Test("class, added tokens and ids match transformers", arguments: folders.keys.sorted())
    func folder(name: String) throws {
        let dir = TemporaryDirectory("compat")
        let tok = try HFTokenizer.autoTokenizer(directory: try TransformersCompatTests.makeFolder(name, in: dir))
        let e = try #require(TransformersCompatTests.expected[name])
        #expect(tok.transformersClass == e.cls)
        let added = tok.addedTokens.map { ($0.id, $0.content, $0.special, $0.lstrip, $0.rstrip, $0.normalized) }
        #expect(added.count == e.added.count)
        for (a, b) in zip(added, e.added) { #expect(a == b, "\(name)") }
        for (text, ids) in zip(TransformersCompatTests.texts, e.ids) {
            #expect(tok.encode(text) == ids, "\(name): \(text.debugDescription)")
        }
    }

    @Test("a Llama class with add_prefix_space set is refused (transformers rebuilds it from tokenizer.model)")
    func llamaFromSlow() throws {
        let dir = TemporaryDirectory("compat")
        let folder = try TransformersCompatTests.makeFolder("llama-defaults", in: dir)
        try #"{"tokenizer_class": "LlamaTokenizer", "add_prefix_space": true}"#.write(toFile: folder + "/tokenizer_config.json", atomically: false, encoding: .utf8)
        #expect(throws: HFModelError(.unsupported, file: folder + "/tokenizer_config.json",
                                     "LlamaTokenizerFast with add_prefix_space set is rebuilt from tokenizer.model by transformers; not supported")) {
            try HFTokenizer.autoTokenizer(directory: folder)
        }
    }
}
