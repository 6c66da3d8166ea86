import Foundation
import GGUF
@testable import Inference
import Testing
import TestSupport

@Suite("Vocab: Unicode tables, pieces, CLI output")
struct VocabUnitTests {
    @Test("category and whitespace flags of all 0x110000 codepoints equal llama.cpp's unicode-data.cpp")
    func flagsTable() {
        // sha256 of the 16-bit little-endian flags (bits 0-8: categories and whitespace) of every
        // codepoint, dumped from llama.cpp b4748's `unicode_cpt_flags_from_cpt`.
        var bytes = [UInt8]()
        bytes.reserveCapacity(0x110000 * 2)
        for cp in 0..<UInt32(0x110000) {
            let b = LlamaUnicode.flags(cp).bits & 0x1FF
            bytes.append(UInt8(b & 0xFF))
            bytes.append(UInt8(b >> 8))
        }
        var h = SHA256()
        h.update(bytes)
        #expect(SHA256.hexString(h.finalize()) == "d1352c3154b23d37e6da01e7abdb5083eaee687c4bcb53e4fd068efeee9528fc")
    }

    @Test("malformed UTF-8 decodes to U+FFFD one byte at a time, as unicode_cpts_from_utf8")
    func decode() {
        func cps(_ b: [UInt8]) -> [UInt32] {
            var out: [UInt32] = []
            b.withUnsafeBufferPointer { LlamaUnicode.decode($0, into: &out) }
            return out
        }
        #expect(cps([0x61, 0xC3, 0xA9]) == [0x61, 0xE9])
        #expect(cps([0xFF, 0x80, 0x41]) == [0xFFFD, 0xFFFD, 0x41])
        #expect(cps([0xE2, 0x82]) == [0xFFFD, 0xFFFD])
        #expect(cps([0xC0, 0xAF]) == [0x2F])  // overlong forms are accepted
        #expect(cps([0xED, 0xA0, 0x80]) == [0xD800])  // so are surrogates
        #expect(cps([0xF0, 0x9F, 0xA6, 0x99]) == [0x1F999])
    }

    @Test("GPT-2 alphabet: printable bytes map to themselves, the rest from U+0100 in order")
    func alphabet() {
        #expect(LlamaUnicode.byteToCodepoint[0x41] == 0x41)
        #expect(LlamaUnicode.byteToCodepoint[0x00] == 0x100)
        #expect(LlamaUnicode.byteToCodepoint[0x20] == 0x120)
        #expect(LlamaUnicode.byteToCodepoint[0x0A] == 0x10A)
        #expect(LlamaUnicode.byteToCodepoint[0xAD] == 0x143)
        #expect(Set(LlamaUnicode.byteToCodepoint).count == 256)
    }

    @Test("pieces: byte tokens, control tokens with and without special, BPE alphabet decoding", .golden)
    func pieces() throws {
        let spm = try VocabTestData.load(try Golden.require(shared: "reference/tokenizer/ggml-vocab-llama-spm.gguf"))
        #expect(spm.piece(for: 1, special: true) == Array("<s>".utf8))
        #expect(spm.piece(for: 1, special: false) == [])
        #expect(spm.piece(for: 0, special: false) == [])  // <unk> is an unknown-type token
        #expect(spm.piece(for: 258, special: false) == [0xFF])  // <0xFF>
        #expect(spm.piece(for: 15043, special: false) == Array(" Hello".utf8))
        #expect(spm.piece(for: 32000, special: true) == [])
        let gpt2 = try VocabTestData.load(try Golden.require(shared: "reference/tokenizer/ggml-vocab-gpt-2.gguf"))
        #expect(gpt2.piece(for: 995, special: false) == Array(" world".utf8))
        #expect(gpt2.piece(for: 188, special: false) == [0x00])
        #expect(gpt2.piece(for: 50256, special: false) == [])
        #expect(gpt2.piece(for: 50256, special: true) == Array("<|endoftext|>".utf8))
    }

    @Test("prompt escapes as string_process_escapes")
    func escapes() {
        func esc(_ s: String) -> [UInt8] { TokenizeOutput.processEscapes(Array(s.utf8)) }
        #expect(esc(#"a\nb\tc\rd"#) == Array("a\nb\tc\rd".utf8))
        #expect(esc(#"\'\"\\"#) == Array("'\"\\".utf8))
        #expect(esc(#"\x41\x4a\x4"#) == Array("AJ\\x4".utf8))
        #expect(esc(#"\x+1\x-1\x 9"#) == [0x01, 0xFF, 0x09])
        #expect(esc(#"\xg1\q\"#) == Array(#"\xg1\q\"#.utf8))
        #expect(esc(#"\x00x"#) == [0x00, 0x78])
    }

    @Test("an empty id list prints as llama-tokenize does", .golden)
    func emptyOutput() throws {
        let spm = try VocabTestData.load(try Golden.require(shared: "reference/tokenizer/ggml-vocab-llama-spm.gguf"))
        #expect(TokenizeOutput.format(ids: [], vocab: spm, idsOnly: true) == "[]\n")
        #expect(TokenizeOutput.format(ids: [], vocab: spm, idsOnly: false, showCount: true) == "Total number of tokens: 0\n")
        #expect(TokenizeOutput.format(ids: [-1, 1234567], vocab: spm, idsOnly: false) == "    -1 -> ''\n1234567 -> ''\n")
    }

    @Test("stdout of llama-tokenize -f prompt.txt, byte for byte", .golden, arguments: [
        ("ggml-vocab-llama-spm.gguf", "spm.stdout", false, false),
        ("ggml-vocab-llama-spm.gguf", "spm-ids-count.stdout", true, true),
        ("ggml-vocab-gpt-2.gguf", "gpt2.stdout", false, false),
        ("ggml-vocab-gpt-2.gguf", "gpt2-ids.stdout", true, false),
    ])
    func cliOutput(_ vocabName: String, _ stdout: String, _ idsOnly: Bool, _ showCount: Bool) throws {
        let vocab = try VocabTestData.load(try Golden.require(shared: "reference/tokenizer/\(vocabName)"))
        let dir = VocabTestData.fixtures.appendingPathComponent("llama-tokenize")
        let prompt = TokenizeOutput.processEscapes([UInt8](try Data(contentsOf: dir.appendingPathComponent("prompt.txt"))))
        let ids = vocab.tokenize(bytes: prompt, addSpecial: vocab.addBOS, parseSpecial: true)
        let want = [UInt8](try Data(contentsOf: dir.appendingPathComponent(stdout)))
        #expect(TokenizeOutput.formatBytes(ids: ids, vocab: vocab, idsOnly: idsOnly, showCount: showCount) == want)
    }
}
