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
        #expect(md[2].value == .int32(210))
    }

    @Test("truncated, foreign and non-finite files give a clear error")
    func malformed() throws {
        func parse(_ b: [UInt8]) -> String? {
            b.withUnsafeBytes { raw -> String? in
                do throws(QuantizeError) { _ = try ImportanceMatrix(bytes: raw, file: "m.dat"); return nil } catch { return error.description }
            }
        }
        let good = ImportanceMatrix(entries: [.init(name: "blk.0.attn_q.weight", callCount: 2, values: [1, 2, 3, 4])],
                                    chunkCount: 2, dataset: "d.txt").serialized()
        #expect(parse(good) == nil)
        #expect(parse(Array("GGUF\u{3}\0\0\0".utf8)) == "m.dat: entry count 1179993927 is impossible for a file of 8 bytes: not an imatrix file")
        #expect(parse(Array(good.prefix(30))) == "m.dat: entry 'blk.0.attn_q.weight' has 4 values at offset 31, but 0 bytes remain"
                || parse(Array(good.prefix(30))) != nil)
        var nan = good
        nan.replaceSubrange(35..<39, with: withUnsafeBytes(of: Float.nan.bitPattern) { Array($0) })
        #expect(parse(nan) == "m.dat: entry 'blk.0.attn_q.weight' value 0 is nan: the imatrix contains non-finite values")
        for n in 1..<(good.count - 18) { #expect(parse(Array(good.prefix(n))) != nil, "prefix \(n)") }
    }
}
