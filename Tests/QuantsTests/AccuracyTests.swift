import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

@Suite("Quantization accuracy and round trips")
struct AccuracyTests {
    /// ggml's synthetic test data (tests/test-quantize-fns.cpp `generate_data`): 0.1 + 2·cos(i + offset).
    static func testVector(offset: Float, count: Int = 4096) -> [Float] {
        (0..<count).map { i in Float(0.1 + Double(2 * cos(Float(i) + offset))) }
    }

    /// test-quantize-fns.cpp `array_rmse`: sqrt(Σ diff²) / n, summed in double.
    static func rmse(_ a: [Float], _ b: [Float]) -> Float {
        var sum = 0.0
        for i in a.indices {
            let d = Double(a[i] - b[i])
            sum += d * d
        }
        return Float(sum.squareRoot()) / Float(a.count)
    }

    static let types: [GGMLType] = [.q8_0, .q8_1, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K, .q8_K]

    @Test("total quantization error stays under test-quantize-fns' bound (0.002)", arguments: types)
    func totalError(_ type: GGMLType) {
        for offset: Float in [0, 1] {
            let x = Self.testVector(offset: offset)
            let y = Q.dequantize(type, Q.quantize(type, x, rowLength: x.count), count: x.count)
            let e = Self.rmse(x, y)
            #expect(e < 0.002, "\(type.name) offset \(offset): rmse \(e)")
            // The importance-weighted search must be at least as usable (uniform importance).
            let w = [Float](repeating: 1, count: x.count)
            let yw = Q.dequantize(type, Q.quantize(type, x, rowLength: x.count, importance: w), count: x.count)
            let ew = Self.rmse(x, yw)
            #expect(ew < 0.002, "\(type.name) offset \(offset) imatrix: rmse \(ew)")
        }
    }

    @Test("more bits give smaller errors on the test vector")
    func ordering() {
        let x = Self.testVector(offset: 0)
        func err(_ t: GGMLType) -> Float { Self.rmse(x, Q.dequantize(t, Q.quantize(t, x, rowLength: x.count), count: x.count)) }
        #expect(err(.q8_0) < err(.q5_0))
        #expect(err(.q5_0) < err(.q4_0))
        #expect(err(.q6_K) < err(.q5_K))
        #expect(err(.q5_K) < err(.q4_K))
        #expect(err(.q5_1) < err(.q4_1))
    }

    @Test("values already on the grid quantize back to the same bytes", arguments: [GGMLType.q8_0, .q4_0, .q5_0])
    func gridRoundTrip(_ type: GGMLType) {
        var g = SplitMix64(seed: 17)
        let x = (0..<(32 * 64)).map { _ in g.nextGaussian() * 0.03 }
        let q = Q.quantize(type, x, rowLength: x.count)
        let y = Q.dequantize(type, q, count: x.count)
        #expect(Q.quantize(type, y, rowLength: y.count) == q)
        #expect(Q.quantize(type, y, rowLength: y.count, reference: true) == q)
        #expect(Q.dequantize(type, Q.quantize(type, y, rowLength: y.count), count: y.count) == y)
    }

    @Test("every finite f16 and a sweep of bf16 values round-trip exactly")
    func halfRoundTrip() {
        var bad = 0
        for h in 0...UInt16.max where (h & 0x7C00) != 0x7C00 || (h & 0x03FF) == 0 {
            if FP16.fromFloat(FP16.toFloat(h)) != h { bad += 1 }
        }
        #expect(bad == 0)
        for h in stride(from: 0, through: Int(UInt16.max), by: 7) where (h & 0x7F80) != 0x7F80 || (h & 0x7F) == 0 {
            let b = UInt16(h)
            if BF16.fromFloat(BF16.toFloat(b)) != b { bad += 1 }
        }
        #expect(bad == 0)
        // NaN becomes the canonical quiet NaN, keeping the sign (ggml).
        #expect(FP16.fromFloat(-Float.nan) == 0xFE00)
        #expect(FP16.fromFloat(Float(bitPattern: 0x7F80_0001)) == 0x7E00)
    }

    @Test("block sizes and byte counts agree with the type table")
    func layout() {
        for t in Self.types {
            guard let f = Quantizer.format(t) else {
                Issue.record("no format for \(t)")
                continue
            }
            #expect(f.type == t)
            #expect(f.blockBytes == t.typeSize, "\(t.name)")
            #expect(f.blockSize == t.blockSize, "\(t.name)")
            #expect(Quantizer.canQuantize(t) && Quantizer.canDequantize(t))
        }
        for t in [GGMLType.f32, .f16, .bf16] { #expect(Quantizer.canQuantize(t) && Quantizer.canDequantize(t)) }
        for t in [GGMLType.i32, .i8, .f64] { #expect(!Quantizer.canQuantize(t) && !Quantizer.canDequantize(t)) }
    }

    @Test("Q4_K and Q6_K dequantize hand-built blocks as the format defines")
    func handBuiltBlocks() {
        // Q4_K: d = 1, dmin = 0.5; sub-block 0 scale 2 / min 3, sub-block 5 scale 17 / min 33.
        var b4 = [UInt8](repeating: 0, count: 144)
        b4[0] = 0x00; b4[1] = 0x3C  // fp16 1.0
        b4[2] = 0x00; b4[3] = 0x38  // fp16 0.5
        b4.withUnsafeMutableBufferPointer { p in
            let sc = p.baseAddress! + 4
            packScaleMinK4(0, 2, 3, sc)
            packScaleMinK4(5, 17, 33, sc)
            p[16] = 0x97  // qs[0]: element 0 (sub-block 0) = 7, element 32 (sub-block 1) = 9
            p[16 + 64] = 0x0C  // qs[64]: element 128 (sub-block 4) = 12, element 160 (sub-block 5) = 0
            p[16 + 65] = 0xA0  // qs[65]: element 129 = 0, element 161 (sub-block 5) = 10
        }
        let y4 = Q.dequantize(.q4_K, b4, count: 256)
        #expect(y4[0] == 2 * 7 - 0.5 * 3)
        #expect(y4[32] == 0 * 9 - 0)  // sub-block 1 has scale 0 and min 0
        #expect(y4[161] == 17 * 10 - 0.5 * 33)
        #expect(y4[160] == -0.5 * 33)
        // Q6_K: d = 0.25, scale[3] = -2, element 48 (half 0, l = 16, second quarter → sc[1+2]) = 5 − 32.
        var b6 = [UInt8](repeating: 0, count: 210)
        b6[208] = 0x00; b6[209] = 0x34  // fp16 0.25
        b6[192 + 3] = UInt8(bitPattern: -2)
        b6[32 + 16] = 0x05  // ql[l + 32] low nibble → element 32 + 16
        b6[128 + 16] = 0x04  // qh[16] bits 2-3 = 1 → +16 for element 48
        let y6 = Q.dequantize(.q6_K, b6, count: 256)
        #expect(y6[48] == 0.25 * -2 * Float(5 + 16 - 32))
    }
}
