import Testing
import Foundation
import TestSupport
@testable import GGUF

/// A small deterministic model for the split tests: every metadata type, tensors of several types,
/// one stored with a trailing dimension of 1 (written back without it) and one with no dimension.
/// About 1.9 MB of tensor data so that a 1M size limit (the smallest gguf-split accepts) cuts it.
/// (The expected SHA-256 in `SplitTests` were printed by `sha256sum` for the file this writes and
/// for llama-gguf-split's outputs; our split of it is compared byte for byte with them.)
func writeSplitTestModel(_ path: String) throws {
    var md = GGUFMetadata()
    md.set("general.architecture", .string("llama"))
    md.set("general.name", .string("split test"))
    md.set("general.alignment", .uint32(32))
    md.set("u8", .uint8(200)); md.set("i8", .int8(-3)); md.set("u16", .uint16(65000)); md.set("i16", .int16(-30000))
    md.set("u32", .uint32(4_000_000_000)); md.set("i32", .int32(-5)); md.set("f32", .float32(1.5)); md.set("b", .bool(true))
    md.set("s", .string("héllo")); md.set("u64", .uint64(1 << 40)); md.set("i64", .int64(-(1 << 40))); md.set("f64", .float64(2.25))
    md.set("as", .array(.string(["a", "", "ç"]))); md.set("ai", .array(.int32([1, -2, 3]))); md.set("ab", .array(.bool([true, false])))
    md.set("af", .array(.float32([0.5, -1])))
    let infos = [
        GGUFTensorInfo(name: "token_embd.weight", shape: [128, 1000], type: .f32),
        GGUFTensorInfo(name: "norm.weight", shape: [4, 1], type: .f32),
        GGUFTensorInfo(name: "blk.0.q8.weight", shape: [256, 1000], type: .q8_0),
        GGUFTensorInfo(name: "blk.0.h.weight", shape: [100, 30, 50], type: .f16),
        GGUFTensorInfo(name: "scalar", shape: [], type: .f32),
        GGUFTensorInfo(name: "blk.1.w.weight", shape: [1000, 200], type: .f32),
        GGUFTensorInfo(name: "output_norm.weight", shape: [300], type: .f32),
    ]
    let w = try GGUFWriter(path: path, metadata: md, tensors: infos)
    var g = SplitMix64(seed: 11)
    for t in w.tensors {
        let bytes = (0..<t.byteCount).map { _ in UInt8(truncatingIfNeeded: g.next() >> 56) }
        try bytes.withUnsafeBytes { try w.writeTensor($0) }
    }
    try w.finish(replace: false)
}

func sha256(file path: String) throws -> String {
    let m = try MappedFile(path: path)
    return withExtendedLifetime(m) { SHA256.hex(m.bytes) }
}

@Suite("gguf-split files")
struct SplitTests {
    // SHA-256 of the files b10572's llama-gguf-split wrote for writeSplitTestModel's file:
    //   llama-gguf-split --split --split-max-tensors 3 model.gguf t3
    //   llama-gguf-split --split --split-max-size 1M model.gguf m1
    //   llama-gguf-split --merge t3-00001-of-00003.gguf merged.gguf
    static let input = "8b86c35a8f7efdd68fb8a0b676fcc08e6ee7cc4a8dc9e08a28484d7c7d8d2470"
    static let byTensors = ["515f62b50a03b3cd06b714751652f232a761420b9e5c88f3fe286183e7a83bd9",
                            "e0e5f8779e05e50d69874f326d43baba4c0ca1791037a79187142ed8b24f3f5f",
                            "db53fd28490326f4e89229dbf31a0618033582d3dd056b69413219f201d652be"]
    static let bySize = ["515f62b50a03b3cd06b714751652f232a761420b9e5c88f3fe286183e7a83bd9",
                         "87a2abaeff8731c51ba5f61fac9f5ba2f5b11d4926ce5218e074acddf26860c8",
                         "5f8b3bb495e078cdafbf2048dc0008f3e0244968a8b19b79adaaf876256b98be"]
    static let merged = "49f0572a5ae83753662cfeb20ebc5556543516ab1dd4d9acd8e96d042906ea2c"

    @Test("file names: PREFIX-0000i-of-0000n.gguf, and the prefix back")
    func naming() {
        #expect(GGUFSplitNaming.path(prefix: "/m/x", index: 1, count: 4) == "/m/x-00002-of-00004.gguf")
        #expect(GGUFSplitNaming.path(prefix: "x", index: 0, count: 123_456) == "x-00001-of-123456.gguf")
        #expect(GGUFSplitNaming.prefix(of: "/m/x-00002-of-00004.gguf", index: 1, count: 4) == "/m/x")
        #expect(GGUFSplitNaming.prefix(of: "/m/x-00002-of-00004.gguf", index: 0, count: 4) == nil)
        #expect(GGUFSplitNaming.prefix(of: "/m/x-00002-of-00004.gguf", index: 1, count: 5) == nil)
        #expect(GGUFSplitNaming.prefix(of: "-00001-of-00002.gguf", index: 0, count: 2) == nil)
    }

    @Test("split by tensor count: the files of llama-gguf-split, keys and shapes as ggml writes them")
    func splitByTensors() throws {
        let dir = TemporaryDirectory("split")
        let input = dir.file("model.gguf")
        try writeSplitTestModel(input)
        #expect(try sha256(file: input) == Self.input)
        let file = try GGUFFile(path: input)
        let parts = try GGUFSplitter.plan(file, limit: .tensors(3))
        #expect(parts.map(\.tensors.count) == [3, 3, 1])
        for (i, p) in parts.enumerated() {
            let path = GGUFSplitNaming.path(prefix: dir.file("t3"), index: i, count: parts.count)
            try GGUFSplitter.write(p, from: file, to: path, replace: false)
            #expect(try sha256(file: path) == Self.byTensors[i], "file \(i + 1)")
            let f = try GGUFFile(path: path)
            #expect(f.metadata.keys.suffix(3) == [GGUFKey.Split.no, GGUFKey.Split.tensorsCount, GGUFKey.Split.count])
            #expect(f.metadata[GGUFKey.Split.no] == .uint16(UInt16(i)))
            #expect(f.metadata[GGUFKey.Split.count] == .uint16(3))
            #expect(f.metadata[GGUFKey.Split.tensorsCount] == .int32(7))
            #expect(f.metadata.count == (i == 0 ? file.metadata.count + 3 : 3))
            #expect(f.dataOffset == p.headerBytes)
            #expect(f.mapping.count == p.fileBytes)
        }
        let first = try GGUFFile(path: dir.file("t3-00001-of-00003.gguf"))
        #expect(first.tensor(named: "norm.weight")?.shape == [4])
        #expect(try GGUFFile(path: dir.file("t3-00002-of-00003.gguf")).tensor(named: "scalar")?.shape == [1])
    }

    @Test("split by size (1M of padded tensor data per file) gives llama-gguf-split's files")
    func splitBySize() throws {
        let dir = TemporaryDirectory("split")
        let input = dir.file("model.gguf")
        try writeSplitTestModel(input)
        let file = try GGUFFile(path: input)
        let parts = try GGUFSplitter.plan(file, limit: .bytes(1_000_000))
        #expect(parts.map(\.tensors.count) == [3, 2, 2])
        for (i, p) in parts.enumerated() {
            let path = GGUFSplitNaming.path(prefix: dir.file("m1"), index: i, count: parts.count)
            try GGUFSplitter.write(p, from: file, to: path, replace: false)
            #expect(try sha256(file: path) == Self.bySize[i], "file \(i + 1)")
        }
    }

    @Test("a split model opens as one: the first file's keys, every tensor and its bytes; merge gives llama-gguf-split's file")
    func openAndMerge() throws {
        let dir = TemporaryDirectory("split")
        let input = dir.file("model.gguf")
        try writeSplitTestModel(input)
        let file = try GGUFFile(path: input)
        let parts = try GGUFSplitter.plan(file, limit: .tensors(3))
        for (i, p) in parts.enumerated() {
            try GGUFSplitter.write(p, from: file, to: GGUFSplitNaming.path(prefix: dir.file("t3"), index: i, count: 3), replace: false)
        }
        let model = try GGUFFile.openModel(path: dir.file("t3-00001-of-00003.gguf"))
        #expect(model.otherSplits.count == 2)
        #expect(model.splitPaths.map { ($0 as NSString).lastPathComponent } == (1...3).map { "t3-0000\($0)-of-00003.gguf" })
        #expect(model.tensors.map(\.name) == file.tensors.map(\.name))
        #expect(model.architecture == "llama")
        for t in file.tensors {
            let m = try #require(model.tensor(named: t.name))
            #expect(Array(model.data(m)) == Array(file.data(t)), "\(t.name)")
        }
        #expect(model.file(holding: try #require(model.tensor(named: "output_norm.weight"))).path.hasSuffix("t3-00003-of-00003.gguf"))

        let merge = try GGUFSplitter.mergePlan(try GGUFSplitter.openForMerge(firstPath: dir.file("t3-00001-of-00003.gguf")))
        try GGUFSplitter.write(merge, from: model, to: dir.file("merged.gguf"), replace: false)
        #expect(try sha256(file: dir.file("merged.gguf")) == Self.merged)
        // The merged file: the input's keys, then split.no = 0, split.tensors.count, split.count = 0
        // (llama-gguf-split leaves them); the same tensor bytes.
        let merged = try GGUFFile.openModel(path: dir.file("merged.gguf"))
        #expect(merged.otherSplits.isEmpty)
        #expect(Array(merged.metadata.keys.dropLast(3)) == file.metadata.keys)
        #expect(merged.metadata[GGUFKey.Split.count] == .uint16(0))
        withExtendedLifetime((file, merged)) {
            #expect(Array(file.mapping.bytes[file.dataOffset...]) == Array(merged.mapping.bytes[merged.dataOffset...]))
        }
    }

    @Test("opening errors name the file: a later file, a missing file, a wrong split.no")
    func openErrors() throws {
        let dir = TemporaryDirectory("split")
        let input = dir.file("model.gguf")
        try writeSplitTestModel(input)
        let file = try GGUFFile(path: input)
        let parts = try GGUFSplitter.plan(file, limit: .tensors(3))
        for (i, p) in parts.enumerated() {
            try GGUFSplitter.write(p, from: file, to: GGUFSplitNaming.path(prefix: dir.file("t3"), index: i, count: 3), replace: false)
        }
        // A later file: the error names the first one.
        #expect { try GGUFFile.openModel(path: dir.file("t3-00002-of-00003.gguf")) } throws: { e in
            "\(e)".contains("t3-00001-of-00003.gguf") && "\(e)".contains("file 2 of")
        }
        // The first file renamed: its name no longer says which split it is.
        try FileManager.default.copyItem(atPath: dir.file("t3-00001-of-00003.gguf"), toPath: dir.file("renamed.gguf"))
        #expect(throws: GGUFError.self) { try GGUFFile.openModel(path: dir.file("renamed.gguf")) }
        // A later file swapped for another: its split.no is wrong.
        try FileManager.default.removeItem(atPath: dir.file("t3-00003-of-00003.gguf"))
        try FileManager.default.copyItem(atPath: dir.file("t3-00002-of-00003.gguf"), toPath: dir.file("t3-00003-of-00003.gguf"))
        #expect { try GGUFFile.openModel(path: dir.file("t3-00001-of-00003.gguf")) } throws: { e in "\(e)".contains("expected 2") }
        // A missing file.
        try FileManager.default.removeItem(atPath: dir.file("t3-00003-of-00003.gguf"))
        #expect { try GGUFFile.openModel(path: dir.file("t3-00001-of-00003.gguf")) } throws: { e in
            "\(e)".contains("t3-00003-of-00003.gguf")
        }
        // A single file opens as itself.
        #expect(try GGUFFile.openModel(path: input).otherSplits.isEmpty)
    }

    @Test("plans that cannot be written are refused: a limit the first tensor exceeds, a limit of 0")
    func planErrors() throws {
        let dir = TemporaryDirectory("split")
        let input = dir.file("model.gguf")
        try writeSplitTestModel(input)
        let file = try GGUFFile(path: input)
        #expect(throws: GGUFError.self) { try GGUFSplitter.plan(file, limit: .bytes(100_000)) }
        #expect(throws: GGUFError.self) { try GGUFSplitter.plan(file, limit: .tensors(0)) }
        // --no-tensor-first-split: a first file with the keys only.
        let parts = try GGUFSplitter.plan(file, limit: .tensors(4), noTensorsInFirst: true)
        #expect(parts.map(\.tensors.count) == [0, 4, 3])
        #expect(parts[0].metadata[GGUFKey.Split.count] == .uint16(3))
    }
}
