import Evaluation
import Quants
import Testing

@Suite("imatrix: expert products (llama-imatrix b10572's MUL_MAT_ID rules)")
struct MoEImatrixTests {
    @Test("per-expert sums and row counts; ncall from the largest count; unrouted experts stored as ncall")
    func expertEntry() throws {
        let c = ImportanceCollector()
        c.chunkTokens = 2
        // Three rows routed to expert 1 of 3 (slots token·2 + k): token 0 choice 1, token 1 choice 0,
        // token 2 choice 1. Fewer than 16 rows still count.
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        let slots: [Int32] = [1, 2, 5]
        x.withUnsafeBufferPointer { xb in
            slots.withUnsafeBufferPointer { sb in
                c.observeExperts("blk.0.ffn_up_exps.weight", expert: 1, experts: 3, xb, rows: 3, columns: 2, slots: sb, used: 2)
            }
        }
        let m = c.matrix(dataset: nil)
        let e = try #require(m.entries.first { $0.name == "blk.0.ffn_up_exps.weight" })
        #expect(e.callCount == 2)   // ⌈3 rows / 2 tokens per chunk⌉
        let a: Float = (35 / 3) * 2, b: Float = (56 / 3) * 2
        let expected: [Float] = [2, 2, a, b, 2, 2]
        #expect(e.values == expected)
    }
}
