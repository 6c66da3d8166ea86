import Testing
import GGUF
import TestSupport
import Quants

/// f16/bf16 storage of an f32 tensor's exact values (`WeightMatrix.productType == .f32`, as an
/// in-memory checkpoint keeps its weights): every product equals the f32 tensor's, bit for bit,
/// on each path the f32 weights take.
@Suite("weights stored narrow, multiplied as f32")
struct WidenedWeightTests {
    /// Values exactly representable in `type` (f16 or bf16), with sign, spread and zeros.
    static func values(_ count: Int, _ type: GGMLType, seed: UInt64) -> (f32: [Float], narrow: [UInt16]) {
        let g = KernelMatMulTests.gaussian(count, seed: seed, scale: 0.05)
        var f = [Float](), n = [UInt16]()
        for i in 0..<count {
            let x: Float = i % 17 == 0 ? 0 : g[i]
            let h = type == .bf16 ? BF16.fromFloat(x) : FP16.fromFloat(x)
            n.append(h)
            f.append(type == .bf16 ? BF16.toFloat(h) : FP16.toFloat(h))
        }
        return (f, n)
    }

    @Test("MatMul.linear: the same bits as the f32 weights",
          arguments: [GGMLType.bf16, .f16], [(1, 8, 64), (5, 32, 256), (13, 36, 96), (7, 30, 128), (12, 64, 512)])
    func products(_ type: GGMLType, _ dims: (Int, Int, Int)) {
        let (m, n, k) = dims
        let (f32, narrow) = Self.values(n * k, type, seed: UInt64(m * 1000 + n + k))
        let a = KernelMatMulTests.gaussian(m * k, seed: 7)
        var reference = [Float](repeating: 0, count: m * n), widened = reference, asStored = reference
        f32.withUnsafeBytes { wf in
            narrow.withUnsafeBytes { wn in
                let wF = WeightMatrix(type: .f32, rows: n, columns: k, data: wf.baseAddress!)
                let wW = WeightMatrix(type: type, rows: n, columns: k, data: wn.baseAddress!, productType: .f32)
                let wS = WeightMatrix(type: type, rows: n, columns: k, data: wn.baseAddress!)
                #expect(wW.productType == .f32 && wS.productType == type)
                MatMul.linear(a, lda: k, rows: m, weights: wF, into: &reference, ldc: n, threads: 2, workspace: MatMulWorkspace())
                MatMul.linear(a, lda: k, rows: m, weights: wW, into: &widened, ldc: n, threads: 2, workspace: MatMulWorkspace())
                MatMul.linear(a, lda: k, rows: m, weights: wS, into: &asStored, ldc: n, threads: 2, workspace: MatMulWorkspace())
                // The scalar twin of the tinyBLAS order too.
                if LaneFloatGEMM.handles(wW) {
                    var twinF = [Float](repeating: 0, count: m * n), twinW = twinF
                    LaneFloatGEMM.linearReference(a, lda: k, rows: m, weights: wF, into: &twinF, ldc: n)
                    LaneFloatGEMM.linearReference(a, lda: k, rows: m, weights: wW, into: &twinW, ldc: n)
                    #expect(twinW.map(\.bitPattern) == twinF.map(\.bitPattern))
                }
                // A slice keeps the product type.
                let slice = wW.rowSlice(4, n - 4)
                #expect(slice.productType == .f32 && slice.rows == n - 4)
            }
        }
        #expect(widened.map(\.bitPattern) == reference.map(\.bitPattern))
        // Stored as its own type, ggml rounds the activations to f16/bf16 first: other figures.
        #expect(asStored.map(\.bitPattern) != reference.map(\.bitPattern))
    }
}
