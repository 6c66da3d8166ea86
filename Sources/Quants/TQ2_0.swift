import GGUF

/// TQ2_0 (ternary, 2.0625 bpw): 256 weights per block, `qs: [64], d: f16` (66 bytes);
/// y = (t − 1)·d with t ∈ {0, 1, 2} stored in two bits.
///
/// Each 128-element half of a block uses 32 bytes: bits 2n…2n+1 of byte m hold element m + 32n
/// (n = 0…3) of that half.
///
/// Quantization matches ggml-quants.c `quantize_row_tq2_0_ref` byte for byte (d = max|x|, trits
/// `lroundf(x/d) + 1`); ggml's `quantize_tq2_0` ignores the importance matrix. Dequantization is
/// `dequantize_row_tq2_0`.
enum TQ2_0: BlockFormat {
    static let type = GGMLType.tq2_0
    static let blockBytes = 66
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = false
    /// b10572's AVX2 `ggml_vec_dot_tq2_0_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .tq2)

    /// Byte offset of d inside a block.
    static let scaleOffset = 64

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 256) {
            let xb = x + 256 * b, yb = y + blockBytes * b
            let (amax, nan) = ternaryAbsMax256(xb)
            let id: Float = amax != 0 ? 1 / amax : 0
            guard !nan && amax.isFinite && id.isFinite else {
                quantizeReference(xb, yb, count: 256, importance: nil)
                continue
            }
            yb.storeHalf(amax, at: scaleOffset)
            let q = yb.assumingMemoryBound(to: UInt8.self)
            for half in 0..<2 {
                let xh = xb + 128 * half
                for m in 0..<32 {
                    let v = tameTrit(xh[m] * id) | (tameTrit(xh[m + 32] * id) << 2)
                        | (tameTrit(xh[m + 64] * id) << 4) | (tameTrit(xh[m + 96] * id) << 6)
                    q[32 * half + m] = UInt8(truncatingIfNeeded: v)
                }
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
            for j in stride(from: 0, to: 64, by: 32) {
                for m in 0..<32 {
                    var q: UInt8 = 0
                    for n in 0..<4 {
                        let xi = cLroundfPlusOne(xp[m + n * 32] * id)
                        q = q &+ UInt8(truncatingIfNeeded: (xi & 3) << (2 * Int32(n)))
                    }
                    yb.storeBytes(of: q, toByteOffset: j + m, as: UInt8.self)
                }
                xp += 4 * 32
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: scaleOffset)
            let q = xb.assumingMemoryBound(to: UInt8.self)
            var o = y + 256 * b
            for j in stride(from: 0, to: 64, by: 32) {
                for l in 0..<4 {
                    for m in 0..<32 {
                        let t = Int32((q[j + m] >> UInt8(2 * l)) & 3)
                        o[m] = Float(t - 1) * d
                    }
                    o += 32
                }
            }
        }
    }
}
