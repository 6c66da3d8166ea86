import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

/// F32 matrix-product throughput against the machine's measured FMA peak, run only on request
/// (tools/bench-matmul.sh). One thread, thread CPU time, so a loaded machine does not skew the ratio.
@Suite("MatMul benchmark", .enabled(if: ProcessInfo.processInfo.environment["SWIFT_GGUF_BENCH"] != nil))
struct MatMulBenchmark {
    /// Single-core FMA peak: 12 independent chains of SIMD16 `a ← a + a·y` (a true dependent FMA each,
    /// enough chains to cover FMA latency × ports; y = -1e-8 keeps the values normal).
    @inline(never)
    static func fmaLoop(_ n: Int, _ x: SIMD16<Float>, _ y: SIMD16<Float>) -> Float {
        var a0 = x, a1 = x + 1, a2 = x + 2, a3 = x + 3, a4 = x + 4, a5 = x + 5
        var a6 = x + 6, a7 = x + 7, a8 = x + 8, a9 = x + 9, aa = x + 10, ab = x + 11
        for _ in 0..<n {
            a0.addProduct(a0, y); a1.addProduct(a1, y); a2.addProduct(a2, y); a3.addProduct(a3, y)
            a4.addProduct(a4, y); a5.addProduct(a5, y); a6.addProduct(a6, y); a7.addProduct(a7, y)
            a8.addProduct(a8, y); a9.addProduct(a9, y); aa.addProduct(aa, y); ab.addProduct(ab, y)
        }
        return (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + aa + ab).sum()
    }

    @Test("F32 GFLOP/s of MatMul.linear against the FMA peak (SmolLM2 shapes, 2048 rows)")
    func gflops() throws {
        let iterations = 20_000_000
        var sink: Float = 0
        let peakNs = QuantBenchmarks.time(3) {
            sink += Self.fmaLoop(iterations, SIMD16(repeating: 0.5), SIMD16(repeating: -1e-8))
        }
        let peak = Double(iterations) * 12 * 16 * 2 / peakNs
        print(String(format: "FMA peak, one core: %.1f GFLOP/s (12 × SIMD16 accumulators)", peak))

        var rng = SplitMix64(seed: 7)
        for (k, n) in [(576, 1536), (1536, 576), (576, 576)] {
            let m = 2048
            let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
            let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
            var c = [Float](repeating: 0, count: m * n)
            let ws = MatMulWorkspace()
            let ns = w.withUnsafeBytes { wb in
                a.withUnsafeBufferPointer { ab in
                    c.withUnsafeMutableBufferPointer { cb in
                        let wm = WeightMatrix(type: .f32, rows: n, columns: k, data: wb.baseAddress!)
                        return QuantBenchmarks.time(3) {
                            MatMul.linear(ab.baseAddress!, lda: k, rows: m, weights: wm, into: cb.baseAddress!, ldc: n,
                                          threads: 1, workspace: ws)
                        }
                    }
                }
            }
            let g = 2 * Double(m) * Double(k) * Double(n) / ns
            print(String(format: "F32 %d×%d · %d×%d: %.1f GFLOP/s on one core = %.0f%% of the FMA peak",
                         m, k, k, n, g, 100 * g / peak))
        }
        print("(checksum \(sink))")
    }
}
