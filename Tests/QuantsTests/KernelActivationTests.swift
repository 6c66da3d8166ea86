import Foundation
import GGUF
import Testing
import TestSupport
import Quants

@Suite("Kernels: activation rounding and elementwise math")
struct KernelActivationTests {
    static func data(_ n: Int, seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed)
        var x = (0..<n).map { _ in g.nextGaussian() }
        // An outlier, an all-zero block, exact halves and a negative extreme.
        x[5] = 9.75
        for i in 64..<96 where i < n { x[i] = 0 }
        if n > 300 { x[300] = -12.5; x[301] = 0.5 }
        return x
    }

    @Test("vec_dot types follow ggml-cpu.c type_traits_cpu")
    func dotTypes() {
        #expect(ActivationRounding.dotType(for: .f32) == .f32)
        #expect(ActivationRounding.dotType(for: .f16) == .f16)
        #expect(ActivationRounding.dotType(for: .bf16) == .bf16)
        for t: GGMLType in [.q4_0, .q5_0, .q8_0] { #expect(ActivationRounding.dotType(for: t) == .q8_0) }
        for t: GGMLType in [.q4_1, .q5_1] { #expect(ActivationRounding.dotType(for: t) == .q8_1) }
        for t: GGMLType in [.q4_K, .q5_K, .q6_K] { #expect(ActivationRounding.dotType(for: t) == .q8_K) }
        #expect(ActivationRounding.dotType(for: .q8_K) == nil)
    }

    @Test("fast round trip equals the scalar twin", arguments: [GGMLType.f32, .f16, .bf16, .q8_0, .q8_1, .q8_K])
    func fastMatchesReference(_ t: GGMLType) {
        let x = Self.data(1024, seed: 7)
        var fast = [Float](repeating: 0, count: x.count)
        var ref = fast
        ActivationRounding.roundTrip(t, x, &fast, count: x.count)
        ActivationRounding.roundTripReference(t, x, &ref, count: x.count)
        #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern))
    }

    @Test("Q8_0 activations round half to even like the AVX quantize_row_q8_0")
    func q8_0Ties() {
        // Produced by libggml-cpu (b4748, x86-64) quantize_row_q8_0: with amax 127 the multiplier is 1
        // and ties go to even (roundf would give 1, 3, -1, -3, 101, -101, 127, -127, 8, 64...).
        let x: [Float] = [-127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 100.5, -100.5, 126.5, -126.5, 7.25, -7.75, 0, 63.5]
            + (0..<16).map { Float($0) * 1.25 - 20 }
        let ggml: [Int8] = [-127, 0, 2, 2, 0, -2, -2, 4, 100, -100, 126, -126, 7, -8, 0, 64,
                            -20, -19, -18, -16, -15, -14, -12, -11, -10, -9, -8, -6, -5, -4, -2, -1]
        var block = [UInt8](repeating: 0, count: 34)
        ActivationRounding.quantizeQ8_0Reference(x, &block, count: 32)
        #expect(block[0] == 0x00 && block[1] == 0x3C, "d = fp16(1.0)")
        #expect(block[2...].map { Int8(bitPattern: $0) } == ggml)
        var y = [Float](repeating: 0, count: 32)
        ActivationRounding.roundTrip(.q8_0, x, &y, count: 32)
        #expect(y == ggml.map { Float($0) })
    }

    @Test("Q8_K round trip is quantize_row_q8_K_ref then dequantize")
    func q8_KMatchesBlockQuantizer() {
        let x = Self.data(512, seed: 11)
        var y = [Float](repeating: 0, count: x.count)
        ActivationRounding.roundTrip(.q8_K, x, &y, count: x.count)
        var bytes = [UInt8](repeating: 0, count: 2 * GGMLType.q8_K.typeSize)
        Quantizer.quantize(.q8_K, x, &bytes, rows: 1, rowLength: x.count)
        var z = [Float](repeating: 0, count: x.count)
        Quantizer.dequantize(.q8_K, bytes, &z, count: x.count)
        #expect(y == z)
        #expect(y[64..<96].allSatisfy { $0 == 0 })
    }

    @Test("vector exp is within 2 ulp of expf and saturates like ggml_v_expf")
    func vectorExp() {
        var worst: Float = 0
        var v = SIMD16<Float>()
        for start in stride(from: -100, to: 88, by: 1) {
            for l in 0..<16 { v[l] = Float(start) + Float(l) / 16 + 0.013 }
            let e = VectorMath.exp(v)
            for l in 0..<16 {
                let ref = Foundation.exp(v[l])
                if ref > 1e-37 { worst = max(worst, abs(e[l] - ref) / ref.ulp) }
            }
        }
        #expect(worst <= 2)
        let edge = VectorMath.exp(SIMD16<Float>([-200, -110, 100, 0, 1, -1, 0.5, -87.5, 88.5, -.infinity, 5, 6, 7, 8, 9, 10]))
        #expect(edge[0] == 0 && edge[9] == 0)
        #expect(edge[2] == .infinity)
        #expect(edge[3] == 1)
        #expect(edge[1] >= 0 && edge[1] <= Float.leastNonzeroMagnitude)
    }

    @Test("vector exp equals its scalar twin (ggml's AVX2 ggml_v_expf, operation by operation) on every lane")
    func vectorExpTwin() {
        var g = SplitMix64(seed: 77)
        var values: [Float] = [0, -0, 1, -1, 88.3, 88.4, 89, -87, -100, -103.9, -104, -150, 150, 200, -200, -.infinity, .infinity]
        for _ in 0..<4000 { values.append(g.nextGaussian() * 30) }
        for _ in 0..<1000 { values.append(g.nextGaussian() * 0.01) }
        while values.count % 16 != 0 { values.append(0.5) }
        for i in stride(from: 0, to: values.count, by: 16) {
            let v = SIMD16<Float>(values[i..<(i + 16)])
            let e = VectorMath.exp(v)
            for l in 0..<16 {
                let r = VectorMath.expReference(v[l])
                #expect(e[l].bitPattern == r.bitPattern, "exp(\(v[l])): \(e[l]) vs \(r)")
            }
        }
        // Lanes out of range share a vector with lanes in range: each lane keeps its own branch.
        let mixed = VectorMath.exp(SIMD16<Float>([1, -200, 2, 100, 3, -130, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]))
        #expect(mixed[0] == VectorMath.expReference(1) && mixed[1] == 0 && mixed[3] == .infinity)
        #expect(mixed[5] == VectorMath.expReference(-130))
    }

    @Test("softmax with a cell phase equals the plain row with that many masked cells in front")
    func softmaxPhase() {
        var g = SplitMix64(seed: 91)
        for valid in [1, 5, 8, 13, 40, 100] {
            for phase in 0..<8 {
                let scores = (0..<valid).map { _ in g.nextGaussian() * 3 }
                var row = scores + [Float](repeating: 0, count: 16)
                VectorMath.softmaxRow(&row, valid: valid, scale: 0.125, phase: phase)
                var shifted = [Float](repeating: -.infinity, count: phase) + scores + [Float](repeating: 0, count: 16)
                VectorMath.softmaxRow(&shifted, valid: valid + phase, scale: 0.125)
                #expect(row[0..<valid].map(\.bitPattern) == shifted[phase..<(phase + valid)].map(\.bitPattern),
                        "valid \(valid), phase \(phase)")
                #expect(shifted[0..<phase].allSatisfy { $0 == 0 })
            }
        }
    }

    @Test("softmax row sums to one, zeroes the padded lanes, matches a double softmax")
    func softmaxRow() {
        for valid in [1, 7, 16, 33, 100] {
            var g = SplitMix64(seed: UInt64(valid))
            let padded = (valid + 15) / 16 * 16
            var row = (0..<padded).map { _ in g.nextGaussian() * 4 }
            let input = Array(row[0..<valid])
            VectorMath.softmaxRow(&row, valid: valid, scale: 1)
            let m = input.max()!
            let e = input.map { Foundation.exp(Double($0 - m)) }
            let s = e.reduce(0, +)
            for j in 0..<valid { #expect(abs(Double(row[j]) - e[j] / s) < 1e-6) }
            #expect(row[valid..<padded].allSatisfy { $0 == 0 })
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        }
    }

    @Test("SiLU: vector lanes within 4 ulp of the scalar formula (ggml_v_expf error + division), tail exact")
    func silu() {
        let x = (0..<37).map { Float($0) * 0.7 - 12 }
        var y = [Float](repeating: 0, count: x.count)
        VectorMath.silu(x, &y, count: x.count)
        for i in 0..<x.count {
            let s = VectorMath.siluScalar(x[i])
            if i >= 32 { #expect(y[i] == s) } else { #expect(abs(y[i] - s) <= 4 * max(abs(s).ulp, Float.leastNormalMagnitude)) }
        }
    }
}
