import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

@Suite("Kernels: Q1_0 / Q2_0 / NVFP4 products in the order of b10572's x86 vec_dot (Q8_0 activations)")
struct LaneGEMMBitTests {
    static let types: [GGMLType] = [.q1_0, .q2_0, .nvfp4]

    /// `gemm TYPE M N K` (/work/oracle/harness/gemm.c, not in the repo): the inputs of
    /// `LaneGEMMRepackTests.harnessInputs`, the weights quantized by ggml's `ggml_quantize_chunk`,
    /// one `ggml_mul_mat` on llama.cpp b10572's CPU backend (AVX2 build, GGML_NATIVE=OFF) with 2
    /// threads; the FNV-1a digest of the output floats. (Its TQ2_0 7×16×512 digest is the one
    /// `LaneGEMMIQTests` holds.)
    static let oracle: [(GGMLType, Int, Int, Int, UInt64)] = [
        (.q2_0, 7, 16, 512, 0xe352_d9df_5770_0374),
        (.q2_0, 13, 24, 768, 0x1641_6ad8_068b_5d6c),
        (.q2_0, 1, 40, 384, 0x72d9_4819_567e_fbbf),
        (.q1_0, 7, 16, 512, 0x8b80_8d74_7c8c_ccf6),
        (.q1_0, 13, 24, 768, 0x2917_983d_2c00_d2a6),
        (.q1_0, 1, 40, 384, 0xd025_9c78_1043_457f),
        (.nvfp4, 7, 16, 512, 0x1c93_098b_8d02_11ad),
        (.nvfp4, 13, 24, 768, 0x3d5f_c09c_0c1a_b27a),
        (.nvfp4, 1, 40, 384, 0x60a0_fc0d_cd6e_17c2),
    ]

    @Test("the fast product and its twin give b10572's outputs bit for bit", arguments: oracle.indices)
    func oracleDigests(_ index: Int) {
        let (type, m, n, k, expected) = Self.oracle[index]
        let (a, wq) = LaneGEMMRepackTests.harnessInputs(type, m: m, n: n, k: k)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            #expect(LaneGEMM.layout(type)?.bits != nil && LaneGEMM.handles(w))
            var fast = [Float](repeating: .nan, count: m * n)
            var ref = fast
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: n, threads: 2, workspace: MatMulWorkspace())
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n)
            #expect(LaneGEMMRepackTests.fnv(fast) == expected, "\(type) \(m)×\(n)×\(k): fast")
            #expect(LaneGEMMRepackTests.fnv(ref) == expected, "\(type) \(m)×\(n)×\(k): reference")
        }
    }

    @Test("the packed, threaded product equals its twin bit for bit for every row count", arguments: types)
    func twin(_ type: GGMLType) {
        let n = 45, ldc = n + 3, k = 640
        let (_, wq) = LaneGEMMRepackTests.harnessInputs(type, m: 1, n: n, k: k)
        for m in [1, 2, 3, 5, 12, 13, 26] {
            var a = KernelMatMulTests.gaussian(m * k, seed: UInt64(270 + m))
            for i in stride(from: 0, to: a.count, by: 41) { a[i] *= 30 }
            if m > 2 { for i in 0..<128 { a[2 * k + i] = 0 } }
            wq.withUnsafeBytes { wb in
                let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
                var fast = [Float](repeating: .nan, count: m * ldc)
                var ref = fast
                LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: ldc, threads: 3, workspace: LaneWorkspace())
                LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: ldc)
                #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern), "\(type) m=\(m)")
                for r in 0..<m {
                    #expect(fast[(r * ldc + n)..<(r * ldc + ldc)].allSatisfy { $0.isNaN }, "padding columns untouched")
                }
            }
        }
    }

    @Test("the product is the dequantized weights against the Q8_0-rounded activations, up to f32 order", arguments: types)
    func value(_ type: GGMLType) {
        let m = 5, n = 33, k = 256
        let (_, wq) = LaneGEMMRepackTests.harnessInputs(type, m: 1, n: n, k: k)
        let a = KernelMatMulTests.gaussian(m * k, seed: 311)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            var fast = [Float](repeating: 0, count: m * n), plain = fast
            LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: n, threads: 2, workspace: LaneWorkspace())
            MatMul.linearReference(a, lda: k, rows: m, weights: w, into: &plain, ldc: n)
            for i in fast.indices {
                #expect(abs(fast[i] - plain[i]) <= 1e-4 * (1 + abs(plain[i])), "\(type) output \(i): \(fast[i]) vs \(plain[i])")
            }
        }
    }

    @Test("activations packed for Q8_0 weights are reused by a Q2_0 product and give the same bits")
    func reuse() {
        let m = 12, k = 512, n = 40
        let a = KernelMatMulTests.gaussian(m * k, seed: 295)
        let q8 = LaneGEMMTests.weights(.q8_0, rows: n, columns: k, seed: 297)
        let (_, q2) = LaneGEMMRepackTests.harnessInputs(.q2_0, m: 1, n: n, k: k)
        q8.withUnsafeBytes { b8 in q2.withUnsafeBytes { b2 in
            let w8 = WeightMatrix(type: .q8_0, rows: n, columns: k, data: b8.baseAddress!)
            let w2 = WeightMatrix(type: .q2_0, rows: n, columns: k, data: b2.baseAddress!)
            func run(_ w: WeightMatrix, reuse: Bool, _ ws: LaneWorkspace) -> [UInt32] {
                var c = [Float](repeating: 0, count: m * n)
                LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &c, ldc: n, threads: 2, workspace: ws, reuseActivations: reuse)
                return c.map(\.bitPattern)
            }
            let fresh = run(w2, reuse: false, LaneWorkspace())
            let ws = LaneWorkspace()
            _ = run(w8, reuse: false, ws)
            #expect(run(w2, reuse: true, ws) == fresh)
        } }
    }
}
