import GGUF

/// Q8_K: the activation format of the K-quant dot products (never stored in model files):
/// `d: f32, qs: [256] int8, bsums: [16] int16` (292 bytes); y = d·qs.
///
/// Quantization matches ggml-quants.c `quantize_row_q8_K_ref` byte for byte (the bsums of an
/// all-zero block, which C leaves untouched, are written as 0). Dequantization is
/// `dequantize_row_q8_K`.
enum Q8_K: BlockFormat {
    static let type = GGMLType.q8_K
    static let blockBytes = 292
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = nil
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = nil

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 256) { block(x + 256 * b, y + blockBytes * b, signedAbsMaxLanes(x + 256 * b, 256)) }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        for b in 0..<(count / 256) { block(x + 256 * b, y + blockBytes * b, signedAbsMax(x + 256 * b, 256)) }
    }

    /// One block given its largest |x| and the signed value that has it; the rest is elementwise
    /// or a short integer sum, so it serves both paths.
    @inline(__always)
    static func block(_ xb: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer, _ extremes: (amax: Float, max: Float)) {
        let (amax, max) = extremes
        if amax == 0 {
            yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
            return
        }
        let iscale = -127 / max
        let qs = (yb + 4).assumingMemoryBound(to: Int8.self)
        for j in 0..<256 { qs[j] = Int8(truncatingIfNeeded: Swift.min(127, nearestInt(iscale * xb[j]))) }
        for j in 0..<16 {
            var sum: Int32 = 0
            for i in 0..<16 { sum &+= Int32(qs[16 * j + i]) }
            yb.storeBytes(of: Int16(truncatingIfNeeded: sum).littleEndian, toByteOffset: 260 + 2 * j, as: Int16.self)
        }
        yb.storeBytes(of: (1 / iscale).bitPattern.littleEndian, toByteOffset: 0, as: UInt32.self)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = Float(bitPattern: UInt32(littleEndian: xb.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
            let q = (xb + 4).assumingMemoryBound(to: Int8.self)
            let o = y + 256 * b
            for j in 0..<256 { o[j] = d * Float(q[j]) }
        }
    }
}
