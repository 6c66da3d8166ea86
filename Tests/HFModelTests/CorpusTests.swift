import Testing
import Foundation
import TestSupport
@testable import HFModel

/// The Hugging Face side of Fixtures/malformed (see its README): safetensors files, shard
/// indexes, tokenizer.json, config.json, tokenizer_config.json and tokenizer.model. Each file must
/// be refused with exactly the message given here, where `$FILE` stands for the path of the file
/// as read and `$DIR` for the model folder it was placed in.
enum HFCorpus {
    static let root = TestPaths.fixtures.appendingPathComponent("malformed")

    /// folder → file → expected description.
    static let expected: [String: [String: String]] = [
        "safetensors": [
            "short.safetensors": "$FILE: file is 3 bytes, too short for the 8-byte header length",
            "header-past-eof.safetensors": "$FILE: header length 4096 runs past the end of the file (15 bytes, 7 after the length)",
            "header-too-large.safetensors": "$FILE: header length 200000000 exceeds the limit of 100000000 bytes",
            "header-not-json.safetensors": "$FILE: header is not valid JSON: line 1, column 1: expected a JSON value, found byte 0x80",
            "header-not-object.safetensors": "$FILE: header is an array, expected a JSON object",
            "negative-offset.safetensors": "$FILE: tensor 'a' has data_offsets [-8,0], expected [begin, end] with 0 <= begin <= end",
            "reversed-offsets.safetensors": "$FILE: tensor 'a' has data_offsets [8,0], expected [begin, end] with 0 <= begin <= end",
            "offsets-past-end.safetensors": "$FILE: tensor 'a' has data_offsets [0, 16] past the end of the data (8 bytes)",
            "overlapping.safetensors": "$FILE: tensor 'b' at data_offsets [4, 12] overlaps tensor 'a' at [0, 8]",
            "wrong-size.safetensors": "$FILE: tensor 'a' has 8 bytes at data_offsets [0, 8], expected 12 (shape [3] of F32, 4 bytes each)",
            "duplicate-tensor.safetensors": "$FILE: tensor 'a' appears twice in the header",
            "negative-shape.safetensors": "$FILE: tensor 'a' has shape [-2], expected non-negative integers",
            "shape-overflow.safetensors": "$FILE: tensor 'a' has shape [1099511627776,1099511627776] whose element count overflows",
            "missing-dtype.safetensors": "$FILE: tensor 'a' has no string 'dtype'",
            "non-utf8-header.safetensors": "$FILE: header is not valid JSON: line 1, column 3: expected UTF-8 text, found invalid byte 0xFF",
        ],
        "index": [
            "parent-shard.index.json": "$FILE: tensor 'model.embed_tokens.weight' maps to '../model.safetensors', expected a file name inside the model folder",
            "absolute-shard.index.json": "$FILE: tensor 'model.embed_tokens.weight' maps to '/etc/passwd', expected a file name inside the model folder",
            "backslash-shard.index.json": "$FILE: tensor 'model.embed_tokens.weight' maps to '..\\model.safetensors', expected a file name inside the model folder",
            "missing-shard.index.json": "$FILE: shard 'model-00002-of-00002.safetensors' (for tensor 'model.embed_tokens.weight') does not exist in $DIR",
            "weight-map-not-object.index.json": "$FILE: key 'weight_map' is an array, expected an object mapping tensor names to shard files",
            "shard-not-string.index.json": "$FILE: tensor 'model.embed_tokens.weight' maps to an integer, expected a file name",
            "unknown-tensor.index.json": "$FILE: tensor 'model.no_such.weight' is mapped to 'model.safetensors', but no model*.safetensors file holds it",
        ],
        "tokenizer-json": [
            "truncated.json": "$FILE: line 1, column 200: expected a JSON value, found 't'",
            "top-level-list.json": "$FILE: top-level value is an array, expected an object",
            "no-model.json": "$FILE: key 'model' is null, expected an object",
            "unigram-model.json": "$FILE: model type 'Unigram' is not supported, expected BPE",
            "merge-not-in-vocab.json": "$FILE: model.merges[1] ('x' 'y') needs token 'x', which is not in the vocabulary",
            "negative-id.json": "$FILE: model.vocab['a'] is -1, expected a token id from 0 to 2147483647",
            "huge-id.json": "$FILE: model.vocab['ab'] is 3000000000, expected a token id from 0 to 2147483647",
            "template-repeats-sequence.json": "$FILE: post_processor.processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].processors[0].single[1] uses sequence 'A' a second time, expected it once",
            "bad-regex.json": "$FILE: pre_tokenizer (Split) regex \"(a\" is not supported by Swift Regex: ",
            "bom.json": "$FILE: line 1, column 1: expected a JSON value, found a UTF-8 byte order mark",
            "latin1.json": "$FILE: line 1, column 592: expected UTF-8 text, found invalid byte 0xE9",
            "deep-nesting.json": "$FILE: line 1, column 514: nesting deeper than 512 levels",
            "added-token-no-content.json": "$FILE: added_tokens[0] has no string 'content'",
        ],
        "config-json": [
            "truncated.json": "$FILE: line 5, column 3: expected '\"' to end the string that starts here, found end of file",
            "architectures-string.json": "$FILE: key 'architectures' is a string, expected a list of strings",
            "no-architectures.json": "",
            "hidden-size-string.json": "$FILE: key 'hidden_size' is a string, expected an integer",
            "hidden-size-float.json": "$FILE: key 'hidden_size' is a number (256.5), expected an integer",
            "hidden-size-huge.json": "$FILE: key 'hidden_size' is the integer 123456789012345678901234567890, which does not fit in 64 bits",
            "non-utf8.json": "$FILE: line 5, column 20: expected UTF-8 text, found invalid byte 0xE1",
        ],
        "tokenizer-config": [
            "truncated.json": "$FILE: line 1, column 38: expected '\"' to end the string that starts here, found end of file",
            "added-tokens-decoder-key.json": "$FILE: added_tokens_decoder key 'x' is not a token id",
            "tokenizer-class-number.json": "$FILE: key 'tokenizer_class' is an integer (7), expected a string",
            "added-token-flag-string.json": "$FILE: added_tokens_decoder['0'].special is a string, expected a boolean",
        ],
        "spm": [
            "truncated-varint.model": "$FILE: message ends inside a varint (in ModelProto, at offset 59)",
            "length-past-end.model": "$FILE: length 64 runs past the end of the message (3 bytes remain) (in ModelProto, at offset 59)",
            "pieces-wrong-wire.model": "$FILE: field 'pieces' has wire type 0, expected 2 (in ModelProto, at offset 0)",
            "bad-piece-type.model": "$FILE: field 'type' is 9, expected 1 to 6 (in ModelProto.pieces[4], at offset 68)",
            "group-field.model": "$FILE: group fields (wire types 3 and 4) are not supported (in ModelProto, at offset 59)",
            "non-utf8-piece.model": "$FILE: field 'piece' is not valid UTF-8 (in ModelProto.pieces[4], at offset 62)",
            "long-varint.model": "$FILE: varint is longer than 10 bytes (in ModelProto, at offset 1)",
        ],
        // Minimized fuzzer finds (their GGUF ones are checked by the GGUF corpus test); the name's
        // prefix says which loader reads them (see `loader(for:)`).
        "found": [
            "tokenizer-id-over-int32.json": "$FILE: model.vocab['\u{120}a'] is 3035555555, expected a token id from 0 to 2147483647",
        ],
    ]

    /// The loader folder for a fuzzer find, from its name prefix.
    static func loader(for name: String) -> String {
        for (prefix, folder) in [("tokenizer-config-", "tokenizer-config"), ("tokenizer-", "tokenizer-json"),
                                 ("config-", "config-json"), ("safetensors-", "safetensors"), ("index-", "index"),
                                 ("spm-", "spm")] where name.hasPrefix(prefix) {
            return folder
        }
        return "unknown"
    }

    static func files(_ folder: String) -> [String] {
        let dir = root.appendingPathComponent(folder)
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        return folder == "found" ? all.filter { !$0.hasSuffix(".gguf") && $0 != "NOTES.tsv" } : all
    }

    /// Loads one corpus file the way the tools do; returns the error text with the placeholders
    /// put back, or "" when the file is accepted.
    static func load(_ folder: String, _ name: String) throws -> String {
        let path = root.appendingPathComponent(folder).appendingPathComponent(name).path
        let tmp = TemporaryDirectory("corpus")
        let dir = tmp.path
        func placed(_ as: String) throws -> String {
            let p = dir + "/" + `as`
            try FileManager.default.copyItem(atPath: path, toPath: p)
            return p
        }
        var file = path
        do {
            switch folder == "found" ? loader(for: name) : folder {
            case "safetensors":
                _ = try SafetensorsFile(path: path)
            case "index":
                try FileManager.default.createSymbolicLink(
                    atPath: dir + "/model.safetensors",
                    withDestinationPath: TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama/model.safetensors").path)
                file = try placed(HFModelFiles.safetensorsIndex)
                _ = try SafetensorsModel(directory: dir)
            case "tokenizer-json":
                _ = try HFTokenizer(path: path)
            case "config-json":
                file = try placed(HFModelFiles.config)
                let c = try ModelConfig(directory: dir)
                _ = try c.architectures()
                _ = try c.int("hidden_size")
            case "tokenizer-config":
                file = try placed(HFModelFiles.tokenizerConfig)
                let t = try TokenizerConfig.load(directory: dir)
                _ = try t?.tokenizerClass()
                _ = try t?.addedTokensDecoder()
            case "spm":
                _ = try SentencePieceModel(path: path)
            default:
                Issue.record("unknown corpus folder \(folder)")
            }
        } catch let e as HFModelError {
            #expect(e.file == file, "the error names \(e.file), not the file read")
            return e.description.replacingOccurrences(of: file, with: "$FILE").replacingOccurrences(of: dir, with: "$DIR")
        }
        return ""
    }

    static var cases: [(String, String)] {
        expected.keys.sorted().flatMap { folder in expected[folder]!.keys.sorted().map { (folder, $0) } }
    }
}

@Suite("Malformed corpus: Hugging Face files are refused with the exact error")
struct HFCorpusTests {
    @Test("every corpus file has an expectation, and every expectation a file")
    func complete() {
        for (folder, table) in HFCorpus.expected {
            let names = Set(HFCorpus.files(folder))
            #expect(names == Set(table.keys), "\(folder): unchecked \(names.subtracting(table.keys).sorted()), missing \(Set(table.keys).subtracting(names).sorted())")
        }
    }

    @Test("each file gives its message, naming the file", arguments: HFCorpus.cases)
    func refused(_ folder: String, _ name: String) throws {
        let expected = try #require(HFCorpus.expected[folder]?[name])
        let got = try HFCorpus.load(folder, name)
        if expected.hasSuffix(": ") {
            // Messages that end with a Swift Regex diagnostic: only our part is fixed.
            #expect(got.hasPrefix(expected), "\(folder)/\(name): \(got)")
        } else {
            #expect(got == expected, "\(folder)/\(name)")
        }
    }

    @Test("an index that names a shard outside the folder never reads it, even when it exists and is valid")
    func outsideShardIsNotRead() throws {
        let tmp = TemporaryDirectory("corpus-outside")
        let model = tmp.file("model")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        let fixture = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama/model.safetensors").path
        // A valid shard sits right beside the folder, where "../" would find it.
        try FileManager.default.copyItem(atPath: fixture, toPath: tmp.file("model.safetensors"))
        try FileManager.default.createSymbolicLink(atPath: model + "/model-00001-of-00001.safetensors", withDestinationPath: fixture)
        for shard in ["../model.safetensors", tmp.file("model.safetensors")] {
            let index = #"{"weight_map": {"model.embed_tokens.weight": "\#(shard)"}}"#
            try index.write(toFile: model + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
            do {
                let m = try SafetensorsModel(directory: model)
                Issue.record("accepted an index naming \(shard): \(m.files.map(\.path))")
            } catch {
                #expect(error.kind == .invalid)
                #expect(error.message.contains("maps to '\(shard)', expected a file name inside the model folder"))
            }
        }
    }
}
