import GGUF

/// Q1_0 (binary, 1.125 bpw): 128 weights per block, `d: f16, qs: [16]` (18 bytes); bit j of the
/// block (bit j % 8 of byte j / 8) set means +d, clear means −d.
///
/// Quantization matches ggml-quants.c `quantize_row_q1_0_ref` byte for byte: d is the mean |x|
/// of the block (summed in index order, divided by 128), a bit is set for x ≥ 0 (so −0 is +, NaN
/// is −). ggml's `quantize_q1_0` with an importance matrix quantizes each row the same way, so the
/// importance is ignored. Dequantization is `dequantize_row_q1_0`.
enum Q1_0: BlockFormat {
    static let type = GGMLType.q1_0
    static let blockBytes = 18
    static let blockSize = 128

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 128, scaleOffset: 0, bits: .q1_0)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        let bitValues = LaneInts(1, 2, 4, 8, 16, 32, 64, 128)
        let zero = Lanes(repeating: 0)
        for b in 0..<(count / 128) {
            let xb = x + 128 * b, yb = y + blockBytes * b
            yb.storeHalf(meanMagnitude(xb), at: 0)
            // One byte per 8 elements: the lanes that are ≥ 0 contribute their bit.
            for k in 0..<16 {
                let set = intBits(loadLanes(xb + 8 * k) .>= zero)
                yb.storeBytes(of: UInt8(truncatingIfNeeded: laneAnd(set, bitValues).wrappedSum()),
                              toByteOffset: 2 + k, as: UInt8.self)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 128) {
            let xb = x + 128 * b, yb = y + blockBytes * b
            var sumAbs: Float = 0
            for j in 0..<128 { sumAbs += abs(xb[j]) }
            let d = sumAbs / 128
            yb.storeHalf(d, at: 0)
            for j in 0..<16 { yb.storeBytes(of: 0, toByteOffset: 2 + j, as: UInt8.self) }
            for j in 0..<128 where xb[j] >= 0 {
                let byte = yb.load(fromByteOffset: 2 + j / 8, as: UInt8.self)
                yb.storeBytes(of: byte | (1 << UInt8(j % 8)), toByteOffset: 2 + j / 8, as: UInt8.self)
            }
        }
    }

    /// Σ|x| / 128 with the sum in index order (one dependent chain, as C's loop runs it).
    @inline(__always)
    static func meanMagnitude(_ xb: UnsafePointer<Float>) -> Float {
        var s: Float = 0
        for j in 0..<128 { s += abs(xb[j]) }
        return s / 128
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 128) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0)
            let negD = -d
            let o = y + 128 * b
            for j in 0..<128 {
                let bit = (xb.byte(2 + j / 8) >> UInt8(j % 8)) & 1
                o[j] = bit != 0 ? d : negD
            }
        }
    }
}
