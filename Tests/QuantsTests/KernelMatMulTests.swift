import Foundation
import GGUF
import Testing
import TestSupport
import Quants

@Suite("Kernels: micro-kernel and threaded matrix product")
struct KernelMatMulTests {
    static func gaussian(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in g.nextGaussian() * scale }
    }

    @Test("12×32 tile equals its scalar twin (fresh and accumulating, strided B)", arguments: [false, true])
    func tile(_ accumulate: Bool) {
        let k = 37, bStride = 45, ldc = 40
        let a = Self.gaussian(k * 12, seed: 1)
        let b = Self.gaussian(k * bStride, seed: 2)
        let c0 = Self.gaussian(12 * ldc, seed: 3)
        var fast = c0, ref = c0
        MicroKernel.tile(a, b, bStride: bStride, &fast, ldc: ldc, k: k, accumulate: accumulate)
        MicroKernel.tileReference(a, b, bStride: bStride, &ref, ldc: ldc, k: k, accumulate: accumulate)
        for i in 0..<12 {
            for j in 0..<ldc {
                let idx = i * ldc + j
                if j < 32 {
                    #expect(abs(fast[idx] - ref[idx]) <= 1e-5 * max(1, abs(ref[idx])))
                } else {
                    #expect(fast[idx] == c0[idx], "columns past 32 are untouched")
                }
            }
        }
    }

    /// (type, columns, k0, k): f32 panels at odd offsets and depths (tails past the last 8),
    /// quantized ones block-aligned; 45 rows leave a last panel of 13 rows.
    static let panelCases: [(GGMLType, Int, Int, Int)] = [(.f32, 300, 0, 256), (.f32, 300, 13, 37), (.f32, 300, 256, 44),
                                                          (.f16, 96, 32, 64), (.q4_0, 128, 64, 64), (.q6_K, 512, 256, 256)]

    @Test("a packed weight panel equals its element-by-element twin (full and last panels)", arguments: panelCases)
    func panel(_ type: GGMLType, _ columns: Int, _ k0: Int, _ k: Int) {
        let n = 45
        let wf = Self.gaussian(n * columns, seed: 21, scale: 0.1)
        var wq = [UInt8](repeating: 0, count: type.rowSize(columns)! * n)
        Quantizer.quantize(type, wf, &wq, rows: n, rowLength: columns)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: columns, data: wb.baseAddress!)
            var scratch = [Float](repeating: 0, count: 32 * k)
            for row0 in [0, 32] {
                var fast = [Float](repeating: .nan, count: 32 * k), ref = fast
                w.packPanel(row0: row0, k0: k0, k: k, scratch: &scratch, into: &fast)
                w.packPanelReference(row0: row0, k0: k0, k: k, into: &ref)
                #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern), "\(type) rows from \(row0)")
            }
        }
    }

    static let cases: [(GGMLType, Int)] = [(.f32, 96), (.f32, 37), (.f16, 96), (.bf16, 96), (.q8_0, 96), (.q4_0, 64), (.q4_1, 64),
                                           (.q5_0, 64), (.q5_1, 64), (.q4_K, 512), (.q5_K, 256), (.q6_K, 512)]

    @Test("threaded product equals the scalar reference (ragged rows and columns)", arguments: cases)
    func linear(_ type: GGMLType, _ k: Int) {
        let m = 29, n = 45
        let a = Self.gaussian(m * k, seed: 5)
        let wf = Self.gaussian(n * k, seed: 6, scale: 0.1)
        var wq = [UInt8](repeating: 0, count: type.rowSize(k)! * n)
        Quantizer.quantize(type, wf, &wq, rows: n, rowLength: k)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            var fast = [Float](repeating: .nan, count: m * (n + 3))
            var ref = fast
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: n + 3, threads: 3, workspace: MatMulWorkspace())
            MatMul.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n + 3)
            var worst: Float = 0
            for r in 0..<m {
                for c in 0..<n {
                    let i = r * (n + 3) + c
                    worst = max(worst, abs(fast[i] - ref[i]) / max(1, abs(ref[i])))
                }
                #expect(fast[(r * (n + 3) + n)...].prefix(3).allSatisfy { $0.isNaN }, "padding columns untouched")
            }
            // Q4_1 / Q5_1: ggml (and `LaneGEMM`) take the offset term from the Q8_1 block sum
            // f16(d·Σq), which the reference's f16(d)·q does not reproduce (about 2e-3 here);
            // `LaneGEMMTests` checks those types bit for bit against their own twin.
            let bound: Float = type == .q4_1 || type == .q5_1 ? 5e-3 : 1e-5
            #expect(worst < bound, "\(type): worst relative difference \(worst)")
        }
    }

    @Test("the result does not depend on the thread count or the row grouping")
    func threadIndependence() {
        let m = 50, k = 512, n = 300
        let a = Self.gaussian(m * k, seed: 8)
        let wf = Self.gaussian(n * k, seed: 9, scale: 0.1)
        var wq = [UInt8](repeating: 0, count: GGMLType.q4_K.rowSize(k)! * n)
        Quantizer.quantize(.q4_K, wf, &wq, rows: n, rowLength: k)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: .q4_K, rows: n, columns: k, data: wb.baseAddress!)
            var one = [Float](repeating: 0, count: m * n)
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &one, ldc: n, threads: 1, workspace: MatMulWorkspace())
            for threads in [2, 5] {
                var many = [Float](repeating: 0, count: m * n)
                MatMul.linear(a, lda: k, rows: m, weights: w, into: &many, ldc: n, threads: threads, workspace: MatMulWorkspace())
                #expect(many.map(\.bitPattern) == one.map(\.bitPattern))
            }
            // One row alone gives the same bits as inside the batch.
            var single = [Float](repeating: 0, count: n)
            MatMul.linear(Array(a[(17 * k)..<(18 * k)]), lda: k, rows: 1, weights: w, into: &single, ldc: n, threads: 2,
                          workspace: MatMulWorkspace())
            #expect(single.map(\.bitPattern) == one[(17 * n)..<(18 * n)].map(\.bitPattern))
        }
    }

    @Test("an explicit dot type overrides the weight's (f32 weights with Q8_0-rounded activations)")
    func dotTypeOverride() {
        let m = 3, k = 64, n = 32
        let a = Self.gaussian(m * k, seed: 12)
        let wf = Self.gaussian(n * k, seed: 13)
        wf.withUnsafeBytes { wb in
            let w = WeightMatrix(type: .f32, rows: n, columns: k, data: wb.baseAddress!)
            var plain = [Float](repeating: 0, count: m * n), rounded = plain, ref = plain
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &plain, ldc: n, threads: 1, workspace: MatMulWorkspace())
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &rounded, ldc: n, threads: 1, workspace: MatMulWorkspace(),
                          dotType: .q8_0)
            MatMul.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n, dotType: .q8_0)
            #expect(plain != rounded)
            for i in 0..<(m * n) { #expect(abs(rounded[i] - ref[i]) <= 1e-5 * max(1, abs(ref[i]))) }
        }
    }
}
