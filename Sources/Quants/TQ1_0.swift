import GGUF

/// TQ1_0 (ternary, 1.6875 bpw): 256 weights per block, `qs: [48], qh: [4], d: f16` (54 bytes);
/// y = (t − 1)·d with t ∈ {0, 1, 2}.
///
/// Trits are packed in base 3, five per byte in `qs` and four per byte in `qh` (shifted up one
/// trit), then the byte is scaled from [0, 243) to [0, 256) rounding up, so that a trit is read
/// back as the high byte of `(byte · 3^n mod 256) · 3`. Element order in a block:
/// `qs[0..<32]` hold elements m + 32n (n = 0…4, the first trit most significant), `qs[32..<48]`
/// hold 160 + m + 16n, `qh[j]` holds 240 + j + 4n (n = 0…3).
///
/// Quantization matches ggml-quants.c `quantize_row_tq1_0_ref` byte for byte (d = max|x|, trits
/// `lroundf(x/d) + 1`); ggml's `quantize_tq1_0` ignores the importance matrix. Dequantization is
/// `dequantize_row_tq1_0`.
enum TQ1_0: BlockFormat {
    static let type = GGMLType.tq1_0
    static let blockBytes = 54
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = false
    /// b10572's AVX2 `ggml_vec_dot_tq1_0_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .tq1)

    /// Byte offsets inside a block.
    static let qhOffset = 48, scaleOffset = 52

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 256) {
            let xb = x + 256 * b, yb = y + blockBytes * b
            let (amax, nan) = ternaryAbsMax256(xb)
            let id: Float = amax != 0 ? 1 / amax : 0
            // Non-finite data or scale (NaN, inf, a subnormal block whose 1/d overflows) takes
            // the reference path, where every odd case of lroundf is spelled out.
            guard !nan && amax.isFinite && id.isFinite else {
                quantizeReference(xb, yb, count: 256, importance: nil)
                continue
            }
            yb.storeHalf(amax, at: scaleOffset)
            let q = yb.assumingMemoryBound(to: UInt8.self)
            for m in 0..<32 {
                var v: Int32 = 0
                for n in 0..<5 { v = v * 3 + tameTrit(xb[m + 32 * n] * id) }
                q[m] = ternaryByte(v)
            }
            let x2 = xb + 160
            for m in 0..<16 {
                var v: Int32 = 0
                for n in 0..<5 { v = v * 3 + tameTrit(x2[m + 16 * n] * id) }
                q[32 + m] = ternaryByte(v)
            }
            let x3 = xb + 240
            for j in 0..<4 {
                var v: Int32 = 0
                for n in 0..<4 { v = v * 3 + tameTrit(x3[j + 4 * n] * id) }
                q[qhOffset + j] = ternaryByte(v * 3)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 256) {
            var xp = x + 256 * b
            let yb = y + blockBytes * b
            var amax: Float = 0
            for j in 0..<256 {
                let a = abs(xp[j])
                amax = amax > a ? amax : a  // C's MAX(amax, fabsf(v))
            }
            let d = amax
            let id: Float = d != 0 ? 1 / d : 0
            yb.storeHalf(d, at: scaleOffset)
            // Five trits per byte over 32 bytes (elements m + 32n).
            for m in 0..<32 {
                var q: UInt8 = 0
                for n in 0..<5 {
                    let xi = cLroundfPlusOne(xp[m + n * 32] * id)
                    q = q &* 3
                    q = q &+ UInt8(truncatingIfNeeded: xi)
                }
                yb.storeBytes(of: ceilTo256(q), toByteOffset: m, as: UInt8.self)
            }
            xp += 5 * 32
            // Five trits per byte over the next 16 bytes (elements m + 16n).
            for m in 0..<16 {
                var q: UInt8 = 0
                for n in 0..<5 {
                    let xi = cLroundfPlusOne(xp[m + n * 16] * id)
                    q = q &* 3
                    q = q &+ UInt8(truncatingIfNeeded: xi)
                }
                yb.storeBytes(of: ceilTo256(q), toByteOffset: 32 + m, as: UInt8.self)
            }
            xp += 5 * 16
            // Four trits per byte in qh (elements j + 4m), moved up to the top trit.
            for j in 0..<4 {
                var q: UInt8 = 0
                for m in 0..<4 {
                    let xi = cLroundfPlusOne(xp[j + m * 4] * id)
                    q = q &* 3
                    q = q &+ UInt8(truncatingIfNeeded: xi)
                }
                q = q &* 3
                yb.storeBytes(of: ceilTo256(q), toByteOffset: qhOffset + j, as: UInt8.self)
            }
        }
    }

    /// C's `((uint16_t)q * 256 + (243 - 1)) / 243` stored back into a uint8_t.
    @inline(__always)
    static func ceilTo256(_ q: UInt8) -> UInt8 { UInt8(truncatingIfNeeded: (Int32(q) * 256 + 242) / 243) }

    /// The ternary digit `n` (0 = most significant) of a scaled byte: the high byte of
    /// `(q · 3^n mod 256) · 3`, minus 1.
    @inline(__always)
    static func trit(_ q: UInt8, _ pow3: UInt8) -> Float {
        let r = q &* pow3
        return Float(((Int32(r) * 3) >> 8) - 1)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: scaleOffset)
            let q = xb.assumingMemoryBound(to: UInt8.self)
            let o = y + 256 * b
            var p: UInt8 = 1  // 3^n
            for n in 0..<5 {
                for m in 0..<32 { o[32 * n + m] = trit(q[m], p) * d }
                for m in 0..<16 { o[160 + 16 * n + m] = trit(q[32 + m], p) * d }
                if n < 4 {
                    for j in 0..<4 { o[240 + 4 * n + j] = trit(q[qhOffset + j], p) * d }
                }
                p = p &* 3
            }
        }
    }
}

/// C's `int xi = lroundf(v) + 1` on x86-64 glibc: round half away from zero; for NaN, ±inf and
/// |v| ≥ 2^63 lroundf returns LONG_MIN, whose low 32 bits plus one are 1.
@inline(__always)
func cLroundfPlusOne(_ v: Float) -> Int32 {
    guard v.isFinite, abs(v) < 0x1p63 else { return 1 }
    return Int32(truncatingIfNeeded: Int64(v.rounded(.toNearestOrAwayFromZero)) &+ 1)
}

/// `lroundf(v) + 1` for a finite |v| < 1.5 (a value scaled by 1/max|x|): 0, 1 or 2, without branches.
@inline(__always)
func tameTrit(_ v: Float) -> Int32 {
    (v >= 0.5 ? 1 : 0) - (v <= -0.5 ? 1 : 0) + 1
}

/// A base-3 number of five trits (0…242) scaled to a byte, rounding up (see `TQ1_0.ceilTo256`).
@inline(__always)
func ternaryByte(_ v: Int32) -> UInt8 { UInt8(truncatingIfNeeded: (v * 256 + 242) / 243) }

/// The largest |x| of a 256-block and whether it holds a NaN (C's running MAX restarts from a NaN,
/// so such blocks go to the reference path).
@inline(__always)
func ternaryAbsMax256(_ x: UnsafePointer<Float>) -> (amax: Float, hasNaN: Bool) {
    var amax: Float = 0
    var nan = false
    for k in 0..<8 {
        let (a, n) = absMaxLanes32(x + 32 * k)
        if a > amax { amax = a }
        nan = nan || n
    }
    return (amax, nan)
}
