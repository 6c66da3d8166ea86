import GGUF

/// A UE4M3 scale byte (unsigned, 4 exponent bits with bias 7, 3 mantissa bits) as half of its
/// value (ggml-impl.h `ggml_ue4m3_to_fp32`; halved because the fp4 codes are doubled). Bytes 0 and
/// 0x7F read as 0; exponent 0 is subnormal (m·2^-9).
@inline(__always)
func ue4m3ToFloat(_ x: UInt8) -> Float {
    if x == 0 || x == 0x7F { return 0 }
    let exp = Int((x >> 3) & 0xF), man = Int(x & 0x7)
    let raw: Float
    if exp == 0 {
        raw = Float(sign: .plus, exponent: -9, significand: Float(man))
    } else {
        raw = Float(sign: .plus, exponent: exp - 7, significand: 1 + Float(man) / 8)
    }
    return raw * 0.5
}

/// A positive float to the UE4M3 byte nearest above half a mantissa step (ggml-impl.h
/// `ggml_fp32_to_ue4m3`): non-positive and NaN give 0, values above 448 saturate, the fp32 mantissa
/// is rounded on its fourth bit (half up), overflow past exponent 14 gives 0x7E, and the subnormal
/// range rounds `x·512 + 0.5` down to 1…7 (0 below).
@inline(__always)
func floatToUE4M3(_ value: Float) -> UInt8 {
    guard value > 0 else { return 0 }
    let x: Float = value > 448 ? 448 : value
    let bits = x.bitPattern
    let fp32Exp = Int32((bits >> 23) & 0xFF) - 127
    let fp32Man = Int32((bits >> 20) & 0x7)
    var e = fp32Exp + 7
    if e <= 0 {
        var man = cInt(x * 512 + 0.5)
        if man > 7 { man = 7 }
        if man < 1 { return 0 }
        return UInt8(truncatingIfNeeded: man)
    }
    if e >= 15 { return 0x7E }
    var m = fp32Man + Int32((bits >> 19) & 1)
    if m > 7 {
        m = 0
        e += 1
        if e >= 15 { return 0x7E }
    }
    return UInt8(truncatingIfNeeded: (e << 3) | m)
}

/// NVFP4: 64 weights per block in four sub-blocks of 16, `d: [4] UE4M3, qs: [32]` (per sub-block
/// eight bytes: low nibbles its elements 0–7, high nibbles 8–15) (36 bytes); y = fp4Values[q]·d_s.
///
/// Quantization matches ggml-quants.c `quantize_row_nvfp4_ref` byte for byte (`quantize_nvfp4`
/// ignores the importance matrix): per sub-block the scale is UE4M3(amax / 6), every value goes to
/// its nearest fp4 code against the rounded scale. Dequantization is `dequantize_row_nvfp4`.
enum NVFP4: BlockFormat {
    static let type = GGMLType.nvfp4
    static let blockBytes = 36
    static let blockSize = 64

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 64, scaleOffset: 0, bits: .nvfp4)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 16) { cb in
          fp4ValuesF.withUnsafeBufferPointer { vb in
            let c = cb.baseAddress!, v = vb.baseAddress!
            let zero = Lanes(repeating: 0)
            for b in 0..<(count / 64) {
                let yb = y + blockBytes * b
                let q = (yb + 4).assumingMemoryBound(to: UInt8.self)
                for s in 0..<4 {
                    let xs = x + 64 * b + 16 * s
                    let lo = loadLanes(xs), hi = loadLanes(xs + 8)
                    let ue = floatToUE4M3(largestMagnitude(lo, hi, zero, zero) / 6)
                    yb.storeBytes(of: ue, toByteOffset: s, as: UInt8.self)
                    fp4Candidates(ue4m3ToFloat(ue), v, c)
                    let q0 = fp4Codes(lo, c), q1 = fp4Codes(hi, c)
                    for j in 0..<8 { q[8 * s + j] = UInt8(truncatingIfNeeded: q0[j] | (q1[j] << 4)) }
                }
            }
          }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 64) {
            let yb = y + blockBytes * b
            for s in 0..<4 {
                let xs = x + 64 * b + 16 * s
                var amax: Float = 0
                for j in 0..<16 {
                    if amax < abs(xs[j]) { amax = abs(xs[j]) }
                }
                let ue = floatToUE4M3(amax / 6)
                yb.storeBytes(of: ue, toByteOffset: s, as: UInt8.self)
                let d = ue4m3ToFloat(ue)
                for j in 0..<8 {
                    let q0 = nearestFP4(xs[j], d)
                    let q1 = nearestFP4(xs[8 + j], d)
                    yb.storeBytes(of: q0 | (q1 << 4), toByteOffset: 4 + 8 * s + j, as: UInt8.self)
                }
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        fp4ValuesF.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            for b in 0..<(count / 64) {
                let xb = x + blockBytes * b
                for s in 0..<4 {
                    let d = ue4m3ToFloat(xb.byte(s))
                    let o = y + 64 * b + 16 * s
                    for j in 0..<8 {
                        let q = xb.byte(4 + 8 * s + j)
                        o[j] = v[Int(q & 0x0F)] * d
                        o[8 + j] = v[Int(q >> 4)] * d
                    }
                }
            }
        }
    }
}
