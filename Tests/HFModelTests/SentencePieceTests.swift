import Testing
import Foundation
import GGUF
import TestSupport
@testable import HFModel

/// A tiny protobuf encoder for hand-made test inputs.
enum PB {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }
    static func tag(_ field: UInt64, _ wire: UInt64) -> [UInt8] { varint((field << 3) | wire) }
    static func bytes(_ field: UInt64, _ b: [UInt8]) -> [UInt8] { tag(field, 2) + varint(UInt64(b.count)) + b }
    static func string(_ field: UInt64, _ s: String) -> [UInt8] { bytes(field, Array(s.utf8)) }
    static func int(_ field: UInt64, _ v: Int64) -> [UInt8] { tag(field, 0) + varint(UInt64(bitPattern: v)) }
    static func float(_ field: UInt64, _ f: Float) -> [UInt8] {
        tag(field, 5) + withUnsafeBytes(of: f.bitPattern.littleEndian) { Array($0) }
    }
    static func piece(_ s: String, _ score: Float, _ type: Int64?) -> [UInt8] {
        bytes(1, string(1, s) + float(2, score) + (type.map { int(3, $0) } ?? []))
    }
}

@Suite("sentencepiece tokenizer.model")
struct SentencePieceTests {
    static func parse(_ b: [UInt8]) throws(HFModelError) -> SentencePieceModel {
        let r: Result<SentencePieceModel, HFModelError> = b.withUnsafeBytes { buf in
            do throws(HFModelError) { return .success(try SentencePieceModel(bytes: buf, file: "t.model")) } catch { return .failure(error) }
        }
        return try r.get()
    }

    @Test("pieces, specs, defaults, negative int32 and unknown fields") func handMade() throws {
        var b = PB.piece("<unk>", 0, 2) + PB.piece("\u{2581}the", -3.5, nil) + PB.piece("<0x0A>", 0, 6)
        b += PB.int(99, 7) + PB.tag(98, 1) + [UInt8](repeating: 0, count: 8) + PB.bytes(97, [1, 2, 3])
        b += PB.bytes(2, PB.int(3, 2) + PB.int(4, 3) + PB.int(35, 1) + PB.int(43, -1) + PB.string(46, "<bos>") + PB.int(200, 1))
        b += PB.bytes(3, PB.string(1, "nmt_nfkc") + PB.bytes(2, [9, 9]) + PB.int(4, 0))
        let m = try SentencePieceTests.parse(b)
        #expect(m.pieces.map(\.piece) == ["<unk>", "\u{2581}the", "<0x0A>"])
        #expect(m.pieces.map(\.score) == [0, -3.5, 0])
        #expect(m.pieces.map(\.type) == [.unknown, .normal, .byte])
        #expect(m.trainerSpec.modelType == 2)
        #expect(m.trainerSpec.vocabSize == 3)
        #expect(m.trainerSpec.byteFallback)
        #expect(m.trainerSpec.padID == -1)
        #expect(m.trainerSpec.bosPiece == "<bos>")
        #expect(m.trainerSpec.eosID == 2)
        #expect(m.normalizerSpec.name == "nmt_nfkc")
        #expect(m.normalizerSpec.precompiledCharsmapSize == 2)
        #expect(m.normalizerSpec.addDummyPrefix)
        #expect(!m.normalizerSpec.removeExtraWhitespaces)
        #expect(m.denormalizerSpec == nil)
    }

    @Test("truncated and malformed messages are refused with the message path and offset", arguments: [
        ([0x0A, 0x80], "message ends inside a varint (in ModelProto, at offset 1)"),
        ([0x0A, 0x05, 0x0A, 0x01], "length 5 runs past the end of the message (2 bytes remain) (in ModelProto, at offset 1)"),
        ([0x0A, 0x03, 0x15, 0x00, 0x00], "message ends inside a 4-byte value: need 4 bytes, 2 remain (in ModelProto.pieces[0], at offset 3)"),
        ([0x0A, 0x02, 0x10, 0x01], "field 'score' has wire type 0, expected 5 (in ModelProto.pieces[0], at offset 2)"),
        ([0x0F], "tag 15 has wire type 7, expected 0, 1, 2 or 5 (in ModelProto, at offset 0)"),
        ([0x4B, 0x00], "group fields (wire types 3 and 4) are not supported (in ModelProto, at offset 1)"),
        ([0x0A, 0x02, 0x18, 0x09], "field 'type' is 9, expected 1 to 6 (in ModelProto.pieces[0], at offset 2)"),
        ([0x0A, 0x03, 0x0A, 0x01, 0xFF], "field 'piece' is not valid UTF-8 (in ModelProto.pieces[0], at offset 4)"),
        ([0x12, 0x0B, 0x20] + [UInt8](repeating: 0xFF, count: 10), "varint is longer than 10 bytes (in ModelProto.trainer_spec, at offset 3)"),
        ([0x00], "tag has field number 0 (in ModelProto, at offset 0)"),
        ([0x1A, 0x02, 0x08, 0x01], "field 'name' has wire type 0, expected 2 (in ModelProto.normalizer_spec, at offset 2)"),
    ] as [([UInt8], String)])
    func malformed(bytes: [UInt8], message: String) {
        #expect(throws: HFModelError.self) { try SentencePieceTests.parse(bytes) }
        do { _ = try SentencePieceTests.parse(bytes) } catch { #expect(error.message == message) }
    }

    @Test("a missing file is reported") func missing() {
        let dir = TemporaryDirectory("spm")
        #expect(throws: HFModelError(.missingFile, file: dir.file("tokenizer.model"), "file not found")) {
            try SentencePieceModel(path: dir.file("tokenizer.model"))
        }
    }

    @Test("llama-spm tokenizer.model matches llama.cpp's vocabulary GGUF", .golden)
    func llama() throws {
        let m = try SentencePieceModel(path: try Golden.require(shared: "reference/tokenizer/llama-spm-tokenizer.model").path)
        let g = try GGUFFile(path: try Golden.require(shared: "reference/tokenizer/ggml-vocab-llama-spm.gguf").path)
        let tokens = try #require(g.metadata[GGUFKey.Tokenizer.tokens]?.arrayValue?.strings)
        let scores = try #require(g.metadata[GGUFKey.Tokenizer.scores]?.arrayValue?.floats)
        let types = try #require(g.metadata[GGUFKey.Tokenizer.tokenType]?.arrayValue?.integers)
        #expect(m.pieces.count == 32000)
        #expect(tokens.count == 32000)
        #expect(m.pieces.indices.allSatisfy { sameText(m.pieces[$0].piece, tokens[$0]) })
        #expect(m.pieces.map(\.score) == scores)
        #expect(m.pieces.map { Int($0.type.rawValue) } == types)
        #expect(m.trainerSpec == .init(modelType: 2, vocabSize: 32000, byteFallback: true, unkID: 0, bosID: 1, eosID: 2, padID: -1))
        #expect(m.normalizerSpec.name == "identity")
        #expect(m.normalizerSpec.addDummyPrefix)
        #expect(!m.normalizerSpec.removeExtraWhitespaces)
        #expect(m.normalizerSpec.escapeWhitespaces)
        #expect(m.pieces[3].piece == "<0x00>" && m.pieces[3].type == .byte)
    }
}
