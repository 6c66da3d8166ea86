import Testing
import Foundation
import TestSupport
@testable import HFModel

/// Writes safetensors files for tests: an 8-byte little-endian header length, the header text
/// (as given, so malformed headers can be written) and `data`.
enum SafetensorsWriter {
    static func write(_ path: String, header: String, data: [UInt8]) throws {
        var bytes: [UInt8] = []
        let h = Array(header.utf8)
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { bytes += $0 }
        bytes += h + data
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A valid file holding `tensors` (name, dtype, shape, bytes) in the given order.
    static func write(_ path: String, _ tensors: [(String, String, [Int], [UInt8])], metadata: Bool = true) throws {
        var entries: [String] = metadata ? [#""__metadata__":{"format":"pt"}"#] : []
        var data: [UInt8] = []
        for (name, dtype, shape, bytes) in tensors {
            entries.append(#""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(data.count),\#(data.count + bytes.count)]}"#)
            data += bytes
        }
        try write(path, header: "{" + entries.joined(separator: ",") + "}", data: data)
    }

    static func floats(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
}

@Suite("safetensors files")
struct SafetensorsFileTests {
    @Test("tensors are read, sorted by name, with absolute byte ranges; __metadata__ is not a tensor") func read() throws {
        let dir = TemporaryDirectory("st")
        let path = dir.file("model.safetensors")
        try SafetensorsWriter.write(path, [("b.weight", "F32", [2, 2], SafetensorsWriter.floats([1, 2, 3, 4])),
                                           ("a.bias", "F16", [3], [0, 0x3C, 0, 0x40, 0, 0xC0]),
                                           ("c", "BF16", [1], [0x80, 0x3F]), ("empty", "F32", [0, 4], [])])
        let m = try SafetensorsModel(files: [path])
        #expect(m.tensors.map(\.name) == ["a.bias", "b.weight", "c", "empty"])
        let b = try #require(m.tensor(named: "b.weight"))
        #expect(b.shape == [2, 2])
        #expect(b.elementCount == 4)
        #expect(try m.dtype(of: b) == .f32)
        #expect(Array(try m.data(b).bindMemory(to: Float.self)) == [1, 2, 3, 4])
        let a = try #require(m.tensor(named: "a.bias"))
        #expect(try m.dtype(of: a) == .f16)
        #expect(Array(try m.data(a)) == [0, 0x3C, 0, 0x40, 0, 0xC0])
        #expect(try m.dtype(of: try #require(m.tensor(named: "c"))) == .bf16)
        #expect(try m.data(try #require(m.tensor(named: "empty"))).isEmpty)
        #expect(m.files[0].metadata == ["format": "pt"])
        #expect(m.files[0].dataOffset + 16 == b.byteRange.upperBound)
        m.release(b)
        #expect(Array(try m.data(b).bindMemory(to: Float.self)) == [1, 2, 3, 4])
    }

    @Test("an unsupported dtype is an error only when the tensor is used") func dtypes() throws {
        let dir = TemporaryDirectory("st")
        let path = dir.file("model.safetensors")
        try SafetensorsWriter.write(path, [("ids", "I64", [2], [UInt8](repeating: 1, count: 16)),
                                           ("w", "F32", [1], SafetensorsWriter.floats([5])),
                                           ("q", "F8_E4M3", [4], [1, 2, 3, 4]), ("odd", "F4", [3], [0, 0])])
        let m = try SafetensorsModel(files: [path])
        let ids = try #require(m.tensor(named: "ids"))
        let message = "tensor 'ids' has dtype 'I64', expected F32, F16 or BF16"
        #expect(throws: HFModelError(.unsupported, file: path, message)) { try m.dtype(of: ids) }
        #expect(throws: HFModelError(.unsupported, file: path, message)) { try m.data(ids) }
        #expect(m.rawData(ids).count == 16)
        #expect(throws: HFModelError(.unsupported, file: path, "tensor 'q' has dtype 'F8_E4M3', expected F32, F16 or BF16")) {
            try m.dtype(of: try #require(m.tensor(named: "q")))
        }
        #expect(try m.dtype(of: try #require(m.tensor(named: "w"))) == .f32)
    }

    static let header = #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#

    @Test("malformed files are refused with the file, tensor and values in the message", arguments: [
        ("short", nil, "file is 5 bytes, too short for the 8-byte header length"),
        ("past-eof", nil, "header length 1000 runs past the end of the file (20 bytes, 12 after the length)"),
        ("huge", nil, "header length 200000000 exceeds the limit of 100000000 bytes"),
        ("{x}", 16, "header is not valid JSON: line 1, column 2: expected '\"' or '}' after '{', found 'x'"),
        ("[1]", 16, "header is an array, expected a JSON object"),
        (#"{"a":1}"#, 16, "tensor 'a' is an integer, expected an object with dtype, shape and data_offsets"),
        (#"{"a":{"shape":[4],"data_offsets":[0,16]}}"#, 16, "tensor 'a' has no string 'dtype'"),
        (#"{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,16]}}"#, 16, "tensor 'a' has shape [2,-1], expected non-negative integers"),
        (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[-4,12]}}"#, 16, "tensor 'a' has data_offsets [-4,12], expected [begin, end] with 0 <= begin <= end"),
        (#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, 16, "tensor 'a' has data_offsets [8,4], expected [begin, end] with 0 <= begin <= end"),
        (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}}"#, 16, "tensor 'a' has data_offsets [0], expected [begin, end] with 0 <= begin <= end"),
        (#"{"a":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}}"#, 16, "tensor 'a' has data_offsets [0, 64] past the end of the data (16 bytes)"),
        (#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, 16, "tensor 'a' has 12 bytes at data_offsets [0, 12], expected 16 (shape [2, 2] of F32, 4 bytes each)"),
        (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[8],"data_offsets":[8,24]}}"#, 24,
         "tensor 'b' at data_offsets [8, 24] overlaps tensor 'a' at [0, 16]"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8,
         "tensor 'a' appears twice in the header"),
    ] as [(String, Int?, String)])
    func malformed(header: String, dataSize: Int?, message: String) throws {
        let dir = TemporaryDirectory("st")
        let path = dir.file("model.safetensors")
        switch header {
        case "short": try Data([1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: path))
        case "past-eof":
            var b: [UInt8] = []
            withUnsafeBytes(of: UInt64(1000).littleEndian) { b += $0 }
            try Data(b + [UInt8](repeating: 0x20, count: 12)).write(to: URL(fileURLWithPath: path))
        case "huge":
            var b: [UInt8] = []
            withUnsafeBytes(of: UInt64(200_000_000).littleEndian) { b += $0 }
            try Data(b + Array("{}".utf8)).write(to: URL(fileURLWithPath: path))
        default:
            try SafetensorsWriter.write(path, header: header, data: [UInt8](repeating: 0, count: dataSize ?? 0))
        }
        #expect(throws: HFModelError.self) { try SafetensorsFile(path: path) }
        do {
            _ = try SafetensorsFile(path: path)
        } catch {
            #expect(error.message == message)
            #expect(error.file == path)
        }
    }
}

@Suite("safetensors model folders")
struct SafetensorsFolderTests {
    static func f(_ v: Float) -> [UInt8] { SafetensorsWriter.floats([v]) }

    /// Two shards and an index mapping each tensor to its shard.
    static func sharded(_ dir: TemporaryDirectory, index: String? = nil) throws {
        try SafetensorsWriter.write(dir.file("model-00002-of-00002.safetensors"), [("z", "F32", [1], f(3)), ("layers.10.w", "F32", [1], f(4))])
        try SafetensorsWriter.write(dir.file("model-00001-of-00002.safetensors"), [("layers.2.w", "F32", [1], f(2)), ("embed", "F32", [1], f(1))])
        let text = index ?? #"{"metadata": {"total_size": 16}, "weight_map": {"embed": "model-00001-of-00002.safetensors", "layers.2.w": "model-00001-of-00002.safetensors", "layers.10.w": "model-00002-of-00002.safetensors", "z": "model-00002-of-00002.safetensors"}}"#
        try text.write(toFile: dir.file("model.safetensors.index.json"), atomically: false, encoding: .utf8)
    }

    @Test("shards are read in file-name order, tensors sorted by name within each") func order() throws {
        let dir = TemporaryDirectory("shards")
        try SafetensorsFolderTests.sharded(dir)
        try "{}".write(toFile: dir.file("config.json"), atomically: false, encoding: .utf8)
        try SafetensorsWriter.write(dir.file("consolidated.safetensors"), [("embed", "F32", [1], SafetensorsFolderTests.f(9))])
        let m = try SafetensorsModel(directory: dir.path)
        #expect(m.files.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        #expect(m.tensors.map(\.name) == ["embed", "layers.2.w", "layers.10.w", "z"])
        #expect(m.indexPath == dir.file("model.safetensors.index.json"))
        let z = try #require(m.tensor(named: "z"))
        #expect(Array(try m.data(z).bindMemory(to: Float.self)) == [3])
        #expect(z.file == dir.file("model-00002-of-00002.safetensors"))
        #expect(m.tensor(named: "nope") == nil)
    }

    @Test("index problems are refused") func indexErrors() throws {
        let dir = TemporaryDirectory("shards")
        let index = dir.file("model.safetensors.index.json")
        let shard1 = "model-00001-of-00002.safetensors"
        func check(_ map: String, _ kind: HFModelError.Kind, _ file: String, _ message: String) throws {
            try SafetensorsFolderTests.sharded(dir, index: map)
            #expect(throws: HFModelError(kind, file: file, message)) { try SafetensorsModel(directory: dir.path) }
        }
        try check(#"{"weight_map": {"embed": "model-00003-of-00003.safetensors"}}"#, .missingFile, index,
                  "shard 'model-00003-of-00003.safetensors' (for tensor 'embed') does not exist in \(dir.path)")
        try check(#"{"weight_map": {"embed": "../model-00001-of-00002.safetensors"}}"#, .invalid, index,
                  "tensor 'embed' maps to '../model-00001-of-00002.safetensors', expected a file name inside the model folder")
        try check(#"{"weight_map": {"embed": "/etc/passwd"}}"#, .invalid, index,
                  "tensor 'embed' maps to '/etc/passwd', expected a file name inside the model folder")
        try check(#"{"weight_map": {"embed": ".."}}"#, .invalid, index,
                  "tensor 'embed' maps to '..', expected a file name inside the model folder")
        try check(#"{"weight_map": {"embed": 3}}"#, .invalid, index, "tensor 'embed' maps to an integer, expected a file name")
        try check(#"{"metadata": {}}"#, .invalid, index,
                  "key 'weight_map' is missing, expected an object mapping tensor names to shard files")
        try check(#"{"weight_map": {"embed": "\#(shard1)", "gone": "\#(shard1)"}}"#, .notFound, index,
                  "tensor 'gone' is mapped to '\(shard1)', but no model*.safetensors file holds it")
        try check(#"{"weight_map": {"embed": "\#(shard1)", "layers.2.w": "\#(shard1)", "z": "\#(shard1)"}}"#, .invalid,
                  dir.file("model-00002-of-00002.safetensors"), "tensor 'layers.10.w' is not listed in model.safetensors.index.json")
        try check("{\"weight_map\": ", .malformedJSON, index, "line 1, column 16: expected a JSON value, found end of file")
    }

    @Test("the same tensor in two files is refused (consolidated file next to its shards)") func duplicates() throws {
        let dir = TemporaryDirectory("dup")
        try SafetensorsFolderTests.sharded(dir)
        try SafetensorsWriter.write(dir.file("model.safetensors"), [("embed", "F32", [1], SafetensorsFolderTests.f(1))])
        #expect(throws: HFModelError(.duplicate, file: dir.file("model.safetensors"),
                                     "tensor 'embed' is also in \(dir.file("model-00001-of-00002.safetensors"))")) {
            try SafetensorsModel(directory: dir.path)
        }
    }

    @Test("folders without safetensors weights are refused") func noWeights() throws {
        let dir = TemporaryDirectory("pt")
        #expect(throws: HFModelError(.missingFile, file: dir.path, "no model*.safetensors file in the folder")) {
            try SafetensorsModel(directory: dir.path)
        }
        try Data([0]).write(to: URL(fileURLWithPath: dir.file("pytorch_model.bin")))
        #expect(throws: HFModelError(.unsupported, file: dir.path,
                                     "found pytorch_model*.bin but no model*.safetensors; only safetensors weights are read")) {
            try SafetensorsModel(directory: dir.path)
        }
        #expect(throws: HFModelError(.missingFile, file: dir.file("nope"), "cannot list the model folder")) {
            try SafetensorsModel(directory: dir.file("nope"))
        }
    }

    @Test("cached checkpoints: SmolLM2 (one file) and tiny-mistral (three shards)", .golden)
    func cached() throws {
        let smol = try SafetensorsModel(directory: try Golden.require(model: "SmolLM2-135M-Instruct-hf").path)
        #expect(smol.tensors.count == 272)
        #expect(smol.tensors.first?.name == "model.embed_tokens.weight")
        let embed = try #require(smol.tensor(named: "model.embed_tokens.weight"))
        #expect(embed.shape == [49152, 576])
        #expect(try smol.dtype(of: embed) == .f32)
        #expect(try smol.data(embed).count == 49152 * 576 * 4)
        smol.release(embed)
        let mistral = try SafetensorsModel(directory: try Golden.require(model: "tiny-mistral").path)
        #expect(mistral.files.count == 3)
        let index = try HFJSONFile(path: try #require(mistral.indexPath))
        #expect(index["weight_map"]?.object?.count == mistral.tensors.count)
        for t in mistral.tensors { _ = try mistral.data(t) }
    }
}
