import Testing
import Foundation
import TestSupport
@testable import GGUF

@Suite("GGUF write/read round trip")
struct RoundTripTests {
    @Test("metadata of every type and tensors survive a round trip, in order")
    func roundTrip() throws {
        let dir = TemporaryDirectory("gguf")
        let path = dir.file("a.gguf")
        var md = GGUFMetadata()
        md.set("general.architecture", .string("llama"))
        md.set("u8", .uint8(200)); md.set("i8", .int8(-3)); md.set("u16", .uint16(65000)); md.set("i16", .int16(-30000))
        md.set("u32", .uint32(4_000_000_000)); md.set("i32", .int32(-5)); md.set("f32", .float32(1.5)); md.set("b", .bool(true))
        md.set("s", .string("héllo")); md.set("u64", .uint64(1 << 40)); md.set("i64", .int64(-(1 << 40))); md.set("f64", .float64(2.25))
        md.set("as", .array(.string(["a", "", "ç"]))); md.set("ai", .array(.int32([1, -2, 3]))); md.set("ab", .array(.bool([true, false])))
        let t1 = GGUFTensorInfo(name: "x.weight", shape: [4, 3], type: .f32)
        let t2 = GGUFTensorInfo(name: "y", shape: [5], type: .f16)
        let w = try GGUFWriter(path: path, metadata: md, tensors: [t1, t2])
        let a = (0..<12).map { Float($0) }
        try a.withUnsafeBytes { try w.writeTensor($0) }
        let b = [UInt16](repeating: 0x3C00, count: 5)
        try b.withUnsafeBytes { try w.writeTensor($0) }
        try w.finish(replace: false)

        let f = try GGUFFile(path: path)
        #expect(f.version == 3)
        #expect(f.metadata == md)
        #expect(f.metadata.keys == md.keys)
        #expect(f.tensors.map(\.name) == ["x.weight", "y"])
        #expect(f.tensors[1].offset == 64)
        let back = Array(f.data(f.tensors[0]).bindMemory(to: Float.self))
        #expect(back == a)
        #expect(f.dataOffset % 32 == 0)
    }

    @Test("an unfinished writer leaves no file behind")
    func abandoned() throws {
        let dir = TemporaryDirectory("gguf")
        let path = dir.file("b.gguf")
        do {
            let w = try GGUFWriter(path: path, metadata: GGUFMetadata(), tensors: [GGUFTensorInfo(name: "t", shape: [2], type: .f32)])
            _ = w
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }
}
