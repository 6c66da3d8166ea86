import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

/// Q2_K and Q3_K beyond the golden digests: test-quantize-fns' error bounds, twins on wider data,
/// and hand-built blocks.
@Suite("Q2_K and Q3_K")
struct Q2KQ3KTests {
    /// test-quantize-fns.cpp: MAX_QUANTIZATION_TOTAL_ERROR_2BITS and _3BITS.
    static let bounds: [(GGMLType, Float)] = [(.q2_K, 0.0075), (.q3_K, 0.0040)]

    @Test("total quantization error stays under test-quantize-fns' bounds (0.0075, 0.0040)")
    func totalError() {
        for (type, bound) in Self.bounds {
            for offset: Float in [0, 1] {
                let x = AccuracyTests.testVector(offset: offset)
                let e = AccuracyTests.rmse(x, Q.dequantize(type, Q.quantize(type, x, rowLength: x.count), count: x.count))
                #expect(e < bound, "\(type.name) offset \(offset): rmse \(e)")
                let w = [Float](repeating: 1, count: x.count)
                let yw = Q.dequantize(type, Q.quantize(type, x, rowLength: x.count, importance: w), count: x.count)
                let ew = AccuracyTests.rmse(x, yw)
                #expect(ew < bound, "\(type.name) offset \(offset) imatrix: rmse \(ew)")
            }
        }
        let x = AccuracyTests.testVector(offset: 0)
        func err(_ t: GGMLType) -> Float { AccuracyTests.rmse(x, Q.dequantize(t, Q.quantize(t, x, rowLength: x.count), count: x.count)) }
        #expect(err(.q3_K) < err(.q2_K))
        #expect(err(.q4_K) < err(.q3_K))
    }

    @Test("fast and reference quantizers agree on random and adversarial rows (±0, inf, NaN, huge, tiny)")
    func twins() throws {
        for t in [GGMLType.q2_K, .q3_K] {
            for (k, n) in [256, 768, 1536].enumerated() {
                for special in [false, true] {
                    let x = TwinInputs.rows(seed: UInt64(100 * k + (special ? 7 : 0)) &+ UInt64(t.rawValue), n: n, rows: 6, special: special)
                    let rowBytes = try #require(t.rowSize(n))
                    let imp = TwinInputs.importance(seed: UInt64(n) &+ 99, n: n)
                    for w in [nil, imp] {
                        let fast = Q.quantize(t, x, rowLength: n, importance: w)
                        let ref = Q.quantize(t, x, rowLength: n, importance: w, reference: true)
                        #expect(fast == ref, "\(t.name) n=\(n) special=\(special) imatrix=\(w != nil): \(TwinTests.firstDifference(fast, ref, rowBytes: rowBytes))")
                        #expect(Q.quantize(t, x, rowLength: n, importance: w, threads: 3) == fast)
                    }
                }
            }
            // The golden rows with every importance kind, at a length the fixture does not have.
            for kind in GoldenInputs.kinds {
                let x = GoldenInputs.rows(kind, n: 1024, rows: 3)
                for imp in ["none", "random", "sparse"] {
                    let w = GoldenInputs.importance(imp, n: 1024)
                    #expect(Q.quantize(t, x, rowLength: 1024, importance: w)
                        == Q.quantize(t, x, rowLength: 1024, importance: w, reference: true), "\(t.name) \(kind) \(imp)")
                }
            }
        }
    }

    @Test("hand-built blocks dequantize as the formats define")
    func handBuilt() {
        // Q2_K: d = 1, dmin = 0.5; sub-block 0 scale 3 / min 2, sub-block 9 scale 15 / min 1.
        var b2 = [UInt8](repeating: 0, count: 84)
        b2[0] = 0x23
        b2[9] = 0x1F
        b2[80] = 0x00; b2[81] = 0x3C  // fp16 1.0
        b2[82] = 0x00; b2[83] = 0x38  // fp16 0.5
        b2[16 + 0] = 0b11_10_01_00  // elements 0, 32, 64, 96: levels 0, 1, 2, 3
        b2[16 + 32 + 16] = 0b0000_0011  // element 128 + 16 = 144 (sub-block 9): level 3
        let y2 = Q.dequantize(.q2_K, b2, count: 256)
        #expect(y2[0] == -1)  // 3·0 − 0.5·2
        #expect(y2[1] == -1)
        #expect(y2[32] == 0)  // sub-block 2: scale 0, min 0
        #expect(y2[144] == 15 * 3 - 0.5)
        #expect(y2[145] == -0.5)

        // Q3_K: d = 0.5; sub-block 0 stored 33 (scale 1), sub-block 13 stored 0 (scale −32).
        var b3 = [UInt8](repeating: 0, count: 110)
        b3[96 + 0] = 33 & 0xF  // low nibble of j = 0
        b3[96 + 8] = UInt8(33 >> 4)  // top bits of j = 0 (byte 8, pair 0)
        b3[108] = 0x00; b3[109] = 0x38  // fp16 0.5
        b3[0] = 0b0000_0001  // element 0 has the high bit: level 4 + low bits
        b3[32] = 0b0000_0010  // element 0 low bits 2
        let y3 = Q.dequantize(.q3_K, b3, count: 256)
        #expect(y3[0] == 0.5 * 1 * Float(2 + 4 - 4))
        #expect(y3[1] == 0.5 * 1 * -4)
        // Sub-block 13 (elements 208…223): stored 0 in the high nibble of byte 5, top bits 0.
        #expect(y3[208] == 0.5 * -32 * -4)
        // Sub-blocks with stored value 0 everywhere else: scale −32.
        #expect(y3[16] == 0.5 * -32 * -4)
    }

    @Test("the engine multiplies Q2_K and Q3_K weights (threaded product equals the scalar reference)")
    func engine() {
        #expect(Quantizer.canMultiply(.q2_K) && Quantizer.canMultiply(.q3_K))
        let m = 29, n = 45, k = 512
        let a = KernelMatMulTests.gaussian(m * k, seed: 5)
        let wf = KernelMatMulTests.gaussian(n * k, seed: 6, scale: 0.1)
        for type in [GGMLType.q2_K, .q3_K] {
            var wq = [UInt8](repeating: 0, count: type.rowSize(k)! * n)
            Quantizer.quantize(type, wf, &wq, rows: n, rowLength: k)
            wq.withUnsafeBytes { wb in
                let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
                var fast = [Float](repeating: .nan, count: m * n), ref = fast
                MatMul.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: n, threads: 3, workspace: MatMulWorkspace())
                MatMul.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n)
                var worst: Float = 0
                for i in 0..<(m * n) { worst = max(worst, abs(fast[i] - ref[i]) / max(1, abs(ref[i]))) }
                #expect(worst < 1e-5, "\(type.name): worst relative difference \(worst)")
            }
        }
    }

    @Test("Q3_K scale packing round-trips every 6-bit level in every position")
    func scalePacking() {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 12) { b in
            let sc = b.baseAddress!
            for level in Int32(0)..<64 {
                for j in 0..<16 {
                    for k in 0..<12 { sc[k] = 0 }
                    Q3_K.packScale(j, level, sc)
                    #expect(Q3_K.scale(j, UnsafePointer(sc)) == level - 32)
                    for other in 0..<16 where other != j { #expect(Q3_K.scale(other, UnsafePointer(sc)) == -32) }
                }
            }
        }
    }
}

/// Timings, run only on request (release build):
/// `SWIFT_GGUF_BENCH=1 swift test -c release --scratch-path .build-quants --filter Q2KQ3KBenchmarks`.
/// Prints ms of this thread's CPU time (best of five) for a 576 × 1536 matrix of the golden "random" rows.
@Suite("Q2_K and Q3_K benchmarks", .enabled(if: ProcessInfo.processInfo.environment["SWIFT_GGUF_BENCH"] != nil))
struct Q2KQ3KBenchmarks {
    @Test("ms per 576 × 1536 matrix, fast and reference, with and without importance")
    func kernels() {
        let n = 1536, rows = 576
        let x = GoldenInputs.rows("random", n: n, rows: rows)
        let imp = GoldenInputs.importance("random", n: n)!
        var out = [UInt8](repeating: 0, count: n * rows)
        print("type  importance  fast ms  reference ms")
        for type in [GGMLType.q2_K, .q3_K, .q4_K] {
            for weighted in [false, true] {
                x.withUnsafeBufferPointer { xp in
                    imp.withUnsafeBufferPointer { ip in
                        out.withUnsafeMutableBytes { op in
                            func run(_ reference: Bool) -> Double {
                                QuantBenchmarks.time {
                                    Quantizer.quantize(type, xp.baseAddress!, op.baseAddress!, rows: rows, rowLength: n,
                                                       importance: weighted ? ip.baseAddress : nil, threads: 1, reference: reference)
                                } / 1e6
                            }
                            let fast = run(false), ref = run(true)
                            print("\(type.name)  \(weighted ? "yes" : "no ")  \(String(format: "%8.1f  %8.1f", fast, ref))")
                        }
                    }
                }
            }
        }
    }
}
