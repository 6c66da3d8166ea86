import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

@Suite("Kernels: i-quant and ternary products in the order of b10572's AVX2 vec_dot (IQ2/IQ3/IQ1, TQ1_0/TQ2_0)")
struct LaneGEMMIQTests {
    static let types: [GGMLType] = [.iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M, .tq1_0, .tq2_0]

    /// The harness's inputs (LaneGEMMRepackTests.harnessInputs); the types ggml quantizes only
    /// with an importance matrix (IQ2_XXS, IQ2_XS, IQ1_S) get `1 + 0.25·(j mod 7)` per column.
    static func harnessInputs(_ type: GGMLType, m: Int, n: Int, k: Int) -> (a: [Float], w: [UInt8]) {
        var g = LaneGEMMRepackTests.HarnessRandom()
        var wf = [Float](repeating: 0, count: n * k)
        for i in wf.indices { wf[i] = g.next() * 0.2 }
        var a = [Float](repeating: 0, count: m * k)
        for i in a.indices { a[i] = g.next() * 2 }
        for i in stride(from: 0, to: a.count, by: 37) { a[i] *= 40 }
        for r in stride(from: 1, to: m, by: 4) {
            a[r * k + 10] = -25
            a[r * k + 20] = 25
        }
        var wq = [UInt8](repeating: 0, count: type.rowSize(k)! * n)
        let needsImportance: Set<GGMLType> = [.iq2_XXS, .iq2_XS, .iq1_S]
        if needsImportance.contains(type) {
            let imat = (0..<k).map { 1 + 0.25 * Float($0 % 7) }
            Quantizer.quantize(type, wf, &wq, rows: n, rowLength: k, importance: imat)
        } else {
            Quantizer.quantize(type, wf, &wq, rows: n, rowLength: k)
        }
        return (a, wq)
    }

    /// `iq-gemm TYPE M N K 0` (/work/oracle/iq-helper, not in the repo: the repack harness with the
    /// importance above): llama.cpp b10572's CPU backend (AVX2 build, GGML_NATIVE=OFF), the plain
    /// CPU buffer, one `ggml_mul_mat` with 2 threads; its output digest.
    static let oracle: [(GGMLType, Int, Int, Int, UInt64)] = [
        (.iq2_XXS, 7, 16, 512, 0xc3ba_da5b_b613_e6ad),
        (.iq2_XXS, 13, 24, 768, 0x819d_3611_2274_2224),
        (.iq2_XS, 7, 16, 512, 0x5558_cc44_d9d7_b8d9),
        (.iq2_XS, 13, 24, 768, 0x4ea0_3a55_9ca4_b85a),
        (.iq2_S, 7, 16, 512, 0x73f3_f55a_6e0b_71d9),
        (.iq2_S, 13, 24, 768, 0x27a2_431c_fc99_3fdb),
        (.iq3_XXS, 7, 16, 512, 0x2cff_20c8_3269_a397),
        (.iq3_XXS, 13, 24, 768, 0xd61d_a2e6_8b0b_e769),
        (.iq3_S, 7, 16, 512, 0xd6ca_869b_19ee_0454),
        (.iq3_S, 13, 24, 768, 0x727d_e57e_097e_0373),
        (.iq1_S, 7, 16, 512, 0xd5ea_f9fb_320c_baba),
        (.iq1_S, 13, 24, 768, 0x0046_0e0d_284e_4b43),
        (.iq1_M, 7, 16, 512, 0xbb15_fb6a_1c36_225f),
        (.iq1_M, 13, 24, 768, 0x7740_640b_a6c6_a4fa),
        (.tq1_0, 7, 16, 512, 0x1008_5209_f258_d617),
        (.tq1_0, 13, 24, 768, 0xc59a_b3a2_6fad_c8c2),
        (.tq2_0, 7, 16, 512, 0x1008_5209_f258_d617),
        (.tq2_0, 13, 24, 768, 0xc59a_b3a2_6fad_c8c2),
    ]

    @Test("the fast product and its twin give b10572's outputs bit for bit", arguments: oracle.indices)
    func oracleDigests(_ index: Int) {
        let (type, m, n, k, expected) = Self.oracle[index]
        let (a, wq) = Self.harnessInputs(type, m: m, n: n, k: k)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            #expect(LaneGEMM.iqOrder(w) != nil && LaneGEMM.handles(w))
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
        let n = 45, ldc = n + 3, k = 512
        let (_, wq) = Self.harnessInputs(type, m: 1, n: n, k: k)
        for m in [1, 2, 5, 12, 13, 26] {
            var a = KernelMatMulTests.gaussian(m * k, seed: UInt64(170 + m))
            for i in stride(from: 0, to: a.count, by: 41) { a[i] *= 30 }
            if m > 2 { for i in 0..<256 { a[2 * k + i] = 0 } }
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

    /// The block's bytes with its scale set to 1 (f16 0x3C00; IQ1_M spreads it over the top
    /// nibbles of its four scale words).
    static func unitScale(_ type: GGMLType, _ blk: UnsafeMutableRawPointer) {
        switch type {
        case .tq1_0: blk.storeBytes(of: UInt16(0x3C00), toByteOffset: 52, as: UInt16.self)
        case .tq2_0: blk.storeBytes(of: UInt16(0x3C00), toByteOffset: 64, as: UInt16.self)
        case .iq1_M:
            for (i, nibble) in [UInt16(0), 0, 0xC, 0x3].enumerated() {
                let o = 48 + 2 * i
                let s = blk.loadUnaligned(fromByteOffset: o, as: UInt16.self)
                blk.storeBytes(of: (s & 0x0FFF) | (nibble << 12), toByteOffset: o, as: UInt16.self)
            }
        default: blk.storeBytes(of: UInt16(0x3C00), toByteOffset: 0, as: UInt16.self)
        }
    }

    @Test("the lane decoder's integers are the family's dequantized values at unit scale", arguments: types)
    func decoder(_ type: GGMLType) throws {
        let iq = try #require(LaneGEMM.layout(type)?.iq)
        let (_, wq) = Self.harnessInputs(type, m: 1, n: 8, k: 512)
        let format = try #require(BlockFormats.format(type))
        let ts = type.typeSize
        var blk = [UInt8](repeating: 0, count: ts)
        var w1 = [Float](repeating: 0, count: 256), w2 = w1, s32 = [Float](repeating: 0, count: 8)
        var y = [Float](repeating: 0, count: 256)
        for b in 0..<(wq.count / ts) {
            blk = Array(wq[(b * ts)..<(b * ts + ts)])
            let d = blk.withUnsafeBytes { LaneGEMM.iqLaneBlock(iq, $0.baseAddress!, &w1, &w2, &s32) }
            #expect(d.isFinite && d != 0)
            blk.withUnsafeMutableBytes { Self.unitScale(type, $0.baseAddress!) }
            blk.withUnsafeBytes { format.dequantize($0.baseAddress!, &y, count: 256) }
            for e in 0..<256 {
                let expected: Float
                switch iq {
                case .tq1, .tq2: expected = w1[e] - 1
                case .iq1S: expected = w1[e] + 0.125 * s32[e / 32]
                case .iq1M: expected = w1[e] + 0.125 * w2[e]
                default: expected = iq.post * w1[e]
                }
                #expect(y[e] == expected, "\(type) block \(b) element \(e)")
                if y[e] != expected { return }
            }
        }
    }

    @Test("activations packed for Q6_K are reused by an IQ product and give the same bits")
    func reuse() {
        let m = 12, k = 512, n = 40
        let a = KernelMatMulTests.gaussian(m * k, seed: 195)
        let q6k = LaneGEMMTests.weights(.q6_K, rows: n, columns: k, seed: 197)
        let (_, iq) = Self.harnessInputs(.iq3_XXS, m: 1, n: n, k: k)
        q6k.withUnsafeBytes { b6 in iq.withUnsafeBytes { bi in
            let w6 = WeightMatrix(type: .q6_K, rows: n, columns: k, data: b6.baseAddress!)
            let wi = WeightMatrix(type: .iq3_XXS, rows: n, columns: k, data: bi.baseAddress!)
            func run(_ w: WeightMatrix, reuse: Bool, _ ws: LaneWorkspace) -> [UInt32] {
                var c = [Float](repeating: 0, count: m * n)
                LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &c, ldc: n, threads: 2, workspace: ws, reuseActivations: reuse)
                return c.map(\.bitPattern)
            }
            let fresh = run(wi, reuse: false, LaneWorkspace())
            let ws = LaneWorkspace()
            _ = run(w6, reuse: false, ws)
            #expect(run(wi, reuse: true, ws) == fresh)
        } }
    }
}
