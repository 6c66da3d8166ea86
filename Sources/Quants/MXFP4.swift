#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GGUF

/// The E2M1 (fp4) code points doubled to integers, shared by MXFP4 and NVFP4 (ggml-common.h
/// `kvalues_fp4`, from the OCP microscaling spec): codes 0–7 are 0, 0.5, 1, 1.5, 2, 3, 4, 6 and
/// codes 8–15 their negatives (code 8 is −0). Because they are doubled, the block scales are
/// stored halved (`e8m0Half`, `ue4m3ToFloat`).
let fp4Values: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

/// `fp4Values` as floats, for the scans.
let fp4ValuesF: [Float] = fp4Values.map { Float($0) }

/// An E8M0 scale byte as half of its value, 2^(e − 128) (ggml-impl.h `ggml_e8m0_to_fp32_half`):
/// bytes 0 and 1 are the subnormals 2^-128 and 2^-127, byte 255 is not treated as NaN.
@inline(__always)
func e8m0Half(_ e: UInt8) -> Float {
    if e < 2 { return Float(bitPattern: UInt32(0x0020_0000) << UInt32(e)) }
    return Float(bitPattern: (UInt32(e) - 1) << 23)
}

/// The code whose scaled value `fp4Values[i]·d` is nearest to `x`, the lowest code on ties
/// (ggml-quants.c `best_index_mxfp4`: |v·d − x| over the sixteen codes, strict improvement).
@inline(__always)
func nearestFP4(_ x: Float, _ d: Float) -> UInt8 {
    fp4ValuesF.withUnsafeBufferPointer { v in
        var best: UInt8 = 0
        var bestErr = abs(v[0] * d - x)
        for i in 1..<16 {
            let err = abs(v[i] * d - x)
            if err < bestErr {
                best = UInt8(i)
                bestErr = err
            }
        }
        return best
    }
}

/// The sixteen scaled code values `fp4Values[i]·d` as lane vectors, for `fp4Codes`.
@inline(__always)
func fp4Candidates(_ d: Float, _ v: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Lanes>) {
    for i in 0..<16 { c[i] = Lanes(repeating: v[i] * d) }
}

/// `nearestFP4` on every lane: the same errors |v·d − x| compared in the same order.
@inline(__always)
func fp4Codes(_ x: Lanes, _ c: UnsafePointer<Lanes>) -> LaneInts {
    var best = LaneInts(repeating: 0)
    var bestErr = absLanes(c[0] - x)
    for i in 1..<16 {
        let err = absLanes(c[i] - x)
        let better = err .< bestErr
        best = laneSelect(better, LaneInts(repeating: Int32(i)), best)
        bestErr = laneSelect(better, err, bestErr)
    }
    return best
}

/// The largest |x| of four lane vectors, NaNs skipped (C's `if (amax < fabsf(v)) amax = fabsf(v)`).
@inline(__always)
func largestMagnitude(_ a: Lanes, _ b: Lanes, _ c: Lanes, _ d: Lanes) -> Float {
    var m = Lanes(repeating: 0)
    @inline(__always) func fold(_ v: Lanes) {
        let t = absLanes(v)
        m = laneSelect(t .> m, t, m)
    }
    fold(a); fold(b); fold(c); fold(d)
    return horizontalMax(m)
}

/// MXFP4: 32 weights per block, `e: E8M0, qs: [16]` (low nibbles elements 0–15, high nibbles
/// 16–31) (17 bytes); y = fp4Values[q]·2^(e − 128).
///
/// Quantization matches ggml-quants.c `quantize_row_mxfp4_ref` byte for byte (`quantize_mxfp4`
/// ignores the importance matrix): e = ⌊log2 amax⌋ − 2 + 127 as C's `(uint8_t)` of a float, every
/// value to its nearest code. Dequantization is `dequantize_row_mxfp4`.
enum MXFP4: BlockFormat {
    static let type = GGMLType.mxfp4
    static let blockBytes = 17
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = false
    /// Repacked by ggml with a multiple of 8 rows (`mxfp4_8x8_q8_0`, one chain per output); other
    /// row counts take `ggml_vec_dot_mxfp4_q8_0`, whose order the blocked f32 product only approximates.
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 32, scaleOffset: 0, repacked: .blocks32(scale: .e8m0Half),
                                                         lanesUnlessRepacked: false)

    /// The block exponent byte for a block whose largest |x| is `amax` (C's
    /// `(uint8_t)(floorf(log2f(amax)) - 2 + 127)`, 0 for an all-zero block). Tiny blocks wrap as C's
    /// cast does on x86-64 (through a 32-bit integer).
    @inline(__always)
    static func exponent(_ amax: Float) -> UInt8 {
        guard amax > 0 else { return 0 }
        let f: Float = floorf(log2f(amax)) - 2 + 127
        return cUInt8(f)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 16) { cb in
          fp4ValuesF.withUnsafeBufferPointer { vb in
            let c = cb.baseAddress!, v = vb.baseAddress!
            for b in 0..<(count / 32) {
                let xb = x + 32 * b, yb = y + blockBytes * b
                let x0 = loadLanes(xb), x1 = loadLanes(xb + 8), x2 = loadLanes(xb + 16), x3 = loadLanes(xb + 24)
                let e = exponent(largestMagnitude(x0, x1, x2, x3))
                yb.storeBytes(of: e, as: UInt8.self)
                fp4Candidates(e8m0Half(e), v, c)
                let q0 = fp4Codes(x0, c), q1 = fp4Codes(x1, c), q2 = fp4Codes(x2, c), q3 = fp4Codes(x3, c)
                let q = (yb + 1).assumingMemoryBound(to: UInt8.self)
                for i in 0..<8 {
                    q[i] = UInt8(truncatingIfNeeded: q0[i] | (q2[i] << 4))
                    q[8 + i] = UInt8(truncatingIfNeeded: q1[i] | (q3[i] << 4))
                }
            }
          }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            var amax: Float = 0
            for j in 0..<32 {
                let v = xb[j]
                if amax < abs(v) { amax = abs(v) }
            }
            let e = exponent(amax)
            let d = e8m0Half(e)
            yb.storeBytes(of: e, as: UInt8.self)
            for j in 0..<16 {
                let q0 = nearestFP4(xb[j], d)
                let q1 = nearestFP4(xb[16 + j], d)
                yb.storeBytes(of: q0 | (q1 << 4), toByteOffset: 1 + j, as: UInt8.self)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        fp4ValuesF.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            for b in 0..<(count / 32) {
                let xb = x + blockBytes * b
                let d = e8m0Half(xb.byte(0))
                let o = y + 32 * b
                for j in 0..<16 {
                    let q = xb.byte(1 + j)
                    o[j] = v[Int(q & 0x0F)] * d
                    o[16 + j] = v[Int(q >> 4)] * d
                }
            }
        }
    }
}
