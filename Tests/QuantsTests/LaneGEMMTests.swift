import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

@Suite("Kernels: quantized products in ggml's x86 summation order")
struct LaneGEMMTests {
    static let cases: [(GGMLType, Int)] = [(.q8_0, 96), (.q5_0, 64), (.q4_0, 160), (.q4_1, 64), (.q5_1, 96), (.q4_K, 512), (.q5_K, 256), (.q6_K, 768)]

    static func weights(_ type: GGMLType, rows n: Int, columns k: Int, seed: UInt64) -> [UInt8] {
        let wf = KernelMatMulTests.gaussian(n * k, seed: seed, scale: 0.1)
        var wq = [UInt8](repeating: 0, count: type.rowSize(k)! * n)
        Quantizer.quantize(type, wf, &wq, rows: n, rowLength: k)
        return wq
    }

    @Test("the packed, threaded product equals its one-output-at-a-time twin bit for bit (ragged shapes)",
          arguments: cases)
    func twin(_ type: GGMLType, _ k: Int) {
        let m = 29, n = 45, ldc = n + 3
        // Activations with outliers, exact zeros and a zero block, to reach every rounding branch.
        var a = KernelMatMulTests.gaussian(m * k, seed: 11)
        for i in stride(from: 0, to: a.count, by: 37) { a[i] *= 40 }
        for i in 0..<min(32, k) { a[3 * k + i] = 0 }
        let wq = Self.weights(type, rows: n, columns: k, seed: 12)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            var fast = [Float](repeating: .nan, count: m * ldc)
            var ref = fast
            LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: ldc, threads: 3, workspace: LaneWorkspace())
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: ldc)
            #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern), "\(type)")
            for r in 0..<m {
                #expect(fast[(r * ldc + n)..<(r * ldc + ldc)].allSatisfy { $0.isNaN }, "padding columns untouched")
            }
            // MatMul routes these types here.
            var routed = [Float](repeating: .nan, count: m * ldc)
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &routed, ldc: ldc, threads: 2, workspace: MatMulWorkspace())
            #expect(routed.map(\.bitPattern) == fast.map(\.bitPattern))
        }
    }

    @Test("Q4_0 weights with a multiple of 8 rows: one chain per output (ggml's repacked Q4_0), equal to the twin")
    func singleChain() {
        let m = 17, n = 48, k = 128
        let a = KernelMatMulTests.gaussian(m * k, seed: 51)
        let wq = Self.weights(.q4_0, rows: n, columns: k, seed: 52)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: .q4_0, rows: n, columns: k, data: wb.baseAddress!)
            #expect(LaneGEMM.singleChain(w))
            var fast = [Float](repeating: 0, count: m * n)
            var ref = fast
            LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: n, threads: 2, workspace: LaneWorkspace())
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n)
            #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern))
            // Dropping the last 8 rows keeps the mode; 45 rows would use tinyBLAS's eight lanes.
            let w40 = WeightMatrix(type: .q4_0, rows: 40, columns: k, data: wb.baseAddress!)
            #expect(LaneGEMM.singleChain(w40))
            #expect(!LaneGEMM.singleChain(WeightMatrix(type: .q4_0, rows: 45, columns: k, data: wb.baseAddress!)))
        }
    }

    @Test("the lane order is not the plain order: sums differ from an index-order sum somewhere")
    func orderMatters() {
        // The same product summed in index order gives different bits for some outputs, so the
        // twin test above would fail if the kernel summed in any other order.
        let m = 12, n = 32, k = 256
        let a = KernelMatMulTests.gaussian(m * k, seed: 21)
        let wq = Self.weights(.q8_0, rows: n, columns: k, seed: 22)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: .q8_0, rows: n, columns: k, data: wb.baseAddress!)
            var lane = [Float](repeating: 0, count: m * n)
            var plain = lane
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &lane, ldc: n)
            MatMul.linearReference(a, lda: k, rows: m, weights: w, into: &plain, ldc: n)
            let differing = zip(lane, plain).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing > 0)
            #expect(zip(lane, plain).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        }
    }

    @Test("the result does not depend on threads, and one row alone gives the same bits as in a batch")
    func threads() {
        let m = 40, k = 512, n = 100
        let a = KernelMatMulTests.gaussian(m * k, seed: 31)
        for type in [GGMLType.q4_K, .q8_0] {
            let wq = Self.weights(type, rows: n, columns: k, seed: 32)
            wq.withUnsafeBytes { wb in
                let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
                var one = [Float](repeating: 0, count: m * n)
                LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &one, ldc: n, threads: 1, workspace: LaneWorkspace())
                for t in [2, 7] {
                    var many = [Float](repeating: 0, count: m * n)
                    LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &many, ldc: n, threads: t, workspace: LaneWorkspace())
                    #expect(many.map(\.bitPattern) == one.map(\.bitPattern))
                }
                var single = [Float](repeating: 0, count: n)
                LaneGEMM.linear(Array(a[(23 * k)..<(24 * k)]), lda: k, rows: 1, weights: w, into: &single, ldc: n, threads: 2,
                                workspace: LaneWorkspace())
                #expect(single.map(\.bitPattern) == one[(23 * n)..<(24 * n)].map(\.bitPattern))
            }
        }
    }

    @Test("lane positions are a permutation that keeps each lane's four columns together")
    func positions() {
        for k in [32, 256, 576] {
            let p = (0..<k).map { LaneGEMM.lanePosition($0, k) }
            #expect(Set(p).count == k && p.allSatisfy { $0 >= 0 && $0 < k })
            // Column 32c + 4L + t sits at L·k/8 + 4c + t.
            #expect(LaneGEMM.lanePosition(32 + 4 * 3 + 2, k) == 3 * (k / 8) + 4 + 2)
        }
    }

    @Test("float products in tinyBLAS order equal their twin bit for bit (f32, f16, bf16; ragged batch)",
          arguments: [GGMLType.f32, .f16, .bf16])
    func floatTwin(_ type: GGMLType) {
        let m = 29, n = 44, k = 96, ldc = n + 3
        let a = KernelMatMulTests.gaussian(m * k, seed: 41)
        let wq = Self.weights(type, rows: n, columns: k, seed: 42)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            #expect(LaneFloatGEMM.handles(w))
            var fast = [Float](repeating: .nan, count: m * ldc)
            var ref = fast
            LaneFloatGEMM.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: ldc, threads: 3, workspace: LaneWorkspace())
            LaneFloatGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: ldc)
            #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern), "\(type)")
            // Activation rows further apart than their length (lda > k): the same products.
            let lda = k + 5
            var padded = [Float](repeating: .nan, count: m * lda)
            for r in 0..<m { for c in 0..<k { padded[r * lda + c] = a[r * k + c] } }
            var strided = [Float](repeating: .nan, count: m * ldc)
            LaneFloatGEMM.linear(padded, lda: lda, rows: m, weights: w, into: &strided, ldc: ldc, threads: 2,
                                 workspace: LaneWorkspace())
            #expect(strided.map(\.bitPattern) == fast.map(\.bitPattern), "\(type), lda \(lda)")
            var routed = [Float](repeating: .nan, count: m * ldc)
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &routed, ldc: ldc, threads: 2, workspace: MatMulWorkspace())
            #expect(routed.map(\.bitPattern) == fast.map(\.bitPattern))
            // The plain index-order sum differs somewhere, so the order is really tested.
            var plain = [Float](repeating: 0, count: m * ldc)
            MatMul.linearReference(a, lda: k, rows: m, weights: w, into: &plain, ldc: ldc)
            #expect((0..<m).contains { r in (0..<n).contains { plain[r * ldc + $0].bitPattern != ref[r * ldc + $0].bitPattern } })
        }
    }

    @Test("weights whose rows are not a multiple of 4 (or columns of 8) keep the plain product, as ggml's fallback")
    func floatFallback() {
        let wf = KernelMatMulTests.gaussian(6 * 96, seed: 43)
        wf.withUnsafeBytes { wb in
            #expect(!LaneFloatGEMM.handles(WeightMatrix(type: .f32, rows: 6, columns: 96, data: wb.baseAddress!)))
            #expect(!LaneFloatGEMM.handles(WeightMatrix(type: .f32, rows: 4, columns: 100, data: wb.baseAddress!)))
            #expect(!LaneFloatGEMM.handles(WeightMatrix(type: .q8_0, rows: 4, columns: 96, data: wb.baseAddress!)))
        }
    }

    @Test("reusing packed activations gives the same bits, and a different activation format is repacked")
    func reuse() {
        let m = 20, k = 512, n = 40
        let a = KernelMatMulTests.gaussian(m * k, seed: 61)
        let q8 = Self.weights(.q8_0, rows: n, columns: k, seed: 62)
        let q5 = Self.weights(.q5_0, rows: n, columns: k, seed: 63)
        let q4k = Self.weights(.q4_K, rows: n, columns: k, seed: 64)
        q8.withUnsafeBytes { b8 in q5.withUnsafeBytes { b5 in q4k.withUnsafeBytes { bk in
            let ws = LaneWorkspace()
            func run(_ w: WeightMatrix, reuse: Bool, _ ws: LaneWorkspace) -> [UInt32] {
                var c = [Float](repeating: 0, count: m * n)
                LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &c, ldc: n, threads: 2, workspace: ws, reuseActivations: reuse)
                return c.map(\.bitPattern)
            }
            let w8 = WeightMatrix(type: .q8_0, rows: n, columns: k, data: b8.baseAddress!)
            let w5 = WeightMatrix(type: .q5_0, rows: n, columns: k, data: b5.baseAddress!)
            let wk = WeightMatrix(type: .q4_K, rows: n, columns: k, data: bk.baseAddress!)
            let fresh5 = run(w5, reuse: false, LaneWorkspace()), freshK = run(wk, reuse: false, LaneWorkspace())
            _ = run(w8, reuse: false, ws)
            #expect(run(w5, reuse: true, ws) == fresh5)  // same Q8_0 activations
            #expect(run(wk, reuse: true, ws) == freshK)  // Q8_K: repacked
        } } }
    }
}
