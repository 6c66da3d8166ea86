import Testing
import Foundation
import TestSupport
@testable import GGUF

/// Builds GGUF byte sequences field by field so each test can break exactly one thing.
struct GGUFBuilder {
    var e = GGUFEncoder()
    init(version: UInt32 = 3, tensors: UInt64, kvs: UInt64, magic: [UInt8] = Array("GGUF".utf8)) {
        e.append(contentsOf: magic)
        e.append(version)
        e.append(tensors)
        e.append(kvs)
    }
    mutating func kv(_ key: String, _ v: GGUFValue) { e.append(key: key, value: v) }
    mutating func tensor(_ name: String, _ shape: [Int64], type: UInt32, offset: UInt64) {
        e.append(string: name)
        e.append(UInt32(shape.count))
        for d in shape { e.append(d) }
        e.append(type)
        e.append(offset)
    }
    mutating func raw(_ b: [UInt8]) { e.append(contentsOf: b) }
    mutating func pad() { e.pad(to: 32) }
    var bytes: [UInt8] { e.bytes }
}

func parse(_ bytes: [UInt8]) -> GGUFError? {
    bytes.withUnsafeBytes { b -> GGUFError? in
        do throws(GGUFError) { _ = try GGUFParser.parse(b, file: "x.gguf"); return nil } catch { return error }
    }
}

@Suite("GGUF reader rejects malformed files with a precise message")
struct MalformedTests {
    @Test("bad magic")
    func badMagic() {
        let b = GGUFBuilder(tensors: 0, kvs: 0, magic: Array("GGML".utf8)).bytes
        #expect(parse(b)?.description == "x.gguf: invalid magic 'GGML', expected 'GGUF': not a GGUF file (at offset 0)")
    }

    @Test("version 1 and future versions")
    func versions() {
        #expect(parse(GGUFBuilder(version: 1, tensors: 0, kvs: 0).bytes)?.description ==
                "x.gguf: unsupported GGUF version 1: GGUFv1 is no longer supported (at offset 4)")
        #expect(parse(GGUFBuilder(version: 4, tensors: 0, kvs: 0).bytes)?.description ==
                "x.gguf: unsupported GGUF version 4: only versions 2 and 3 are supported (at offset 4)")
        #expect(parse(GGUFBuilder(version: 0x0300_0000, tensors: 0, kvs: 0).bytes)?.description ==
                "x.gguf: version 50331648 looks byte-swapped: big-endian GGUF files are not supported (at offset 4)")
    }

    @Test("truncated header")
    func truncatedHeader() {
        let b = Array(GGUFBuilder(tensors: 0, kvs: 0).bytes.prefix(12))
        #expect(parse(b)?.description == "x.gguf: file ends while reading the tensor count: need 8 bytes, 4 remain (at offset 8)")
    }

    @Test("impossible counts are refused before any allocation")
    func hugeCounts() {
        #expect(parse(GGUFBuilder(tensors: 1 << 62, kvs: 0).bytes)?.description ==
                "x.gguf: tensor count 4611686018427387904 is impossible for a file of 24 bytes (at offset 8)")
        #expect(parse(GGUFBuilder(tensors: 0, kvs: UInt64.max).bytes)?.description ==
                "x.gguf: key-value count -1 is impossible for a file of 24 bytes (at offset 16)")
    }

    @Test("string longer than the file")
    func hugeString() {
        var g = GGUFBuilder(tensors: 0, kvs: 1)
        g.e.append(UInt64(1 << 40))
        g.raw(Array(repeating: 0x61, count: 8))
        #expect(parse(g.bytes)?.description == "x.gguf: key 0 has length 1099511627776, more than the 1 GiB limit (at offset 24)")
        var h = GGUFBuilder(tensors: 0, kvs: 1)
        h.e.append(UInt64(100))
        h.raw(Array("abcdefgh".utf8))
        #expect(parse(h.bytes)?.description == "x.gguf: key 0 has length 100 but only 8 bytes remain (at offset 24)")
    }

    @Test("duplicate key")
    func duplicateKey() {
        var g = GGUFBuilder(tensors: 0, kvs: 2)
        g.kv("a", .uint32(1))
        g.kv("a", .uint32(2))
        #expect(parse(g.bytes)?.description == "x.gguf: duplicate key 'a' (at offset 41)")
    }

    @Test("unknown value type and nested arrays")
    func badTypes() {
        var g = GGUFBuilder(tensors: 0, kvs: 1)
        g.e.append(string: "k")
        g.e.append(UInt32(13))
        #expect(parse(g.bytes)?.description == "x.gguf: key 'k' has invalid value type 13 (at offset 33)")
        var h = GGUFBuilder(tensors: 0, kvs: 1)
        h.e.append(string: "k")
        h.e.append(UInt32(9))
        h.e.append(UInt32(9))
        h.e.append(UInt64(1))
        #expect(parse(h.bytes)?.description == "x.gguf: array 'k' contains arrays: nested arrays are not supported (at offset 37)")
    }

    @Test("array count larger than the remaining bytes")
    func hugeArray() {
        var g = GGUFBuilder(tensors: 0, kvs: 1)
        g.e.append(string: "k")
        g.e.append(UInt32(9))
        g.e.append(UInt32(4))
        g.e.append(UInt64(1000))
        #expect(parse(g.bytes)?.description == "x.gguf: array 'k' has 1000 elements of UINT32 but only 0 bytes remain (at offset 41)")
    }

    @Test("non-UTF-8 string")
    func nonUTF8() {
        var g = GGUFBuilder(tensors: 0, kvs: 1)
        g.e.append(string: "k")
        g.e.append(UInt32(8))
        g.e.append(UInt64(2))
        g.raw([0xff, 0xfe])
        #expect(parse(g.bytes)?.description == "x.gguf: the value of key 'k' is not valid UTF-8 (at offset 45)")
    }

    @Test("alignment must be a power-of-two UINT32")
    func alignment() {
        var g = GGUFBuilder(tensors: 0, kvs: 1)
        g.kv("general.alignment", .uint32(48))
        #expect(parse(g.bytes)?.description == "x.gguf: alignment 48 is not a power of 2")
        var h = GGUFBuilder(tensors: 0, kvs: 1)
        h.kv("general.alignment", .int32(32))
        #expect(parse(h.bytes)?.description == "x.gguf: key 'general.alignment' has type INT32, expected UINT32")
    }

    @Test("tensor info problems")
    func tensorInfo() {
        func one(_ shape: [Int64], type: UInt32, offset: UInt64 = 0, data: Int = 0, name: String = "t") -> String? {
            var g = GGUFBuilder(tensors: 1, kvs: 0)
            g.tensor(name, shape, type: type, offset: offset)
            g.pad()
            g.raw(Array(repeating: 0, count: data))
            return parse(g.bytes)?.description
        }
        #expect(one([4, 4, 4, 4, 4], type: 0) == "x.gguf: tensor 't' has 5 dimensions, at most 4 (at offset 33)")
        #expect(one([-1], type: 0) == "x.gguf: tensor 't' dimension 0 has -1 elements, expected >= 0 (at offset 37)")
        #expect(one([Int64.max, 3], type: 0) == "x.gguf: tensor 't' has too many elements: shape [9223372036854775807, 3] overflows (at offset 45)")
        #expect(one([4], type: 4) == "x.gguf: tensor 't' has unknown ggml type 4 (at offset 45)")
        #expect(one([4], type: 99) == "x.gguf: tensor 't' has unknown ggml type 99 (at offset 45)")
        #expect(one([48, 2], type: 12) ==
                "x.gguf: tensor 't' of type Q4_K has 48 elements per row, not a multiple of the block size 256 (at offset 53)")
        #expect(one([4], type: 0, offset: 32, data: 64) == "x.gguf: tensor 't' has offset 32, expected 0")
        #expect(one([8], type: 0, data: 16) == "x.gguf: tensor 't' needs 32 bytes at data offset 0, only 16 remain in the file (at offset 64)")
        #expect(one([1], type: 0, name: String(repeating: "n", count: 64)) ==
                "x.gguf: tensor name '\(String(repeating: "n", count: 64))' is too long: 64 bytes, at most 63 (at offset 24)")
    }

    @Test("duplicate tensor names")
    func duplicateTensor() {
        var g = GGUFBuilder(tensors: 2, kvs: 0)
        g.tensor("t", [8], type: 0, offset: 0)
        g.tensor("t", [8], type: 0, offset: 32)
        g.pad()
        g.raw(Array(repeating: 0, count: 64))
        #expect(parse(g.bytes)?.description == "x.gguf: duplicate tensor name 't' for tensors 0 and 1 (at offset 57)")
    }

    @Test("every truncation of a valid file is rejected, never a crash")
    func everyTruncation() throws {
        var md = GGUFMetadata()
        md.set("general.architecture", .string("llama"))
        md.set("a", .array(.string(["x", "yy"])))
        md.set("f", .float32(1))
        let dir = TemporaryDirectory("trunc")
        let w = try GGUFWriter(path: dir.file("v.gguf"), metadata: md,
                               tensors: [GGUFTensorInfo(name: "w", shape: [32, 2], type: .q8_0), GGUFTensorInfo(name: "b", shape: [3], type: .f32)])
        try [UInt8](repeating: 1, count: 68).withUnsafeBytes { try w.writeTensor($0) }
        try [UInt8](repeating: 2, count: 12).withUnsafeBytes { try w.writeTensor($0) }
        try w.finish(replace: false)
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("v.gguf"))))
        #expect(parse(full) == nil)
        // The last tensor's padding is not required; everything shorter than its data must fail.
        let needed = full.count - 20
        for n in 0..<needed {
            #expect(parse(Array(full.prefix(n))) != nil, "prefix of \(n) bytes accepted")
        }
    }
}
