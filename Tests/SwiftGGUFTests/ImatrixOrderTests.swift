import Testing
@testable import Evaluation

/// b10572's llama-imatrix runs 4 chunks per pass with one KV stream per chunk, and llama.cpp splits
/// such a pass into micro-batches of 512 / 4 = 128 tokens of every chunk in turn: the sums follow
/// that order (checked on SmolLM2's blk.0 attention inputs, whose 576 sums then equal llama-imatrix's
/// bit for bit; row after row, 22 of 576 do).
@Suite("imatrix row order")
struct ImatrixOrderTests {
    @Test("micro-batch order: a permutation, 128 tokens of each chunk in turn, a shorter last part")
    func order() {
        let o = RowOrder(rows: 2048, sequences: 4, microBatch: 512)
        #expect(Set((0..<2048).map(o.row)).count == 2048)
        #expect([0, 127, 128, 255, 256, 384, 511, 512, 2047].map(o.row) == [0, 127, 512, 639, 1024, 1536, 1663, 128, 2047])
        let tail = RowOrder(rows: 600, sequences: 2, microBatch: 512)
        #expect((0..<600).map(tail.row) == Array(0..<256) + Array(300..<556) + Array(256..<300) + Array(556..<600))
        #expect((0..<600).map(RowOrder(rows: 600, sequences: 2, microBatch: nil).row) == Array(0..<600))
        #expect((0..<512).map(RowOrder(rows: 512, sequences: 1, microBatch: 512).row) == Array(0..<512))
    }

    @Test("the collector adds the rows in that order")
    func collectorOrder() {
        // One column whose f32 sum depends on the order.
        let rows = 64, sequences = 2
        var x = [Float](repeating: 0, count: rows)
        for i in 0..<rows { x[i] = Float(i % 7) * 13.1 + 0.01 * Float(i) }
        func collect(_ microBatch: Int?) -> Float {
            let c = ImportanceCollector()
            c.callsPerPass = Int32(sequences)
            c.microBatch = microBatch
            x.withUnsafeBufferPointer { c.observe("blk.0.attn_q.weight", $0, rows: rows, columns: 1) }
            return c.stats["blk.0.attn_q.weight"]?.values[0] ?? .nan
        }
        func sum(_ order: [Int]) -> Float {
            var s: Float = 0
            for r in order { s = s + x[r] * x[r] }
            return s
        }
        let split = RowOrder(rows: rows, sequences: sequences, microBatch: 16)
        #expect(sum(Array(0..<rows)) != sum((0..<rows).map(split.row)))
        #expect(collect(nil).bitPattern == sum(Array(0..<rows)).bitPattern)
        #expect(collect(16).bitPattern == sum((0..<rows).map(split.row)).bitPattern)
        #expect(collect(16) != collect(nil))
    }
}
