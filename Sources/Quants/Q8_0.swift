import GGUF

/// Q8_0: 32 weights per block, `d: f16, qs: [32] int8` (34 bytes); y = qs·d.
///
/// Quantization matches ggml-quants.c `quantize_row_q8_0_ref` byte for byte (`roundf`, quants from
/// the unrounded f32 d); the importance matrix is ignored, as ggml's `quantize_q8_0` does.
/// Dequantization is `dequantize_row_q8_0`.
enum Q8_0: BlockFormat {
    static let type = GGMLType.q8_0
    static let blockBytes = 34
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 32, scaleOffset: 0, intQuads: .bytes(qs: 2))

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            let (amax, nan) = absMaxLanes32(xb)
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            guard !nan && d.isFinite && id.isFinite else {
                quantizeReference(xb, yb, count: 32, importance: nil)
                continue
            }
            yb.storeHalf(d, at: 0)
            let q = (yb + 2).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { q[j] = Int8(truncatingIfNeeded: roundTame(xb[j] * id)) }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            let (d, id) = scale(xb)
            yb.storeHalf(d, at: 0)
            for j in 0..<32 { yb.storeBytes(of: cInt8(cRoundf(xb[j] * id)), toByteOffset: 2 + j, as: Int8.self) }
        }
    }

    /// d = max|x| / 127 and its inverse (0 when d is 0).
    @inline(__always)
    static func scale(_ xb: UnsafePointer<Float>) -> (d: Float, id: Float) {
        var amax: Float = 0
        for j in 0..<32 {
            let a = abs(xb[j])
            amax = amax > a ? amax : a  // C's MAX(amax, fabsf(v))
        }
        let d = amax / 127
        return (d, d != 0 ? 1 / d : 0)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0)
            let q = (xb + 2).assumingMemoryBound(to: Int8.self)
            let o = y + 32 * b
            for j in 0..<32 { o[j] = Float(q[j]) * d }
        }
    }
}
