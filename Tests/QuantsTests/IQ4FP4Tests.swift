import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

/// IQ4_NL, IQ4_XS, MXFP4 and NVFP4: the transcribed level tables and scale encodings against ggml,
/// the fast quantizers against their reference twins, and the round-trip error.
@Suite("IQ4_NL, IQ4_XS, MXFP4, NVFP4")
struct IQ4FP4Tests {
    static let types: [GGMLType] = [.iq4_NL, .iq4_XS, .mxfp4, .nvfp4]

    /// Byte j of a nibble run: code j % 16 low, 15 − j % 16 high, so every block meets all sixteen codes.
    static func codes(_ j: Int) -> UInt8 { UInt8(j % 16) | (UInt8(15 - j % 16) << 4) }

    /// ggml b10572's `to_float` of the hand-built blocks below (SHA-256 prefixes of the floats, from a
    /// throwaway C program linked against libggml-base.a): every E8M0 byte, every UE4M3 byte, the
    /// sixteen IQ4 levels at four fp16 scales, and all 64 IQ4_XS block scales.
    static let oracle: [GGMLType: String] = [
        .mxfp4: "3b27ea731f5c", .nvfp4: "572fe233d0c9", .iq4_NL: "036eae62aa2e", .iq4_XS: "95ecd6b161d7",
    ]

    static let halves: [UInt16] = [0x3C00, 0xB800, 0x0001, 0x7BFF]

    /// The blocks behind `oracle`, and their element count.
    static func handBuilt(_ t: GGMLType) -> ([UInt8], Int) {
        var b: [UInt8] = []
        switch t {
        case .mxfp4:  // 256 blocks, e = block index
            for i in 0..<256 { b.append(UInt8(i)); for j in 0..<16 { b.append(codes(j)) } }
            return (b, 256 * 32)
        case .nvfp4:  // 64 blocks, sub-block scales 4i…4i+3
            for i in 0..<64 {
                for s in 0..<4 { b.append(UInt8(4 * i + s)) }
                for k in 0..<32 { b.append(codes(k)) }
            }
            return (b, 64 * 64)
        case .iq4_NL:  // four blocks, d = 1, −0.5, the smallest subnormal, 65504
            for h in halves {
                b += [UInt8(h & 0xFF), UInt8(h >> 8)]
                for j in 0..<16 { b.append(codes(j)) }
            }
            return (b, 4 * 32)
        case .iq4_XS:  // eight super-blocks; block ib of super-block s has ls = 8s + ib
            for s in 0..<8 {
                let h = halves[s % 4]
                var scalesH: UInt16 = 0
                var scalesL = [UInt8](repeating: 0, count: 4)
                for ib in 0..<8 {
                    let ls = 8 * s + ib
                    scalesL[ib / 2] |= UInt8(ls & 15) << UInt8(4 * (ib % 2))
                    scalesH |= UInt16(ls >> 4) << UInt16(2 * ib)
                }
                b += [UInt8(h & 0xFF), UInt8(h >> 8), UInt8(scalesH & 0xFF), UInt8(scalesH >> 8)] + scalesL
                for k in 0..<128 { b.append(codes(k)) }
            }
            return (b, 8 * 256)
        default:
            return ([], 0)
        }
    }

    @Test("the level tables and scale encodings dequantize as ggml's", arguments: types)
    func tablesMatchGGML(_ t: GGMLType) throws {
        let (bytes, count) = Self.handBuilt(t)
        #expect(try #require(t.rowSize(count)) == bytes.count)
        let y = Q.dequantize(t, bytes, count: count)
        #expect(Q.digest(y) == Self.oracle[t])
    }

    @Test("the transcribed tables")
    func tables() {
        #expect(iq4Values == [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113])
        // E2M1 doubled: 0, ½, 1, 1½, 2, 3, 4, 6 and their negatives.
        for i in 0..<8 {
            #expect(fp4Values[i] == [0, 1, 2, 3, 4, 6, 8, 12][i])
            #expect(fp4Values[8 + i] == -fp4Values[i])
        }
        // IQ4_NL with d = 1 reads the table directly.
        let y = Q.dequantize(.iq4_NL, Array(Self.handBuilt(.iq4_NL).0.prefix(18)), count: 32)
        #expect(Array(y.prefix(16)) == iq4Values.map { Float($0) })
    }

    @Test("E8M0 and UE4M3 conversions")
    func scaleConversions() {
        for e in 0...255 {
            #expect(e8m0Half(UInt8(e)) == Float(sign: .plus, exponent: e - 128, significand: 1), "E8M0 \(e)")
        }
        #expect(ue4m3ToFloat(0) == 0 && ue4m3ToFloat(0x7F) == 0)
        #expect(ue4m3ToFloat(0x38) == 0.5)  // exponent 7, mantissa 0: 1, halved
        #expect(ue4m3ToFloat(0x01) == 0.5 / 512)  // smallest subnormal 2^-9, halved
        #expect(ue4m3ToFloat(0x7E) == 224)  // 448, halved
        // Encoding the (unhalved) value of a byte gives the byte back, up to the top exponent.
        for b in 1...0x77 {
            #expect(floatToUE4M3(2 * ue4m3ToFloat(UInt8(b))) == UInt8(b), "UE4M3 \(b)")
        }
        #expect(floatToUE4M3(448) == 0x7E && floatToUE4M3(1e30) == 0x7E && floatToUE4M3(.infinity) == 0x7E)
        #expect(floatToUE4M3(0) == 0 && floatToUE4M3(-1) == 0 && floatToUE4M3(.nan) == 0)
        #expect(floatToUE4M3(0.25 / 512) == 0 && floatToUE4M3(0.5 / 512) == 1)  // subnormals: x·512 + 0.5, truncated
        #expect(floatToUE4M3(1.0 + 1.0 / 16) == 0x39)  // half a mantissa step rounds up
    }

    @Test("levels by midpoint counts equal best_index_int8's bisection")
    func levelCounts() {
        var xs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1e-40, -1e-40, 3e38, -3e38, 200, -200]
        let v = iq4Values.map { Float($0) }
        for k in 0..<16 {
            var points = [v[k]]
            if k < 15 { points.append((v[k] + v[k + 1]) / 2) }
            for p in points {
                var up = p, down = p
                for _ in 0..<300 {
                    xs += [up, down]
                    up = up.nextUp
                    down = down.nextDown
                }
            }
        }
        var g = SplitMix64(seed: 42)
        for _ in 0..<20000 { xs.append(g.nextSignedUnit() * 140) }
        while xs.count % 8 != 0 { xs.append(0) }
        IQ4Search.withScratch { _, _, _, vp, s in
            var wrong = 0
            for c in stride(from: 0, to: xs.count, by: 8) {
                let al = Lanes(xs[c], xs[c + 1], xs[c + 2], xs[c + 3], xs[c + 4], xs[c + 5], xs[c + 6], xs[c + 7])
                let l = IQ4Search.levelIndices(al, s)
                let q = IQ4Search.levelValues(al, s)
                for i in 0..<8 {
                    let want = nearestLevelIndex(vp, al[i])
                    if Int(l[i]) != want { wrong += 1 }
                    if al[i].isFinite && q[i] != v[want] { wrong += 1 }
                }
            }
            #expect(wrong == 0)
        }
    }

    /// Row lengths for the twin comparisons.
    static func lengths(_ t: GGMLType) -> [Int] {
        switch t.blockSize {
        case 256: return [256, 768, 1536]
        case 64: return [64, 128, 576]
        default: return [32, 96, 256, 288, 576]
        }
    }

    @Test("fast and reference bytes agree on random and adversarial rows", arguments: types)
    func twins(_ t: GGMLType) throws {
        for (k, n) in Self.lengths(t).enumerated() {
            for special in [false, true] {
                let x = TwinInputs.rows(seed: UInt64(100 * k + (special ? 7 : 0)) &+ UInt64(t.rawValue), n: n, rows: 6, special: special)
                let rowBytes = try #require(t.rowSize(n))
                let fast = Q.quantize(t, x, rowLength: n)
                let ref = Q.quantize(t, x, rowLength: n, reference: true)
                let same = fast == ref
                #expect(same, "\(t.name) n=\(n) special=\(special): \(TwinTests.firstDifference(fast, ref, rowBytes: rowBytes))")
                let imp = TwinInputs.importance(seed: UInt64(n) &+ 99, n: n)
                let fastW = Q.quantize(t, x, rowLength: n, importance: imp)
                let refW = Q.quantize(t, x, rowLength: n, importance: imp, reference: true)
                let sameW = fastW == refW
                #expect(sameW, "\(t.name) n=\(n) special=\(special) imatrix: \(TwinTests.firstDifference(fastW, refW, rowBytes: rowBytes))")
            }
        }
    }

    @Test("the bytes do not depend on the thread count", arguments: types)
    func threads(_ t: GGMLType) {
        let n = 768
        let x = TwinInputs.rows(seed: 5, n: n, rows: 37, special: false)
        let imp = TwinInputs.importance(seed: 6, n: n)
        #expect(Q.quantize(t, x, rowLength: n, threads: 2) == Q.quantize(t, x, rowLength: n, threads: 1))
        #expect(Q.quantize(t, x, rowLength: n, importance: imp, threads: 3) == Q.quantize(t, x, rowLength: n, importance: imp, threads: 1))
    }

    @Test("total quantization error stays under test-quantize-fns' bounds", arguments: types)
    func totalError(_ t: GGMLType) {
        // test-quantize-fns.cpp: 0.003 for NVFP4, 0.002 for the others.
        let bound: Float = t == .nvfp4 ? 0.003 : 0.002
        for offset: Float in [0, 1] {
            let x = AccuracyTests.testVector(offset: offset)
            let y = Q.dequantize(t, Q.quantize(t, x, rowLength: x.count), count: x.count)
            let e = AccuracyTests.rmse(x, y)
            #expect(e < bound, "\(t.name) offset \(offset): rmse \(e)")
        }
    }

    @Test("the engine multiplies the four types like the scalar reference product",
          arguments: [(GGMLType.iq4_NL, 96), (.iq4_XS, 512), (.mxfp4, 96), (.nvfp4, 192)])
    func matrixProduct(_ t: GGMLType, _ k: Int) throws {
        let m = 29, n = 45
        let a = KernelMatMulTests.gaussian(m * k, seed: 5)
        let wf = KernelMatMulTests.gaussian(n * k, seed: 6, scale: 0.1)
        var wq = [UInt8](repeating: 0, count: try #require(t.rowSize(k)) * n)
        Quantizer.quantize(t, wf, &wq, rows: n, rowLength: k)
        #expect(Quantizer.canMultiply(t))
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: t, rows: n, columns: k, data: wb.baseAddress!)
            var fast = [Float](repeating: .nan, count: m * n)
            var ref = fast
            MatMul.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: n, threads: 2, workspace: MatMulWorkspace())
            MatMul.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: n)
            var worst: Float = 0
            for i in 0..<(m * n) { worst = max(worst, abs(fast[i] - ref[i]) / max(1, abs(ref[i]))) }
            #expect(worst < 1e-5, "\(t): worst relative difference \(worst)")
        }
    }

    @Test("the importance matrix changes IQ4 bytes and is ignored by the fp4 formats", arguments: types)
    func importanceUse(_ t: GGMLType) {
        let n = 512
        let x = TwinInputs.rows(seed: 11, n: n, rows: 2, special: false)
        let imp = TwinInputs.importance(seed: 12, n: n)
        let plain = Q.quantize(t, x, rowLength: n)
        let weighted = Q.quantize(t, x, rowLength: n, importance: imp)
        if t == .mxfp4 || t == .nvfp4 {
            #expect(plain == weighted)
        } else {
            #expect(plain != weighted)
        }
    }
}
