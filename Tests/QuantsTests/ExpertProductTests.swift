import Foundation
import GGUF
import Testing
@testable import Quants

@Suite("Kernels: expert products in the order of b10572's mul_mat_id (repacked Q4_K in GEMV order)")
struct ExpertProductTests {
    /// `mmid TYPE T N K E U [repack]` (/work/oracle/moe-helper/mmid.cpp, not in the repo): llama.cpp
    /// b10572's CPU backend (AVX2 build, GGML_NATIVE=OFF), a stacked `[K, N, E]` weight tensor in the
    /// CPU_REPACK buffer (or, with repack 0, the plain CPU buffer: types or shapes ggml does not
    /// repack), one `ggml_mul_mat_id` of T tokens choosing U experts each, token t's u-th choice
    /// being expert (7t + u) mod E, with 2 threads; the digest of its `[N, U, T]` output. Inputs as
    /// `LaneGEMMRepackTests.harnessInputs` (E·N weight rows, then T activation rows).
    static let oracle: [(GGMLType, Int, Int, Int, Int, Int, UInt64)] = [
        (.q4_K, 9, 16, 512, 4, 2, 0xbfe9_7e1e_8511_91e2),
        (.q4_K, 37, 40, 256, 4, 2, 0xd082_02c7_cdda_ae66),
        (.iq4_NL, 9, 16, 256, 4, 2, 0x456b_8a59_2571_9cb3),
        (.mxfp4, 21, 24, 128, 4, 2, 0x2344_d6ec_9c0f_a924),
        (.q4_0, 21, 16, 256, 4, 2, 0x8745_9abc_0118_969d),
        // Not repacked (12 rows; Q6_K on x86): ggml-cpu.c's mul_mat_id, one vec_dot per row.
        (.q4_K, 30, 12, 256, 3, 2, 0x9d42_4668_93b0_3a9c),
        (.q6_K, 13, 24, 256, 4, 2, 0xaefe_80a1_b780_f63e),
    ]

    /// The outputs `[t][u][n]` of the routed product, each expert's rows gathered and multiplied by
    /// `product` (rows `k` apart in, `n` apart out).
    static func routed(_ type: GGMLType, tokens t: Int, n: Int, k: Int, experts e: Int, used u: Int,
                       _ product: (UnsafePointer<Float>, Int, WeightMatrix, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        let (a, wq) = LaneGEMMRepackTests.harnessInputs(type, m: t, n: n * e, k: k)
        // harnessInputs draws the n·e weight rows first, then the t activation rows: the harness's order.
        let rowBytes = type.rowSize(k)!
        var out = [Float](repeating: .nan, count: t * u * n)
        wq.withUnsafeBytes { wb in
            for x in 0..<e {
                var slots: [Int] = []
                for tok in 0..<t { for j in 0..<u where (7 * tok + j) % e == x { slots.append(tok * u + j) } }
                guard !slots.isEmpty else { continue }
                var g = [Float](repeating: 0, count: slots.count * k)
                for (i, s) in slots.enumerated() { for c in 0..<k { g[i * k + c] = a[(s / u) * k + c] } }
                var y = [Float](repeating: .nan, count: slots.count * n)
                let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress! + x * n * rowBytes)
                g.withUnsafeBufferPointer { gp in
                    y.withUnsafeMutableBufferPointer { yp in product(gp.baseAddress!, slots.count, w, yp.baseAddress!) }
                }
                for (i, s) in slots.enumerated() { for j in 0..<n { out[s * n + j] = y[i * n + j] } }
            }
        }
        return out
    }

    @Test("the expert product and its twin give b10572's mul_mat_id outputs bit for bit", arguments: oracle.indices)
    func oracleDigests(_ index: Int) {
        let (type, t, n, k, e, u, expected) = Self.oracle[index]
        let ws = MatMulWorkspace()
        let fast = Self.routed(type, tokens: t, n: n, k: k, experts: e, used: u) { a, m, w, c in
            MatMul.linearExpert(a, lda: k, rows: m, weights: w, into: c, ldc: n, threads: 2, workspace: ws)
        }
        let ref = Self.routed(type, tokens: t, n: n, k: k, experts: e, used: u) { a, m, w, c in
            MatMul.linearExpertReference(a, lda: k, rows: m, weights: w, into: c, ldc: n)
        }
        #expect(LaneGEMMRepackTests.fnv(fast) == expected, "\(type) fast")
        #expect(LaneGEMMRepackTests.fnv(ref) == expected, "\(type) reference")
    }

    @Test("repacked Q4_K experts: every row in the GEMV order, so rows do not depend on their neighbours")
    func rowIndependence() {
        let (a, wq) = LaneGEMMRepackTests.harnessInputs(.q4_K, m: 13, n: 32, k: 512)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: .q4_K, rows: 32, columns: 512, data: wb.baseAddress!)
            #expect(LaneGEMM.expertNeedsGEMV(w))
            var all = [Float](repeating: .nan, count: 13 * 32)
            MatMul.linearExpert(a, lda: 512, rows: 13, weights: w, into: &all, ldc: 32, threads: 2, workspace: MatMulWorkspace())
            var one = [Float](repeating: .nan, count: 32)
            for r in 0..<13 {
                a.withUnsafeBufferPointer { ap in
                    MatMul.linearExpert(ap.baseAddress! + r * 512, lda: 512, rows: 1, weights: w, into: &one, ldc: 32,
                                        threads: 1, workspace: MatMulWorkspace())
                }
                #expect(Array(all[(r * 32)..<(r * 32 + 32)]).map(\.bitPattern) == one.map(\.bitPattern), "row \(r)")
            }
            // The 2-D product of the same rows takes the GEMM order for the first 12: some output differs.
            var gemm = [Float](repeating: .nan, count: 13 * 32)
            MatMul.linear(a, lda: 512, rows: 13, weights: w, into: &gemm, ldc: 32, threads: 2, workspace: MatMulWorkspace())
            #expect(gemm.map(\.bitPattern) != all.map(\.bitPattern))
            #expect(Array(gemm[(12 * 32)...]).map(\.bitPattern) == Array(all[(12 * 32)...]).map(\.bitPattern))
        }
    }

    @Test("repacked Q4_K experts: the integer kernels (VNNI) give the float kernels' bits for 1…26 rows")
    func integerMatchesFloat() {
        let (a, wq) = LaneGEMMRepackTests.harnessInputs(.q4_K, m: 26, n: 40, k: 512)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: .q4_K, rows: 40, columns: 512, data: wb.baseAddress!)
            a.withUnsafeBufferPointer { ap in
                for m in 1...26 {
                    var viaInt = [Float](repeating: .nan, count: m * 40), viaFloat = viaInt
                    LaneGEMM.linearExpertGEMV(ap.baseAddress!, lda: 512, rows: m, weights: w, into: &viaInt, ldc: 40,
                                              threads: 2, workspace: LaneWorkspace(), reuseActivations: false)
                    LaneGEMM.linearExpertGEMV(ap.baseAddress!, lda: 512, rows: m, weights: w, into: &viaFloat, ldc: 40,
                                              threads: 2, workspace: LaneWorkspace(), reuseActivations: false,
                                              allowInteger: false)
                    #expect(viaInt.map(\.bitPattern) == viaFloat.map(\.bitPattern), "\(m) rows")
                }
            }
        }
    }
}
