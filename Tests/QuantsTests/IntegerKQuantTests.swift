import Foundation
import GGUF
import IntDot
import Testing
import TestSupport
@testable import Quants

/// The integer K-quant kernels (LaneGEMM+KInt.swift, used where `IntDot.vnni`) against the float
/// kernels they replace and the scalar twins, bit for bit, on random blocks (every quant and scale
/// value) and on extreme ones (largest quants and scales, saturated activations).
@Suite("Kernels: integer K-quant products (Q4_K repacked, Q6_K / Q2_K lanes) give the float kernels' bits")
struct IntegerKQuantTests {
    typealias Mix = IntegerKernelTests.Mix

    @Test("dpwssd is s16 × s16 summed in pairs, and toFloat rounds to nearest even")
    func dpwssdDefinition() {
        var g = Mix(s: 3)
        for round in 0..<200 {
            var acc = SIMD16<Int32>(), a = SIMD16<Int32>(), b = SIMD16<Int32>(), expected = SIMD16<Int32>()
            for i in 0..<16 {
                acc[i] = Int32(truncatingIfNeeded: g.next())
                a[i] = Int32(truncatingIfNeeded: g.next())
                b[i] = round % 2 == 0 ? Int32(truncatingIfNeeded: g.next())
                    : (g.next() % 2 == 0 ? Int32(bitPattern: 0x8000_8000) : 0x7FFF_7FFF)
                let lo = Int32(Int16(truncatingIfNeeded: a[i])) &* Int32(Int16(truncatingIfNeeded: b[i]))
                let hi = Int32(Int16(truncatingIfNeeded: a[i] >> 16)) &* Int32(Int16(truncatingIfNeeded: b[i] >> 16))
                expected[i] = acc[i] &+ lo &+ hi
            }
            #expect(IntDot.dpwssd(acc, a, b) == expected)
        }
        var v = SIMD16<Int32>()
        for i in 0..<16 { v[i] = Int32(truncatingIfNeeded: g.next() >> UInt64(33 + i % 8)) * (i % 2 == 0 ? 1 : -1) }
        v[0] = 16_777_217; v[1] = -16_777_219; v[2] = .max; v[3] = .min
        let f = IntDot.toFloat(v)
        for i in 0..<16 { #expect(f[i] == Float(v[i])) }
    }

    @Test("the integer kernels are taken exactly where the CPU has VNNI")
    func dispatch() {
        #expect(LaneGEMM.kIntegerKernel(.q4K) == IntDot.vnni)
        #expect(LaneGEMM.kIntegerKernel(.q6KLanes) == IntDot.vnni)
        #expect(LaneGEMM.kIntegerKernel(.q2KLanes) == IntDot.vnni)
        #expect(!LaneGEMM.kIntegerKernel(.blocks32(scale: .f16)))
    }

    /// `rows` weight rows of `type` from raw bytes: random (every quant, scale and minimum value),
    /// or extreme (every quant, 6-/4-bit scale and minimum at its largest; Q6_K scales ±127/−128);
    /// the f16 scales set to finite values of both signs.
    static func rawWeights(_ type: GGMLType, rows: Int, columns k: Int, extreme: Bool, seed: UInt64) -> [UInt8] {
        var g = Mix(s: seed)
        let ts = type.typeSize, nb = k / 256
        var bytes = [UInt8](repeating: 0, count: rows * nb * ts)
        for i in bytes.indices { bytes[i] = extreme ? 0xFF : UInt8(truncatingIfNeeded: g.next()) }
        bytes.withUnsafeMutableBytes { raw in
            for blk in 0..<(rows * nb) {
                let p = raw.baseAddress! + blk * ts
                @inline(__always) func half(_ off: Int, _ v: Float) { p.storeBytes(of: FP16.fromFloat(v), toByteOffset: off, as: UInt16.self) }
                let d = Float(1 + g.next() % 1000) * 1e-5 * (g.next() % 4 == 0 ? -1 : 1)
                let dmin = Float(1 + g.next() % 1000) * 1e-5
                switch type {
                case .q4_K: half(0, d); half(2, dmin)
                case .q2_K: half(80, d); half(82, dmin)
                case .q6_K:
                    half(208, d)
                    if extreme { for s in 0..<16 { p.storeBytes(of: s % 3 == 0 ? UInt8(0x80) : 0x7F, toByteOffset: 192 + s, as: UInt8.self) } }
                default: preconditionFailure("not a K-quant of this test")
                }
            }
        }
        return bytes
    }

    /// Activations: gaussian with outliers, a row of one constant (every quant ±127), a row of
    /// alternating extremes, and an all-zero row.
    static func activations(m: Int, k: Int, seed: UInt64) -> [Float] {
        var a = KernelMatMulTests.gaussian(m * k, seed: seed)
        for i in stride(from: 0, to: a.count, by: 29) { a[i] *= 25 }
        if m > 1 { for j in 0..<k { a[k + j] = 0.75 } }
        if m > 2 { for j in 0..<k { a[2 * k + j] = (j / 4) % 2 == 0 ? -3 : 3 } }
        if m > 4 { for j in 0..<k { a[4 * k + j] = 0 } }
        return a
    }

    static func run(_ w: WeightMatrix, _ a: [Float], m: Int, ldc: Int, integer: Bool) -> [UInt32] {
        var c = [Float](repeating: .nan, count: m * ldc)
        guard let order = LaneGEMM.repackOrder(w) else { return [] }
        a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
                LaneGEMM.linearRepacked(ap.baseAddress!, lda: w.columns, rows: m, weights: w, order: order,
                                        into: cp.baseAddress!, ldc: ldc, threads: 2, workspace: LaneWorkspace(),
                                        reuseActivations: false, allowInteger: integer)
            }
        }
        return c.map(\.bitPattern)
    }

    @Test("integer and float kernels agree bit for bit on every row count (GEMM and GEMV rows), random and extreme blocks",
          arguments: [(GGMLType.q4_K, false), (.q4_K, true), (.q6_K, false), (.q6_K, true), (.q2_K, false), (.q2_K, true)])
    func integerEqualsFloat(_ type: GGMLType, _ extreme: Bool) {
        let n = 40, k = 768, ldc = n + 1
        let wq = Self.rawWeights(type, rows: n, columns: k, extreme: extreme, seed: extreme ? 11 : 12)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            for m in [1, 3, 4, 7, 12, 14, 27] {
                let a = Self.activations(m: m, k: k, seed: UInt64(200 + m))
                let int = Self.run(w, a, m: m, ldc: ldc, integer: true)
                let flt = Self.run(w, a, m: m, ldc: ldc, integer: false)
                let differing = zip(int, flt).filter { $0 != $1 }.count
                #expect(int.count == flt.count && differing == 0, "\(type) extreme=\(extreme) m=\(m): \(differing) differ")
                let unwritten = (0..<m).reduce(0) { n0, r in n0 + (0..<n).filter { Float(bitPattern: int[r * ldc + $0]).isNaN }.count }
                #expect(unwritten == 0, "\(type) every output written")
            }
        }
    }

    @Test("integer kernels equal the scalar twins (random blocks)", arguments: [GGMLType.q4_K, .q6_K, .q2_K])
    func integerEqualsTwin(_ type: GGMLType) {
        let n = 24, k = 512, m = 6
        let wq = Self.rawWeights(type, rows: n, columns: k, extreme: false, seed: 21)
        let a = Self.activations(m: m, k: k, seed: 22)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            var ref = [Float](repeating: .nan, count: m * n)
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n)
            let int = Self.run(w, a, m: m, ldc: n, integer: true)
            #expect(zip(int, ref.map(\.bitPattern)).filter { $0 != $1 }.isEmpty && int.count == ref.count, "\(type)")
        }
    }

    @Test("reused activations keep the integer quads in step (Q6_K, Q4_K, Q6_K, Int8 Q8_0 on one workspace)")
    func reuse() {
        let m = 9, k = 512, n = 32
        let a = Self.activations(m: m, k: k, seed: 31)
        let q6 = Self.rawWeights(.q6_K, rows: n, columns: k, extreme: false, seed: 32)
        let q4 = Self.rawWeights(.q4_K, rows: n, columns: k, extreme: false, seed: 33)
        let q8 = LaneGEMMTests.weights(.q8_0, rows: n, columns: k, seed: 34)
        q6.withUnsafeBytes { b6 in q4.withUnsafeBytes { b4 in q8.withUnsafeBytes { b8 in
            let w6 = WeightMatrix(type: .q6_K, rows: n, columns: k, data: b6.baseAddress!)
            let w4 = WeightMatrix(type: .q4_K, rows: n, columns: k, data: b4.baseAddress!)
            let w8 = WeightMatrix(type: .q8_0, rows: n, columns: k, data: b8.baseAddress!)
            func go(_ w: WeightMatrix, _ ws: LaneWorkspace, reuse: Bool) -> [UInt32] {
                var c = [Float](repeating: 0, count: m * n)
                LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &c, ldc: n, threads: 2, workspace: ws, reuseActivations: reuse)
                return c.map(\.bitPattern)
            }
            let f6 = go(w6, LaneWorkspace(), reuse: false), f4 = go(w4, LaneWorkspace(), reuse: false)
            let f8 = go(w8, LaneWorkspace(), reuse: false)
            let ws = LaneWorkspace()
            #expect(go(w6, ws, reuse: true) == f6)
            #expect(go(w8, ws, reuse: true) == f8)
            #expect(go(w6, ws, reuse: true) == f6)
            #expect(go(w4, ws, reuse: true) == f4)
            #expect(go(w4, ws, reuse: true) == f4)
            #expect(go(w8, ws, reuse: true) == f8)
            #expect(go(w4, ws, reuse: true) == f4)
        } } }
    }
}
