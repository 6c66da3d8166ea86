import Testing
import Foundation
import TestSupport
import GGUF
@testable import Quants

@Suite("importance matrix (legacy .dat)")
struct ImportanceMatrixTests {
    @Test("llama-imatrix's file reads, and writes back byte for byte", .golden)
    func reference() throws {
        let url = try Golden.require(shared: "reference/imatrix/imatrix.dat")
        let m = try ImportanceMatrix(path: url.path)
        #expect(m.entries.count == 210)
        #expect(m.chunkCount == 168)
        #expect(m.dataset == "wiki.calib.raw")
        #expect(m.entries[0].name == "blk.29.ffn_up.weight")
        #expect(m.entries[0].callCount == 168)
        #expect(m.entries[0].values.count == 576)
        let original = try [UInt8](Data(contentsOf: url))
        #expect(m.serialized() == original)
        let imp = m.importances()
        #expect(imp.count == 210)
        #expect(imp["blk.29.ffn_up.weight"]?[0] == m.entries[0].values[0] / 168)
        #expect(m.importances(include: ["attn_v"]).count == 30)
        #expect(m.importances(exclude: ["ffn"]).count == 120)
        let md = m.metadata(fileArgument: "imatrix.dat", entryCount: imp.count)
        #expect(md.map(\.key) == [GGUFKey.Quantize.imatrixFile, GGUFKey.Quantize.imatrixDataset,
                                  GGUFKey.Quantize.imatrixEntriesCount, GGUFKey.Quantize.imatrixChunksCount])
        #expect(md[2].value == .uint32(210))
    }

    static func parse(_ b: [UInt8], file: String = "m.dat") -> String? {
        b.withUnsafeBytes { raw -> String? in
            do throws(QuantizeError) { _ = try ImportanceMatrix(bytes: raw, file: file); return nil } catch { return error.description }
        }
    }

    /// A file from raw fields: the entry count, then per entry (name bytes, ncall, nval, values), then the trailer.
    static func file(count: Int32? = nil, _ entries: [([UInt8], Int32, Int32, [Float])], chunks: Int32? = nil,
                     datasetLength: Int32? = nil, dataset: [UInt8] = []) -> [UInt8] {
        var b: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        put(count ?? Int32(entries.count))
        for (name, ncall, nval, values) in entries {
            put(Int32(name.count)); b += name; put(ncall); put(nval)
            for v in values { put(v.bitPattern) }
        }
        if let chunks {
            put(chunks); put(datasetLength ?? Int32(dataset.count)); b += dataset
        }
        return b
    }

    static let good = ImportanceMatrix(entries: [.init(name: "blk.0.attn_q.weight", callCount: 2, values: [1, 2, 3, 4])],
                                       chunkCount: 2, dataset: "d.txt").serialized()

    @Test("truncated, foreign and non-finite files give a clear error")
    func malformed() throws {
        let parse = { (b: [UInt8]) in Self.parse(b) }
        let good = Self.good
        #expect(parse(good) == nil)
        #expect(parse(Array("GGUF\u{3}\0\0\0".utf8)) == "m.dat: the entry count at offset 0 is 1179993927, expected at least 1, "
                + "but a file of 8 bytes has no room for an entry (at least 16 bytes per entry): not an imatrix file?")
        #expect(parse(Array(good.prefix(30))) == "m.dat: the call count (ncall) of entry 0 'blk.0.attn_q.weight' at offset 27 "
                + "is cut off: the file has only 30 bytes, expected at least 31")
        var nan = good
        nan.replaceSubrange(35..<39, with: withUnsafeBytes(of: Float.nan.bitPattern) { Array($0) })
        #expect(parse(nan) == "m.dat: value 0 of entry 0 'blk.0.attn_q.weight' at offset 35 is nan: the imatrix contains non-finite values")
    }

    @Test("truncation at every offset is refused naming the file, except right after the last entry (an old file)")
    func truncation() throws {
        let two = ImportanceMatrix(entries: [.init(name: "blk.0.attn_q.weight", callCount: 2, values: [1, 2, 3, 4]),
                                             .init(name: "output.weight", callCount: 0, values: [0.5, 0.25])],
                                   chunkCount: 7, dataset: "wiki.calib.raw")
        let bytes = two.serialized()
        let entriesEnd = bytes.count - 8 - 14
        for n in 0..<bytes.count {
            let e = Self.parse(Array(bytes.prefix(n)))
            if n == entriesEnd {
                #expect(e == nil, "prefix \(n)")
            } else {
                #expect(e?.hasPrefix("m.dat: ") == true, "prefix \(n) of \(bytes.count): \(e ?? "parsed")")
                #expect(e?.contains("offset") == true, "prefix \(n): \(e ?? "parsed")")
            }
        }
        let old = try Array(bytes.prefix(entriesEnd)).withUnsafeBytes { try ImportanceMatrix(bytes: $0, file: "m.dat") }
        #expect(old.entries == two.entries && old.chunkCount == nil && old.dataset == nil)
        let back = try bytes.withUnsafeBytes { try ImportanceMatrix(bytes: $0, file: "m.dat") }
        #expect(back == two)
        // Trailing bytes after the dataset name are ignored, as llama-quantize does.
        #expect(Self.parse(bytes + [1, 2, 3]) == nil)
    }

    @Test("each field hostile in turn: the error names the entry and the field")
    func hostileFields() {
        let name = Array("blk.0.ffn_up.weight".utf8)
        let ok: ([UInt8], Int32, Int32, [Float]) = (name, 3, 2, [1, 2])
        let cases: [([UInt8], String)] = [
            (Self.file(count: 0, [ok]), "the entry count at offset 0 is 0, expected 1 ... 2 for a file of 43 bytes (at least 16 bytes per entry): not an imatrix file?"),
            (Self.file(count: -1, [ok]), "the entry count at offset 0 is -1, expected 1 ... 2 for a file of 43 bytes (at least 16 bytes per entry): not an imatrix file?"),
            (Self.file(count: .max, [ok]), "the entry count at offset 0 is 2147483647, expected 1 ... 2 for a file of 43 bytes (at least 16 bytes per entry): not an imatrix file?"),
            (Self.file(count: 2, [ok]), "the name length of entry 1 at offset 43 is cut off: the file has only 43 bytes, expected at least 47"),
            (Self.file(count: 2, [ok, ok]), "entry 1 'blk.0.ffn_up.weight' at offset 43 repeats an earlier entry's name"),
            (Self.file([([0xC0, 0xAF], 1, 1, [1])]), "the name of entry 0 at offset 8 is not valid UTF-8"),
            (Self.file([(name, -1, 2, [1, 2])]), "the call count (ncall) of entry 0 'blk.0.ffn_up.weight' at offset 27 is -1, expected at least 0"),
            (Self.file([(name, 3, 0, [1, 2])]), "the value count (nval) of entry 0 'blk.0.ffn_up.weight' at offset 31 is 0, expected 1 ... 2 (8 bytes remain for its f32 values)"),
            (Self.file([(name, 3, -2, [1, 2])]), "the value count (nval) of entry 0 'blk.0.ffn_up.weight' at offset 31 is -2, expected 1 ... 2 (8 bytes remain for its f32 values)"),
            (Self.file([(name, 3, 3, [1, 2])]), "the value count (nval) of entry 0 'blk.0.ffn_up.weight' at offset 31 is 3, expected 1 ... 2 (8 bytes remain for its f32 values)"),
            (Self.file([(name, 3, .max, [1, 2])]), "the value count (nval) of entry 0 'blk.0.ffn_up.weight' at offset 31 is 2147483647, expected 1 ... 2 (8 bytes remain for its f32 values)"),
            (Self.file([(name, 3, 2, [1, -.infinity])]), "value 1 of entry 0 'blk.0.ffn_up.weight' at offset 39 is -inf: the imatrix contains non-finite values"),
            (Self.file([ok], chunks: -1), "the chunk count at offset 43 is -1, expected at least 0"),
            (Self.file([ok], chunks: 1, datasetLength: -1), "the dataset name length at offset 47 is -1, expected 0 ... 0 (the bytes that remain)"),
            (Self.file([ok], chunks: 1, datasetLength: .max, dataset: [65]), "the dataset name length at offset 47 is 2147483647, expected 0 ... 1 (the bytes that remain)"),
        ]
        for (bytes, message) in cases { #expect(Self.parse(bytes) == "m.dat: \(message)") }
        // Every name length from 0 up is accepted; beyond 4096 bytes it is refused even when the bytes are there.
        #expect(Self.parse(Self.file([([], 1, 1, [1])])) == nil)
        let long = [UInt8](repeating: 97, count: 4097)
        #expect(Self.parse(Self.file([(long, 1, 1, [1])])) == "m.dat: the name length of entry 0 at offset 4 is 4097, expected 0 ... 4096 (4109 bytes remain): truncated or not an imatrix file")
    }

    /// The error each file of Fixtures/malformed/imatrix gives (nil: it reads).
    static let corpus: [String: String?] = [
        "empty.dat": "the entry count at offset 0 is cut off: the file has only 0 bytes, expected at least 4",
        "gguf.dat": "the entry count at offset 0 is 1179993927, expected 1 ... 1 for a file of 24 bytes (at least 16 bytes per entry): not an imatrix file?",
        "truncated-count.dat": "the entry count at offset 0 is cut off: the file has only 2 bytes, expected at least 4",
        "zero-entries.dat": "the entry count at offset 0 is 0, expected 1 ... 1 for a file of 20 bytes (at least 16 bytes per entry): not an imatrix file?",
        "negative-entries.dat": "the entry count at offset 0 is -1, expected 1 ... 1 for a file of 20 bytes (at least 16 bytes per entry): not an imatrix file?",
        "huge-entries.dat": "the entry count at offset 0 is 2147483647, expected 1 ... 2 for a file of 51 bytes (at least 16 bytes per entry): not an imatrix file?",
        "negative-name-length.dat": "the name length of entry 0 at offset 4 is -5, expected 0 ... 16 (16 bytes remain): truncated or not an imatrix file",
        "huge-name-length.dat": "the name length of entry 0 at offset 4 is 2147483647, expected 0 ... 16 (16 bytes remain): truncated or not an imatrix file",
        "name-past-end.dat": "the name length of entry 0 at offset 4 is 30, expected 0 ... 23 (23 bytes remain): truncated or not an imatrix file",
        "non-utf8-name.dat": "the name of entry 0 at offset 8 is not valid UTF-8",
        "truncated-ncall.dat": "the call count (ncall) of entry 0 'blk.0.attn_q.weight' at offset 27 is cut off: the file has only 29 bytes, expected at least 31",
        "negative-ncall.dat": "the call count (ncall) of entry 0 'a' at offset 9 is -3, expected at least 0",
        "zero-nval.dat": "the value count (nval) of entry 0 'a' at offset 13 is 0, expected 1 ... 2 (8 bytes remain for its f32 values)",
        "negative-nval.dat": "the value count (nval) of entry 0 'a' at offset 13 is -4, expected 1 ... 4 (16 bytes remain for its f32 values)",
        "huge-nval.dat": "the value count (nval) of entry 0 'a' at offset 13 is 1073741824, expected 1 ... 4 (16 bytes remain for its f32 values)",
        "values-past-end.dat": "the value count (nval) of entry 0 'blk.0.attn_q.weight' at offset 31 is 4, expected 1 ... 1 (5 bytes remain for its f32 values)",
        "nan-value.dat": "value 1 of entry 0 'a' at offset 21 is nan: the imatrix contains non-finite values",
        "inf-value.dat": "value 0 of entry 0 'a' at offset 17 is inf: the imatrix contains non-finite values",
        "duplicate-name.dat": "entry 1 'a' at offset 21 repeats an earlier entry's name",
        "truncated-chunks.dat": "the chunk count at offset 51 is cut off: the file has only 54 bytes, expected at least 55",
        "negative-chunks.dat": "the chunk count at offset 51 is -2, expected at least 0",
        "truncated-dataset-length.dat": "the dataset name length at offset 55 is cut off: the file has only 57 bytes, expected at least 59",
        "negative-dataset-length.dat": "the dataset name length at offset 55 is -1, expected 0 ... 0 (the bytes that remain)",
        "dataset-past-end.dat": "the dataset name length at offset 55 is 5, expected 0 ... 4 (the bytes that remain)",
        "old-format.dat": nil,
    ]

    @Test("Fixtures/malformed/imatrix: every file gives its error through the mapped file, and every file is listed")
    func malformedCorpus() throws {
        let dir = TestPaths.fixtures.appendingPathComponent("malformed/imatrix")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(Set(names) == Set(Self.corpus.keys))
        for name in names {
            let path = dir.appendingPathComponent(name).path
            var got: String?
            do throws(QuantizeError) { _ = try ImportanceMatrix(path: path) } catch { got = error.description }
            #expect(got == Self.corpus[name].flatMap { $0.map { "\(path): \($0)" } }, "\(name)")
        }
    }
}
