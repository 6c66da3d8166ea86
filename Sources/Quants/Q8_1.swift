import GGUF

/// Q8_1: the activation format of the Q4_1/Q5_1 dot products: `d: f16, s: f16 (d·Σq), qs: [32] int8`
/// (36 bytes); y = qs·d.
///
/// Quantization matches ggml-quants.c `quantize_row_q8_1_ref` byte for byte. ggml has no
/// dequantizer for it; `dequantize` returns qs·d like Q8_0's.
enum Q8_1: BlockFormat {
    static let type = GGMLType.q8_1
    static let blockBytes = 36
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = nil
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = nil

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
            let q = (yb + 4).assumingMemoryBound(to: Int8.self)
            var sum: Int32 = 0
            for j in 0..<32 {
                let v = Int8(truncatingIfNeeded: roundTame(xb[j] * id))
                q[j] = v
                sum &+= Int32(v)
            }
            yb.storeHalf(Float(sum) * d, at: 2)
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            let (d, id) = Q8_0.scale(xb)
            yb.storeHalf(d, at: 0)
            var sum: Int32 = 0
            for j in 0..<16 {
                let q0 = cInt8(cRoundf(xb[j] * id))
                let q1 = cInt8(cRoundf(xb[16 + j] * id))
                yb.storeBytes(of: q0, toByteOffset: 4 + j, as: Int8.self)
                yb.storeBytes(of: q1, toByteOffset: 4 + 16 + j, as: Int8.self)
                sum &+= Int32(q0)
                sum &+= Int32(q1)
            }
            yb.storeHalf(Float(sum) * d, at: 2)
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0)
            let q = (xb + 4).assumingMemoryBound(to: Int8.self)
            let o = y + 32 * b
            for j in 0..<32 { o[j] = Float(q[j]) * d }
        }
    }
}
