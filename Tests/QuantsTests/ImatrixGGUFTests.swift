import Testing
import Foundation
import TestSupport
import GGUF
@testable import Quants

/// The GGUF importance matrix of b10572's llama-imatrix (Fixtures/reference-b10572/imatrix, see its
/// README): `llama-imatrix -m smollm2-f32.gguf -f /work/shared/data/wikitext-2-raw/wiki.calib.raw
/// --chunks 4 -c 512 -t 2 -o imatrix.gguf`.
@Suite("importance matrix (GGUF)")
struct ImatrixGGUFTests {
    static let fixture = TestPaths.fixtures.appendingPathComponent("reference-b10572/imatrix/smollm2-calib4.imatrix.gguf")
    static let calib = "/work/shared/data/wikitext-2-raw/wiki.calib.raw"

    @Test("llama-imatrix's GGUF file reads, and writes back byte for byte")
    func reference() throws {
        let s = try ImportanceStatistics(path: Self.fixture.path)
        #expect(s.entries.count == 210)
        #expect(s.datasets == [Self.calib])
        #expect(s.chunkCount == 4 && s.chunkSize == 512)
        #expect(s.entries.allSatisfy { $0.counts == [2048] })
        #expect(s.entries.first?.name == "blk.0.attn_k.weight")
        #expect(Set(s.entries.map(\.sums.count)) == [576, 1536])
        // Names in byte order, as std::sort leaves them (blk.1 < blk.10 < blk.2).
        #expect(s.entries.map(\.name) == s.entries.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        let tmp = TemporaryDirectory("imatrix-gguf")
        try s.write(to: tmp.file("out.gguf"), replace: false)
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("out.gguf"))) == Data(contentsOf: Self.fixture))
        let f = try GGUFFile(path: Self.fixture.path)
        #expect(f.metadata.keys == ["general.type", "imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"])
        #expect(f.tensors.prefix(2).map(\.name) == ["blk.0.attn_k.weight.in_sum2", "blk.0.attn_k.weight.counts"])
        #expect(f.tensors.prefix(2).map(\.shape) == [[576], [1]])
        #expect(f.tensors.allSatisfy { $0.type == .f32 })
    }

    @Test("importances are the sums over the token count; llama-quantize's metadata (UINT32 counts)")
    func importancesAndMetadata() throws {
        let file = try ImportanceMatrixFile(path: Self.fixture.path)
        #expect(!file.isLegacy && file.entryCount == 210 && file.chunkCount == 4 && file.datasets == [Self.calib])
        guard case .gguf(let s) = file else { Issue.record("not read as GGUF"); return }
        let e = try #require(s.entry(named: "blk.3.ffn_down.weight"))
        let imp = try #require(file.importances()["blk.3.ffn_down.weight"])
        #expect(imp.count == 1536)
        #expect(imp.map(\.bitPattern) == e.sums.map { ($0 / Float(2048)).bitPattern })
        #expect(file.importances(include: ["attn_v"]).count == 30)
        #expect(file.importances(exclude: ["ffn"]).count == 120)
        let md = file.metadata(fileArgument: "imatrix.gguf", entryCount: 210)
        #expect(md.map(\.key) == [GGUFKey.Quantize.imatrixFile, GGUFKey.Quantize.imatrixDataset,
                                  GGUFKey.Quantize.imatrixEntriesCount, GGUFKey.Quantize.imatrixChunksCount])
        #expect(md.map(\.value) == [.string("imatrix.gguf"), .string(Self.calib), .uint32(210), .uint32(4)])
    }

    @Test("merged experts: [columns, experts] sums, [1, experts] counts, 1 for an expert without tokens")
    func experts() throws {
        let e = ImportanceStatistics.Entry(name: "blk.0.ffn_up_exps.weight", sums: [1, 2, 3, 4, 5, 6], counts: [4, 0, 2])
        let d = ImportanceStatistics.Entry(name: "blk.0.attn_q.weight", sums: [8, 8], counts: [2])
        let s = ImportanceStatistics(entries: [e, d], datasets: ["a.txt", "b.txt"], chunkCount: 3, chunkSize: 2)
        #expect(s.entries.map(\.name) == ["blk.0.attn_q.weight", "blk.0.ffn_up_exps.weight"])
        #expect(s.layout.tensors.map(\.shape) == [[2], [1], [2, 3], [1, 3]])
        let tmp = TemporaryDirectory("imatrix-moe")
        try s.write(to: tmp.file("m.gguf"), replace: false)
        let back = try ImportanceStatistics(path: tmp.file("m.gguf"))
        #expect(back == s)
        #expect(back.importances()["blk.0.ffn_up_exps.weight"] == [0.25, 0.5, 1, 1, 2.5, 3])
        #expect(back.metadata(fileArgument: "m", entryCount: 2)[1].value == .string("a.txt"))
        // The legacy form: ncall = ceil(4 / 2), an expert without tokens stored as 1 · ncall.
        let legacy = back.legacy(chunkSize: 2, dataset: nil)
        #expect(legacy.dataset == "b.txt" && legacy.chunkCount == 3)
        #expect(legacy.entries[1].callCount == 2)
        #expect(legacy.entries[1].values == [0.5, 1, 2, 2, 5, 6])
        // Merging a single count into experts spreads it; sizes must agree.
        var m = ImportanceStatistics.empty(chunkSize: 2)
        try m.merge(ImportanceStatistics(entries: [.init(name: "blk.0.ffn_up_exps.weight", sums: [1, 1, 1, 1, 1, 1], counts: [1])],
                                         datasets: [], chunkCount: 0, chunkSize: 2), file: "x")
        try m.merge(back, file: "y")
        #expect(m.entry(named: "blk.0.ffn_up_exps.weight")?.counts == [5, 1, 3])
        #expect(m.chunkCount == 5 / 2)
        #expect(m.datasets == ["a.txt", "b.txt"])
        var bad = ImportanceStatistics.empty(chunkSize: 2)
        try bad.merge(ImportanceStatistics(entries: [.init(name: "blk.0.attn_q.weight", sums: [1, 1, 1], counts: [1])],
                                           datasets: [], chunkCount: 0, chunkSize: 2), file: "x")
        #expect(throws: QuantizeError.self) { try bad.merge(back, file: "y.gguf") }
    }

    /// A GGUF file from raw pieces, written with our writer.
    static func write(_ path: String, keys: [(String, GGUFValue)]? = nil, tensors: [(String, [Int], GGMLType, [Float])]) throws {
        var md = GGUFMetadata()
        for (k, v) in keys ?? [("general.type", .string("imatrix")), ("imatrix.datasets", .array(.string(["d"]))),
                               ("imatrix.chunk_count", .uint32(1)), ("imatrix.chunk_size", .uint32(512))] {
            md.set(k, v)
        }
        let w = try GGUFWriter(path: path, metadata: md, tensors: tensors.map { GGUFTensorInfo(name: $0.0, shape: $0.1, type: $0.2) })
        for t in tensors {
            if t.2 == .f32 {
                try t.3.withUnsafeBytes { try w.writeTensor($0) }
            } else {
                let n = w.nextTensor?.byteCount ?? 0
                try [UInt8](repeating: 0, count: n).withUnsafeBytes { try w.writeTensor($0) }
            }
        }
        try w.finish(replace: true)
    }

    static func error(_ path: String) -> String? {
        do throws(QuantizeError) { _ = try ImportanceMatrixFile(path: path); return nil } catch { return error.description }
    }

    @Test("bad GGUF imatrices: the error names the file and the tensor")
    func badFiles() throws {
        let tmp = TemporaryDirectory("imatrix-gguf-bad")
        let p = tmp.file("bad.gguf")
        let sums = [Float](repeating: 1, count: 4)
        try Self.write(p, tensors: [("blk.0.attn_q.weight.in_sum2", [4], .f32, sums)])
        var e = Self.error(p)
        #expect(e?.contains(p) == true && e?.contains("blk.0.attn_q.weight.counts") == true, "\(e ?? "no error")")
        try Self.write(p, tensors: [("blk.0.attn_q.weight.counts", [1], .f32, [3])])
        e = Self.error(p)
        #expect(e?.contains(p) == true && e?.contains("blk.0.attn_q.weight.in_sum2") == true, "\(e ?? "no error")")
        try Self.write(p, tensors: [("blk.0.attn_q.weight.in_sum2", [32], .f16, []), ("blk.0.attn_q.weight.counts", [1], .f32, [3])])
        e = Self.error(p)
        #expect(e?.contains("blk.0.attn_q.weight.in_sum2") == true && e?.contains("F32") == true, "\(e ?? "no error")")
        try Self.write(p, tensors: [("blk.0.attn_q.weight.in_sum2", [4], .f32, sums), ("blk.0.attn_q.weight.counts", [1, 3], .f32, [3, 3, 3])])
        e = Self.error(p)
        #expect(e?.contains("blk.0.attn_q.weight") == true && e?.contains("4 values for 3 counts") == true, "\(e ?? "no error")")
        try Self.write(p, tensors: [("blk.0.attn_q.weight.in_sum2", [4], .f32, sums), ("blk.0.attn_q.weight.counts", [1], .f32, [-3])])
        e = Self.error(p)
        #expect(e?.contains("count 0 of 'blk.0.attn_q.weight.counts'") == true, "\(e ?? "no error")")
        try Self.write(p, tensors: [("blk.0.attn_q.weight.in_sum2", [4], .f32, [1, .nan, 1, 1]), ("blk.0.attn_q.weight.counts", [1], .f32, [3])])
        e = Self.error(p)
        #expect(e?.contains("value 1 of 'blk.0.attn_q.weight.in_sum2'") == true, "\(e ?? "no error")")
        let good: [(String, [Int], GGMLType, [Float])] = [("blk.0.attn_q.weight.in_sum2", [4], .f32, sums), ("blk.0.attn_q.weight.counts", [1], .f32, [3])]
        try Self.write(p, keys: [("general.type", .string("imatrix"))], tensors: good)
        e = Self.error(p)
        #expect(e?.contains("missing imatrix metadata") == true && e?.contains(p) == true, "\(e ?? "no error")")
        try Self.write(p, keys: [("imatrix.datasets", .array(.string([]))), ("imatrix.chunk_count", .int32(1)), ("imatrix.chunk_size", .uint32(512))],
                       tensors: good)
        e = Self.error(p)
        #expect(e?.contains("'imatrix.chunk_count' is INT32, expected UINT32") == true, "\(e ?? "no error")")
        try Self.write(p, tensors: [])
        e = Self.error(p)
        #expect(e?.contains("no tensors") == true, "\(e ?? "no error")")
        // Cut off inside the tensor data: the GGUF reader refuses it, naming the file.
        try Self.write(p, tensors: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: p))
        try bytes.prefix(bytes.count - 40).write(to: URL(fileURLWithPath: p))
        e = Self.error(p)
        #expect(e?.contains(p) == true, "\(e ?? "no error")")
        // A good one reads; a legacy file is told apart by its first bytes.
        try Self.write(p, tensors: good)
        #expect(Self.error(p) == nil)
        let legacy = ImportanceMatrix(entries: [.init(name: "blk.0.attn_q.weight", callCount: 1, values: sums)], chunkCount: 1, dataset: "d")
        try legacy.write(to: tmp.file("l.dat"), replace: false)
        #expect(try ImportanceMatrixFile(path: tmp.file("l.dat")) == .legacy(legacy))
    }
}
