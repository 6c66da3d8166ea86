import Foundation
import GGUF
import Testing
import TestSupport
@testable import HFModel

/// tokenizer.json files rebuilt from llama.cpp's vocabulary-only GGUFs (tokens, token types,
/// merges, BOS) plus the pre-tokenizer each model publishes in its Hugging Face tokenizer.json.
/// The rebuilt files reproduce llama.cpp's `.out` test vectors (which convert_hf_to_gguf_update.py
/// produced with the real tokenizers), so they stand in for the originals.
enum VocabFixture {
    static func byteLevel(regex: Bool = true) -> String {
        #"{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":\#(regex)}"#
    }
    static func split(_ regex: String) -> String {
        #"{"type":"Split","pattern":{"Regex":\#(JSONValue.string(regex).serialized())},"behavior":"Isolated","invert":false}"#
    }
    static func sequence(_ items: [String]) -> String {
        #"{"type":"Sequence","pretokenizers":[\#(items.joined(separator: ","))]}"#
    }

    /// name → (pre_tokenizer JSON, normalizer JSON or nil, chkhsh listed by convert_hf_to_gguf.py b4748).
    static let models: [String: (pre: String, normalizer: String?, hash: String)] = [
        "gpt-2": (byteLevel(), nil, "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454"),
        "starcoder": (sequence([#"{"type":"Digits","individual_digits":true}"#, byteLevel()]), nil,
                      "35d91631860c815f952d711435f48d356ebac988362536bed955d43bfa436e34"),
        "refact": (sequence([#"{"type":"Digits","individual_digits":true}"#, byteLevel()]), nil,
                   "6221ad2852e85ce96f791f476e0b390cf9b474c9e3d1362f53a24a06dc8220ff"),
        "falcon": (sequence([#"{"type":"Punctuation","behavior":"Contiguous"}"#, byteLevel(),
                             #"{"type":"Digits","individual_digits":false}"#, split("[0-9][0-9][0-9]")]), nil,
                   "8aeee3860c56296a157a1fe2fad249ec40aa59b1bb5709f4ade11c4e6fe652ed"),
        "deepseek-coder": (sequence([split("[\r\n]"), split(#"\s?\p{L}+"#), split(#"\s?\p{P}+"#),
                                     split("[一-龥ࠀ-一가-퟿]+"), split(#"\p{N}"#), byteLevel(regex: false)]), nil,
                           "347715f544604f9118bb75ed199f68779f423cabb20db6de6f31b908d04d7821"),
        // mosaicml/mpt-7b uses gpt-neox-20b's tokenizer (NFC + ByteLevel); the table lists this hash
        // for "mpt" and again for "olmo", and the later entry wins.
        "mpt": (byteLevel(), #"{"type":"NFC"}"#, "b6dc8df998e1cfbdc4eac8243701a65afe638679230920b50d6f17d81c098166"),
    ]

    /// The models whose ggml-vocab-NAME.gguf is in ../shared/reference/tokenizer (golden tests) and
    /// those only in llama.cpp's models/ folder (oracle cross-checks).
    static let inShared = ["deepseek-coder", "falcon", "gpt-2", "starcoder"]
    static let inOracle = models.keys.filter { !inShared.contains($0) }.sorted()

    /// Where ggml-vocab-NAME.gguf lives: ../shared/reference/tokenizer, else llama.cpp's models/
    /// folder (`TestPaths.oracle`).
    static func vocabFile(_ name: String) throws -> URL {
        if inShared.contains(name) { return try Golden.require(shared: "reference/tokenizer/ggml-vocab-\(name).gguf") }
        return try Golden.requireOracle().appendingPathComponent("models/ggml-vocab-\(name).gguf")
    }

    /// The rebuilt tokenizer.json, written to `dir`; returns its path.
    static func write(_ name: String, to dir: TemporaryDirectory) throws -> String {
        let url = try vocabFile(name)
        guard let spec = models[name] else { throw CocoaError(.fileNoSuchFile) }
        let g = try GGUFFile(path: url.path)
        let md = g.metadata
        let tokens = md[GGUFKey.Tokenizer.tokens]?.arrayValue?.strings ?? []
        let types = md[GGUFKey.Tokenizer.tokenType]?.arrayValue?.integers ?? []
        let merges = md[GGUFKey.Tokenizer.merges]?.arrayValue?.strings ?? []
        var vocab = JSONObject()
        var seen = Set<String>()
        var added: [JSONValue] = []
        for (i, t) in tokens.enumerated() where types[i] != 5 {
            if types[i] == 3 || types[i] == 4 {
                added.append(try JSONParser.parse(#"{"id":\#(i),"content":\#(JSONValue.string(t).serialized()),"single_word":false,"lstrip":false,"rstrip":false,"normalized":\#(types[i] == 4),"special":\#(types[i] == 3)}"#))
            }
            if seen.insert(t).inserted { vocab.append(t, .number(JSONNumber(text: String(i), isInteger: true))) }
        }
        var post = #"{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}"#
        if md[GGUFKey.Tokenizer.addBOS]?.boolValue == true, let bos = md[GGUFKey.Tokenizer.bosID]?.intValue {
            let b = JSONValue.string(tokens[bos]).serialized()
            post = #"{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":\#(b),"type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{\#(b):{"id":\#(b),"ids":[\#(bos)],"tokens":[\#(b)]}}}"#
        }
        let model = #"{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":\#(JSONValue.object(vocab).serialized()),"merges":\#(JSONValue.array(merges.map { .string($0) }).serialized())}"#
        let text = #"{"version":"1.0","truncation":null,"padding":null,"added_tokens":\#(JSONValue.array(added).serialized()),"normalizer":\#(spec.normalizer ?? "null"),"pre_tokenizer":\#(spec.pre),"post_processor":\#(post),"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},"model":\#(model)}"#
        let path = dir.file("\(name).json")
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    /// llama.cpp's test vectors: `.inp` inputs separated by "\n__ggml_vocab_test__\n", `.out` one
    /// line of ids per input (Hugging Face output without special tokens).
    static func testVectors(_ name: String) throws -> [(text: String, ids: [Int])] {
        let url = try vocabFile(name)
        let inp = try String(contentsOf: URL(fileURLWithPath: url.path + ".inp"), encoding: .utf8)
            .components(separatedBy: "\n__ggml_vocab_test__\n").dropLast()
        let out = try String(contentsOf: URL(fileURLWithPath: url.path + ".out"), encoding: .utf8)
            .components(separatedBy: "\n").dropLast()
        return zip(inp, out).map { ($0, $1.split(separator: " ").compactMap { Int($0) }) }
    }
}
