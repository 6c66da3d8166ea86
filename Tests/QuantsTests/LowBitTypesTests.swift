import Foundation
import GGUF
import Testing
import TestSupport
import Quants

/// The ternary (TQ1_0, TQ2_0) and 1/2-bit (Q1_0, Q2_0) families: their dot types, exact round
/// trips of values on their grids, the ignored importance matrix, and products through the
/// engine's generic path. Byte equality with ggml is GoldenQuantTests' job.
@Suite("Low-bit types: TQ1_0, TQ2_0, Q1_0, Q2_0")
struct LowBitTypesTests {
    static let types: [GGMLType] = [.tq1_0, .tq2_0, .q1_0, .q2_0]

    static func gaussian(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in g.nextGaussian() * scale }
    }

    @Test("dot types are ggml's vec_dot_type (type_traits_cpu)")
    func dotTypes() {
        #expect(ActivationRounding.dotType(for: .tq1_0) == .q8_K)
        #expect(ActivationRounding.dotType(for: .tq2_0) == .q8_K)
        #expect(ActivationRounding.dotType(for: .q1_0) == .q8_0)
        #expect(ActivationRounding.dotType(for: .q2_0) == .q8_0)
        for t in Self.types { #expect(Quantizer.canMultiply(t), "\(t.name)") }
    }

    @Test("values on the grid survive quantization exactly", arguments: types)
    func gridRoundTrip(_ type: GGMLType) {
        let n = 768
        var g = SplitMix64(seed: 77)
        let x: [Float] = (0..<n).map { i in
            if type == .q1_0 { return i % 5 == 0 ? -0.25 : 0.25 }  // the mean |x| is 0.25
            if i % 64 == 3 { return -0.5 }                          // every block reaches the scale
            return Float(Int(g.next() % 3) - 1) * 0.5
        }
        let q = Q.quantize(type, x, rowLength: n)
        #expect(q.count == type.rowSize(n))
        #expect(Q.dequantize(type, q, count: n) == x)
    }

    @Test("the importance matrix changes no byte", arguments: types)
    func importanceIgnored(_ type: GGMLType) {
        let n = 512, rows = 3
        let x = Self.gaussian(n * rows, seed: 11, scale: 0.05)
        let w = Self.gaussian(n, seed: 12).map { $0 * $0 + 0.1 }
        #expect(Q.quantize(type, x, rowLength: n, importance: w) == Q.quantize(type, x, rowLength: n))
        #expect(Q.quantize(type, x, rowLength: n, threads: 3) == Q.quantize(type, x, rowLength: n))
    }

    @Test("fast and reference quantizers agree on NaN, inf, subnormal and signed-zero data", arguments: types)
    func twinsOnOddData(_ type: GGMLType) {
        let n = 1024
        var g = SplitMix64(seed: 31)
        let specials: [Float] = [.nan, .infinity, -.infinity, -0.0, 0, 1e-40, -3e-39, .leastNonzeroMagnitude,
                                 .greatestFiniteMagnitude, 70000, -0.5, 0.5]
        var x = Self.gaussian(n, seed: 32, scale: 0.1)
        // Block by block (64 elements): untouched, a few specials, all subnormal, or all zero.
        for b in 0..<(n / 64) {
            for i in 0..<64 {
                let j = 64 * b + i
                switch b % 4 {
                case 1: if g.next() % 8 == 0 { x[j] = specials[Int(g.next() % UInt64(specials.count))] }
                case 2: x[j] *= 1e-38
                case 3: x[j] = i % 2 == 0 ? 0 : -0.0
                default: break
                }
            }
        }
        let fast = Q.quantize(type, x, rowLength: n)
        let ref = Q.quantize(type, x, rowLength: n, reference: true)
        #expect(fast == ref)
    }

    @Test("MatMul.linear equals dequantized weights · activations rounded to the dot type", arguments: types)
    func generic(_ type: GGMLType) throws {
        let k = 512, n = 4
        let dt = try #require(ActivationRounding.dotType(for: type))
        let wf = Self.gaussian(n * k, seed: 21, scale: 0.1)
        let wq = Q.quantize(type, wf, rowLength: k)
        let wd = Q.dequantize(type, wq, count: n * k)
        for m in [1, 3] {
            let a = Self.gaussian(m * k, seed: 22 + UInt64(m))
            var ar = [Float](repeating: 0, count: m * k)
            for r in 0..<m {
                a.withUnsafeBufferPointer { ap in
                    ar.withUnsafeMutableBufferPointer { rp in
                        ActivationRounding.roundTrip(dt, ap.baseAddress! + r * k, rp.baseAddress! + r * k, count: k)
                    }
                }
            }
            #expect(ar != a, "rounding to \(dt.name) changes the activations")
            var c = [Float](repeating: .nan, count: m * n)
            wq.withUnsafeBytes { wb in
                let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
                MatMul.linear(a, lda: k, rows: m, weights: w, into: &c, ldc: n, threads: 2, workspace: MatMulWorkspace())
            }
            var unroundedOff = 0
            for r in 0..<m {
                for j in 0..<n {
                    var s = 0.0, mag = 0.0, plain = 0.0
                    for kk in 0..<k {
                        let p = Double(ar[r * k + kk]) * Double(wd[j * k + kk])
                        s += p
                        mag += abs(p)
                        plain += Double(a[r * k + kk]) * Double(wd[j * k + kk])
                    }
                    let got = Double(c[r * n + j])
                    #expect(abs(got - s) <= 1e-5 * mag, "\(type.name) m=\(m) row \(r) col \(j): \(got) vs \(s)")
                    if abs(got - plain) > 1e-5 * mag { unroundedOff += 1 }
                }
            }
            // The bound is tight enough to tell rounded from unrounded activations.
            #expect(unroundedOff > 0, "\(type.name): the product does not show the \(dt.name) rounding")
        }
    }
}
