import Testing
import GGUF
import TestSupport
import Quants

/// A float product told that its input is the previous product's (`reuseActivations`, as q/k/v
/// and gate/up are) uses that call's packed activations only when they were packed for its dot
/// type: the same bits as a fresh workspace either way.
@Suite("float products reuse packed activations")
struct FloatActivationReuseTests {
    @Test("f32, f32 again, f16, bf16 and a quantized type in turn on one input",
          arguments: [(1, 8, 64), (5, 36, 96), (13, 64, 256), (30, 100, 512)])
    func sameBits(_ dims: (Int, Int, Int)) {
        let (m, n, k) = dims
        let w1 = KernelMatMulTests.gaussian(n * k, seed: UInt64(n * 31 + k), scale: 0.05)
        let w2 = KernelMatMulTests.gaussian(n * k, seed: UInt64(n * 37 + k), scale: 0.05)
        let half = w2.map { FP16.fromFloat($0) }
        let brain = w1.map { BF16.fromFloat($0) }
        var q8 = [UInt8](repeating: 0, count: n * GGMLType.q8_0.rowSize(k)!)
        w2.withUnsafeBufferPointer { v in
            q8.withUnsafeMutableBytes { d in Quantizer.quantize(.q8_0, v.baseAddress!, d.baseAddress!, rows: n, rowLength: k) }
        }
        let a = KernelMatMulTests.gaussian(m * k, seed: UInt64(m + 11))
        let ws = MatMulWorkspace()
        var steps: [(fresh: [Float], reused: [Float])] = []
        w1.withUnsafeBytes { b1 in
            w2.withUnsafeBytes { b2 in
                half.withUnsafeBytes { h in
                    brain.withUnsafeBytes { bf in
                        q8.withUnsafeBytes { q in
                            let matrices = [
                                WeightMatrix(type: .f32, rows: n, columns: k, data: b1.baseAddress!),
                                WeightMatrix(type: .f32, rows: n, columns: k, data: b2.baseAddress!),
                                WeightMatrix(type: .f16, rows: n, columns: k, data: h.baseAddress!),
                                WeightMatrix(type: .bf16, rows: n, columns: k, data: bf.baseAddress!),
                                WeightMatrix(type: .q8_0, rows: n, columns: k, data: q.baseAddress!),
                                WeightMatrix(type: .f32, rows: n, columns: k, data: b1.baseAddress!),
                            ]
                            for (i, w) in matrices.enumerated() {
                                var fresh = [Float](repeating: 0, count: m * n), reused = fresh
                                MatMul.linear(a, lda: k, rows: m, weights: w, into: &fresh, ldc: n, threads: 2,
                                              workspace: MatMulWorkspace())
                                MatMul.linear(a, lda: k, rows: m, weights: w, into: &reused, ldc: n, threads: 2,
                                              workspace: ws, reuseActivations: i > 0)
                                steps.append((fresh, reused))
                            }
                        }
                    }
                }
            }
        }
        for (i, s) in steps.enumerated() {
            #expect(s.reused.map(\.bitPattern) == s.fresh.map(\.bitPattern), "product \(i)")
        }
        // The f16 and bf16 products round the activations: other figures than f32 on the same values.
        #expect(steps[0].fresh.map(\.bitPattern) == steps[5].fresh.map(\.bitPattern))
        #expect(steps[1].fresh.map(\.bitPattern) != steps[2].fresh.map(\.bitPattern))
    }
}
