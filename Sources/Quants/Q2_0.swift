import GGUF

/// Q2_0 (2.25 bpw): 64 weights per block, `d: f16, qs: [16]` (18 bytes); bits 2(j % 4)…2(j % 4)+1
/// of byte j / 4 hold q ∈ 0…3 and y = (q − 1)·d.
///
/// Quantization matches ggml-quants.c `quantize_row_q2_0_ref` byte for byte: d = max|x| (NaN
/// skipped), q = `(int)roundf(x/d) + 1` clamped to 0…3 (C's float-to-int conversion gives INT_MIN
/// for NaN and ±inf, so those become 0). ggml's `quantize_q2_0` with an importance matrix quantizes
/// each row the same way, so the importance is ignored. Dequantization is `dequantize_row_q2_0`.
enum Q2_0: BlockFormat {
    static let type = GGMLType.q2_0
    static let blockBytes = 18
    static let blockSize = 64

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 64, scaleOffset: 0, bits: .q2_0)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 64) {
            let xb = x + 64 * b, yb = y + blockBytes * b
            let (a0, nan0) = absMaxLanes32(xb)
            let (a1, nan1) = absMaxLanes32(xb + 32)
            let amax = a1 > a0 ? a1 : a0
            let id: Float = amax > 0 ? 1 / amax : 0
            // Blocks with NaN or inf data, or whose 1/d overflows, take the reference path.
            guard !nan0 && !nan1 && amax.isFinite && id.isFinite else {
                quantizeReference(xb, yb, count: 64, importance: nil)
                continue
            }
            yb.storeHalf(amax, at: 0)
            // |x·id| ≤ 1 here, so q is 0, 1 or 2: the trit of the ternary formats.
            for k in 0..<16 {
                let p = xb + 4 * k
                let v = tameTrit(p[0] * id) | (tameTrit(p[1] * id) << 2)
                    | (tameTrit(p[2] * id) << 4) | (tameTrit(p[3] * id) << 6)
                yb.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: 2 + k, as: UInt8.self)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 64) {
            let xb = x + 64 * b, yb = y + blockBytes * b
            var amax: Float = 0
            for j in 0..<64 {
                let a = abs(xb[j])
                if a > amax { amax = a }
            }
            let d = amax
            let id: Float = d > 0 ? 1 / d : 0
            yb.storeHalf(d, at: 0)
            for j in 0..<16 { yb.storeBytes(of: 0, toByteOffset: 2 + j, as: UInt8.self) }
            for j in 0..<64 {
                var q = cInt(cRoundf(xb[j] * id)) &+ 1
                if q < 0 { q = 0 }
                if q > 3 { q = 3 }
                let byte = yb.load(fromByteOffset: 2 + j / 4, as: UInt8.self)
                yb.storeBytes(of: byte | (UInt8(truncatingIfNeeded: q) << UInt8((j % 4) * 2)),
                              toByteOffset: 2 + j / 4, as: UInt8.self)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 64) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0)
            let o = y + 64 * b
            for j in 0..<64 {
                let q = (xb.byte(2 + j / 4) >> UInt8((j % 4) * 2)) & 0x03
                o[j] = Float(Int32(q) - 1) * d
            }
        }
    }
}
