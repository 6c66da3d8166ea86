import Testing
import Foundation
import TestSupport
@testable import GGUF

/// The GGUF files of Fixtures/malformed (see its README): each one must be refused by
/// `GGUFFile(path:)` with exactly this message (after "PATH: "), or, for an empty expectation,
/// be accepted. A file in the folder without an entry here fails `complete`.
enum GGUFCorpus {
    static let folder = TestPaths.fixtures.appendingPathComponent("malformed/gguf")
    static let found = TestPaths.fixtures.appendingPathComponent("malformed/found")

    static let expected: [String: String] = [
        "empty.gguf": "file ends while reading the magic: need 4 bytes, 0 remain (at offset 0)",
        "bad-magic.gguf": "invalid magic 'GGML', expected 'GGUF': not a GGUF file (at offset 0)",
        "version-1.gguf": "unsupported GGUF version 1: GGUFv1 is no longer supported (at offset 4)",
        "big-endian.gguf": "version 50331648 looks byte-swapped: big-endian GGUF files are not supported (at offset 4)",
        "truncated-magic.gguf": "file ends while reading the magic: need 4 bytes, 2 remain (at offset 0)",
        "truncated-header.gguf": "file ends while reading the tensor count: need 8 bytes, 6 remain (at offset 8)",
        "truncated-kv-count.gguf": "file ends while reading the key-value count: need 8 bytes, 4 remain (at offset 16)",
        "truncated-kv-key-length.gguf": "file ends while reading the length of key 0: need 8 bytes, 3 remain (at offset 24)",
        "truncated-kv-key.gguf": "key 0 has length 20 but only 12 bytes remain (at offset 24)",
        "truncated-kv-type.gguf": "file ends while reading the type of key 'general.name': need 4 bytes, 2 remain (at offset 44)",
        "truncated-kv-value.gguf": "file ends while reading the value of key 'x.count': need 8 bytes, 5 remain (at offset 43)",
        "truncated-kv-string.gguf": "the value of key 'general.name' has length 12 but only 8 bytes remain (at offset 48)",
        "truncated-array.gguf": "array 'x.ids' has 10 elements of UINT32 but only 32 bytes remain (at offset 45)",
        "truncated-array-strings.gguf": "element 2 of array 'tokenizer.ggml.tokens' has length 3 but only 1 bytes remain (at offset 88)",
        "truncated-tensor-name.gguf": "the name of tensor 0 has length 19 but only 6 bytes remain (at offset 24)",
        "truncated-tensor-dims.gguf": "file ends while reading dimension 1 of tensor 't': need 8 bytes, 4 remain (at offset 45)",
        "truncated-tensor-type.gguf": "file ends while reading the type of tensor 't': need 4 bytes, 2 remain (at offset 45)",
        "truncated-tensor-offset.gguf": "file ends while reading the data offset of tensor 't': need 8 bytes, 4 remain (at offset 49)",
        "truncated-padding.gguf": "file ends in the padding before the data section (data would start at 64, file has 57 bytes) (at offset 57)",
        "truncated-data.gguf": "tensor 'blk.0.ffn_down.weight' needs 288 bytes at data offset 1600, only 188 remain in the file (at offset 2592)",
        "huge-tensor-count.gguf": "tensor count 1099511627776 is impossible for a file of 24 bytes (at offset 8)",
        "huge-kv-count.gguf": "key-value count 9223372036854775807 is impossible for a file of 24 bytes (at offset 16)",
        "huge-string-length.gguf": "key 0 has length 1099511627776, more than the 1 GiB limit (at offset 24)",
        "huge-array-length.gguf": "array 'x.a' has 1099511627776 elements, more than the limit of 1073741824 (at offset 43)",
        "array-longer-than-file.gguf": "array 'x.a' has 536870912 elements of UINT64 but only 16 bytes remain (at offset 43)",
        "overlapping-tensors.gguf": "tensor 'b' has offset 0, expected 32",
        "misaligned-offset.gguf": "tensor 'b' has offset 16, expected 32",
        "offset-past-eof.gguf": "tensor 't' has offset 1099511627776, expected 0",
        "offset-beyond-int.gguf": "tensor 't' has offset 18446744073709551600, beyond any file (at offset 49)",
        "tensor-past-eof.gguf": "tensor 't' needs 4096 bytes at data offset 0, only 64 remain in the file (at offset 64)",
        "partial-block.gguf": "tensor 't' of type Q4_0 has 33 elements per row, not a multiple of the block size 32 (at offset 53)",
        "unknown-value-type.gguf": "key 'x.k' has invalid value type 13 (at offset 35)",
        "unknown-tensor-type.gguf": "tensor 't' has unknown ggml type 99 (at offset 45)",
        "removed-tensor-type.gguf": "tensor 't' has unknown ggml type 4 (at offset 45)",
        "nested-array.gguf": "array 'x.a' contains arrays: nested arrays are not supported (at offset 39)",
        "duplicate-key.gguf": "duplicate key 'general.name' (at offset 57)",
        "duplicate-tensor.gguf": "duplicate tensor name 'w' for tensors 0 and 1 (at offset 57)",
        "empty-key.gguf": "key 0 is empty (at offset 24)",
        "non-utf8-key.gguf": "key 0 is not valid UTF-8 (at offset 32)",
        "non-utf8-value.gguf": "the value of key 'general.name' is not valid UTF-8 (at offset 56)",
        "non-utf8-array-string.gguf": "element 1 of array 'tokenizer.ggml.tokens' is not valid UTF-8 (at offset 87)",
        "non-utf8-tensor-name.gguf": "the name of tensor 0 is not valid UTF-8 (at offset 32)",
        "too-many-dims.gguf": "tensor 't' has 5 dimensions, at most 4 (at offset 33)",
        "negative-dim.gguf": "tensor 't' dimension 1 has -2 elements, expected >= 0 (at offset 45)",
        "element-overflow.gguf": "tensor 't' has too many elements: shape [4294967296, 4294967296] overflows (at offset 45)",
        "byte-size-overflow.gguf": "tensor 't' byte size overflows for shape [2305843009213693952, 2] (at offset 33)",
        "name-too-long.gguf": "tensor name '\(String(repeating: "n", count: 64))' is too long: 64 bytes, at most 63 (at offset 24)",
        "bad-alignment.gguf": "alignment 48 is not a power of 2",
        "alignment-wrong-type.gguf": "key 'general.alignment' has type UINT64, expected UINT32",
        "nan-inf-weights.gguf": "",
        "canonical-twins.gguf": "",
        // Fuzzer finds (found/NOTES.tsv).
        "zero-dim-hides-row-overflow.gguf": "tensor '\u{0}' has too many elements: shape [0, 5136078298085851764, 4785074604295765] overflows (at offset 53)",
    ]

    /// Every GGUF file of the corpus: the generated ones and the fuzzer finds.
    static var files: [String] {
        let gen = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).map { folder.appendingPathComponent($0).path }
        let finds = ((try? FileManager.default.contentsOfDirectory(atPath: found.path)) ?? [])
            .filter { $0.hasSuffix(".gguf") }.map { found.appendingPathComponent($0).path }
        return (gen + finds).sorted()
    }
}

@Suite("Malformed corpus: GGUF files are refused with the exact error")
struct GGUFCorpusTests {
    @Test("the corpus has every file the expectations name, and nothing unchecked")
    func complete() {
        let names = Set(GGUFCorpus.files.map { ($0 as NSString).lastPathComponent })
        #expect(names.isSuperset(of: GGUFCorpus.expected.keys), "missing: \(Set(GGUFCorpus.expected.keys).subtracting(names).sorted())")
        let unchecked = names.subtracting(GGUFCorpus.expected.keys).sorted()
        #expect(unchecked.isEmpty, "files without an expected message: \(unchecked)")
        #expect(GGUFCorpus.expected.count >= 40)
    }

    @Test("each file gives its message, naming the file", arguments: GGUFCorpus.expected.keys.sorted())
    func refused(_ name: String) throws {
        let path = GGUFCorpus.files.first { ($0 as NSString).lastPathComponent == name } ?? name
        let expected = try #require(GGUFCorpus.expected[name])
        do {
            let f = try GGUFFile(path: path)
            #expect(expected.isEmpty, "\(name) was accepted (\(f.tensors.count) tensors)")
        } catch {
            #expect(error.description == "\(path): \(expected)")
        }
    }

    @Test("the in-memory parser gives the same error as the file reader for every corpus file")
    func parserAgrees() throws {
        for path in GGUFCorpus.files {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let viaParser: String? = data.withUnsafeBytes { b in
                do throws(GGUFError) { _ = try GGUFParser.parse(b, file: path); return nil } catch { return error.description }
            }
            let viaFile: String? = { () -> String? in
                do throws(GGUFError) { _ = try GGUFFile(path: path); return nil } catch { return error.description }
            }()
            #expect(viaParser == viaFile, "\(path)")
        }
    }

    @Test("keys and tensor names are compared by bytes, as ggml does: canonically equivalent names stay distinct")
    func canonicalTwins() throws {
        let f = try GGUFFile(path: GGUFCorpus.folder.appendingPathComponent("canonical-twins.gguf").path)
        #expect(f.metadata["x.caf\u{E9}"]?.intValue == 1)
        #expect(f.metadata["x.cafe\u{301}"]?.intValue == 2)
        let a = try #require(f.tensor(named: "w.\u{E9}"))
        let b = try #require(f.tensor(named: "w.e\u{301}"))
        #expect(a.offset == 0 && b.offset == 32)
        #expect(a.name.utf8.count == 4 && b.name.utf8.count == 5)
    }

    @Test("NaN and ±Inf weights are read as they are (refusing them is the quantizer's job)")
    func nanWeights() throws {
        let f = try GGUFFile(path: GGUFCorpus.folder.appendingPathComponent("nan-inf-weights.gguf").path)
        let t = try #require(f.tensor(named: "blk.0.attn_q.weight"))
        let v = f.data(t).withMemoryRebound(to: Float.self) { Array($0) }
        #expect(v[0] == 1 && v[1].isNaN && v[2] == .infinity && v[3] == -.infinity)
    }
}
