import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

@Suite("Kernels: products in the order of b10572's repacked x86 kernels (Q4_K, IQ4_NL, MXFP4)")
struct LaneGEMMRepackTests {
    /// The generator of the oracle harness (/work/oracle/repack-helper/gemm.cpp, not in the repo):
    /// a 64-bit LCG, each value the top 24 bits as a fraction minus one half.
    struct HarnessRandom {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / 16_777_216 - 0.5
        }
    }

    /// The harness's inputs: n × k weights (scale 0.2) quantized to `type`, then m × k activations
    /// (scale 2, every 37th value × 40, and in rows 1, 5, 9, … the values −25 then +25 in the first
    /// block, a largest magnitude reached with both signs).
    static func harnessInputs(_ type: GGMLType, m: Int, n: Int, k: Int) -> (a: [Float], w: [UInt8]) {
        var g = HarnessRandom()
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
        Quantizer.quantize(type, wf, &wq, rows: n, rowLength: k)
        return (a, wq)
    }

    /// FNV-1a 64 over the outputs' bit patterns (little-endian bytes), as the harness prints it.
    static func fnv(_ v: [Float]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in v {
            let b = x.bitPattern
            for i in 0..<4 {
                h ^= UInt64((b >> (8 * UInt32(i))) & 0xFF)
                h = h &* 0x100_0000_01b3
            }
        }
        return h
    }

    /// `repack-gemm TYPE M N K`: llama.cpp b10572's CPU backend (AVX2 build, GGML_NATIVE=OFF), the
    /// weight tensor in the CPU_REPACK buffer, one `ggml_mul_mat` with 2 threads; its output digest.
    static let oracle: [(GGMLType, Int, Int, Int, UInt64)] = [
        (.q4_K, 7, 16, 512, 0x6209_deff_429f_44f2),
        (.q4_K, 21, 24, 768, 0xd9e1_f267_d9be_a28d),
        (.iq4_NL, 7, 16, 128, 0x0b38_ff81_7c58_933d),
        (.iq4_NL, 5, 24, 256, 0xa311_4f2c_0b0c_9367),
        (.mxfp4, 7, 16, 128, 0xd8fe_cb55_b37e_8cdf),
        (.mxfp4, 6, 40, 64, 0x06a3_7f82_2ab9_fb99),
        // Types ggml never repacks on x86 (`repack-gemm TYPE M N K 0`: the plain CPU buffer):
        // their AVX2 vec_dot lanes (`LaneGEMM.Layout` without `repacked`).
        (.q3_K, 7, 16, 512, 0xe8b0_09e5_c94c_7f83),
        (.iq4_XS, 7, 16, 512, 0x8c7d_1b13_e674_c65a),
        (.q2_K, 7, 16, 512, 0x93ee_c416_ce1e_f315),
        (.q2_K, 13, 24, 768, 0x9f87_0eee_f41e_5192),
        (.q6_K, 7, 16, 512, 0xe527_9348_70a2_59b9),
        (.q6_K, 13, 24, 768, 0x9fd5_a602_a36f_302f),
    ]

    @Test("the fast product and its twin give b10572's outputs bit for bit (repacked and vec_dot orders)", arguments: oracle.indices)
    func oracleDigests(_ index: Int) {
        let (type, m, n, k, expected) = Self.oracle[index]
        let (a, wq) = Self.harnessInputs(type, m: m, n: n, k: k)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            // Q2_K / Q6_K take their eight-lane orders through the same entry at any row count.
            #expect((LaneGEMM.repackOrder(w) != nil) == (type != .q3_K && type != .iq4_XS))
            var fast = [Float](repeating: .nan, count: m * n)
            var ref = fast
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: n, threads: 2, workspace: MatMulWorkspace())
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n)
            #expect(Self.fnv(fast) == expected, "\(type) \(m)×\(n)×\(k): fast")
            #expect(Self.fnv(ref) == expected, "\(type) \(m)×\(n)×\(k): reference")
        }
    }

    @Test("the packed, threaded product equals its twin bit for bit for every row count (GEMM and GEMV rows)",
          arguments: [(GGMLType.q4_K, 512), (.iq4_NL, 160), (.mxfp4, 96), (.q3_K, 512), (.iq4_XS, 512), (.q2_K, 512),
                      (.q6_K, 768)])
    func twin(_ type: GGMLType, _ k: Int) {
        let n = 72, ldc = n + 3
        for m in [1, 2, 3, 4, 5, 8, 13, 15, 26] {
            var a = KernelMatMulTests.gaussian(m * k, seed: UInt64(70 + m))
            for i in stride(from: 0, to: a.count, by: 41) { a[i] *= 30 }
            if m > 2 { for i in 0..<32 { a[2 * k + i] = 0 } }
            let wq = LaneGEMMTests.weights(type, rows: n, columns: k, seed: 71)
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

    @Test("Q4_K: a row in a batch (GEMM order) and alone (GEMV order) differ only in the last bits")
    func gemmAndGemv() {
        let n = 64, k = 1024, m = 8
        let a = KernelMatMulTests.gaussian(m * k, seed: 81)
        let wq = LaneGEMMTests.weights(.q4_K, rows: n, columns: k, seed: 82)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: .q4_K, rows: n, columns: k, data: wb.baseAddress!)
            var batch = [Float](repeating: 0, count: m * n)
            LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &batch, ldc: n, threads: 2, workspace: LaneWorkspace())
            var alone = [Float](repeating: 0, count: n)
            LaneGEMM.linear(a, lda: k, rows: 1, weights: w, into: &alone, ldc: n, threads: 2, workspace: LaneWorkspace())
            let first = Array(batch[0..<n])
            #expect(first.map(\.bitPattern) != alone.map(\.bitPattern))
            #expect(zip(first, alone).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        }
    }

    @Test("weights whose rows are not a multiple of 8 are not repacked: IQ4_NL keeps tinyBLAS's lanes, MXFP4 the f32 path")
    func notRepacked() {
        let k = 64
        let iq = LaneGEMMTests.weights(.iq4_NL, rows: 45, columns: k, seed: 91)
        let mx = LaneGEMMTests.weights(.mxfp4, rows: 45, columns: k, seed: 92)
        iq.withUnsafeBytes { ib in mx.withUnsafeBytes { mb in
            let wi = WeightMatrix(type: .iq4_NL, rows: 45, columns: k, data: ib.baseAddress!)
            let wm = WeightMatrix(type: .mxfp4, rows: 45, columns: k, data: mb.baseAddress!)
            #expect(LaneGEMM.repackOrder(wi) == nil && LaneGEMM.repackOrder(wm) == nil)
            #expect(LaneGEMM.handles(wi) && !LaneGEMM.handles(wm))
            #expect(LaneGEMM.repackOrder(WeightMatrix(type: .mxfp4, rows: 40, columns: k, data: mb.baseAddress!)) != nil)
            let m = 9
            let a = KernelMatMulTests.gaussian(m * k, seed: 93)
            var fast = [Float](repeating: 0, count: m * 45)
            var ref = fast
            LaneGEMM.linear(a, lda: k, rows: m, weights: wi, into: &fast, ldc: 45, threads: 2, workspace: LaneWorkspace())
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: wi, into: &ref, ldc: 45)
            #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern))
            // MXFP4 through MatMul's f32 path: the same values up to summation order.
            var viaMatMul = [Float](repeating: 0, count: m * 45)
            var plain = viaMatMul
            MatMul.linear(a, lda: k, rows: m, weights: wm, into: &viaMatMul, ldc: 45, threads: 2, workspace: MatMulWorkspace())
            MatMul.linearReference(a, lda: k, rows: m, weights: wm, into: &plain, ldc: 45)
            #expect(zip(viaMatMul, plain).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        } }
    }

    @Test("the four-row Q8_K quantizer scales by the positive extreme when both signs reach it")
    func fourRowQuantizer() {
        var x = [Float](repeating: 0, count: 256)
        for j in 0..<256 { x[j] = Float(j % 17) * 0.1 - 0.8 }
        x[3] = -2
        x[200] = 2
        var four = [Float](repeating: 0, count: 256), one = four
        let d4 = LaneGEMM.q8_KQuantsFourRows(x, into: &four)
        let d1 = ActivationRounding.q8_KQuants(x, into: &one)
        #expect(d4 == -d1 && d4 < 0)
        #expect(four[200] == -127 && one[200] == 127)
        // Without a tie both quantizers agree.
        x[3] = -1.5
        let e4 = LaneGEMM.q8_KQuantsFourRows(x, into: &four)
        let e1 = ActivationRounding.q8_KQuants(x, into: &one)
        #expect(e4 == e1 && four == one)
        // The reference encoder writes the same quants and the block sums of sixteen.
        var bytes = [UInt8](repeating: 0, count: GGMLType.q8_K.typeSize)
        LaneGEMM.quantizeQ8_KFourRowsReference(x, &bytes, count: 256)
        bytes.withUnsafeBytes { b in
            #expect(b.loadUnaligned(as: Float.self) == e4)
            #expect((0..<256).allSatisfy { Float(b.load(fromByteOffset: 4 + $0, as: Int8.self)) == four[$0] })
            let s0 = (0..<16).reduce(0) { $0 + Int(four[$1]) }
            #expect(Int(b.loadUnaligned(fromByteOffset: 260, as: Int16.self)) == s0)
        }
    }

    @Test("reusing packed activations across repacked and lane products gives the same bits")
    func reuse() {
        let m = 12, k = 512, n = 40
        let a = KernelMatMulTests.gaussian(m * k, seed: 95)
        let q4k = LaneGEMMTests.weights(.q4_K, rows: n, columns: k, seed: 96)
        let q6k = LaneGEMMTests.weights(.q6_K, rows: n, columns: k, seed: 97)
        q4k.withUnsafeBytes { b4 in q6k.withUnsafeBytes { b6 in
            let w4 = WeightMatrix(type: .q4_K, rows: n, columns: k, data: b4.baseAddress!)
            let w6 = WeightMatrix(type: .q6_K, rows: n, columns: k, data: b6.baseAddress!)
            func run(_ w: WeightMatrix, reuse: Bool, _ ws: LaneWorkspace) -> [UInt32] {
                var c = [Float](repeating: 0, count: m * n)
                LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &c, ldc: n, threads: 2, workspace: ws, reuseActivations: reuse)
                return c.map(\.bitPattern)
            }
            let fresh4 = run(w4, reuse: false, LaneWorkspace()), fresh6 = run(w6, reuse: false, LaneWorkspace())
            let ws = LaneWorkspace()
            #expect(run(w6, reuse: false, ws) == fresh6)
            #expect(run(w4, reuse: true, ws) == fresh4)  // other packing: repacked
            #expect(run(w4, reuse: true, ws) == fresh4)  // same packing: reused
            #expect(run(w6, reuse: true, ws) == fresh6)
        } }
    }
}
