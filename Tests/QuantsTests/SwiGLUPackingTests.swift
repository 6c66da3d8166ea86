import Testing
import GGUF
import TestSupport
import Quants

/// `MatMul.packSwiGLU` then a product told to reuse its activations: the same bits as SwiGLU into
/// a buffer (`VectorMath.swiglu`, row by row) and the product on it; other weights are refused.
@Suite("SwiGLU packed straight into a float product's activations")
struct SwiGLUPackingTests {
    @Test("same bits as swiglu then linear, on whole and partial groups and odd eight-column steps",
          arguments: [(1, 32, 8), (5, 36, 24), (13, 64, 48), (25, 100, 1536), (12, 40, 40)])
    func sameBits(_ dims: (Int, Int, Int)) {
        let (m, n, k) = dims
        let w = KernelMatMulTests.gaussian(n * k, seed: UInt64(n * 29 + k), scale: 0.05)
        // Gate values far into both tails of the exponential, up values of both signs.
        var gate = KernelMatMulTests.gaussian(m * k, seed: UInt64(m + 3), scale: 4)
        gate[0] = -120; gate[gate.count - 1] = 95
        let up = KernelMatMulTests.gaussian(m * k, seed: UInt64(m + 5))
        var expected = [Float](repeating: 0, count: m * n), got = expected
        var hidden = [Float](repeating: 0, count: m * k)
        w.withUnsafeBytes { wb in
            let matrix = WeightMatrix(type: .f32, rows: n, columns: k, data: wb.baseAddress!)
            gate.withUnsafeBufferPointer { g in
                up.withUnsafeBufferPointer { u in
                    hidden.withUnsafeMutableBufferPointer { h in
                        for r in 0..<m {
                            VectorMath.swiglu(gate: g.baseAddress! + r * k, up: u.baseAddress! + r * k, h.baseAddress! + r * k, count: k)
                        }
                        MatMul.linear(h.baseAddress!, lda: k, rows: m, weights: matrix, into: &expected, ldc: n, threads: 2,
                                      workspace: MatMulWorkspace())
                        // The fused path never reads the buffer it is keyed on: fill it with NaN.
                        let key = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
                        defer { key.deallocate() }
                        key.initialize(repeating: .nan, count: m * k)
                        let ws = MatMulWorkspace()
                        let fused = MatMul.packSwiGLU(gate: g.baseAddress!, up: u.baseAddress!, rows: m, columns: k,
                                                      before: matrix, key: key, threads: 2, workspace: ws)
                        #expect(fused)
                        MatMul.linear(key, lda: k, rows: m, weights: matrix, into: &got, ldc: n, threads: 2, workspace: ws,
                                      reuseActivations: true)
                    }
                }
            }
        }
        #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test("quantized and half-precision weights are left to the unfused path")
    func refused() {
        let k = 64, n = 32
        let w = KernelMatMulTests.gaussian(n * k, seed: 7, scale: 0.05)
        let half = w.map { FP16.fromFloat($0) }
        var q8 = [UInt8](repeating: 0, count: n * GGMLType.q8_0.rowSize(k)!)
        w.withUnsafeBufferPointer { v in
            q8.withUnsafeMutableBytes { d in Quantizer.quantize(.q8_0, v.baseAddress!, d.baseAddress!, rows: n, rowLength: k) }
        }
        let x = [Float](repeating: 1, count: 4 * k)
        half.withUnsafeBytes { h in
            q8.withUnsafeBytes { q in
                x.withUnsafeBufferPointer { xb in
                    for matrix in [WeightMatrix(type: .f16, rows: n, columns: k, data: h.baseAddress!),
                                   WeightMatrix(type: .q8_0, rows: n, columns: k, data: q.baseAddress!)] {
                        #expect(!MatMul.packSwiGLU(gate: xb.baseAddress!, up: xb.baseAddress!, rows: 4, columns: k,
                                                   before: matrix, key: xb.baseAddress!, threads: 2, workspace: MatMulWorkspace()))
                    }
                }
            }
        }
    }
}
