import GGUF

/// Q4_K: super-blocks of 256 weights in 8 sub-blocks of 32, each with a 6-bit scale and min;
/// `d: f16, dmin: f16, scales: [12], qs: [128]` (144 bytes); y = d·sc·q − dmin·m.
///
/// Quantization matches ggml-quants.c `quantize_row_q4_K_ref` byte for byte, and with an importance
/// matrix `quantize_q4_K` (→ `quantize_row_q4_K_impl`). Dequantization is `dequantize_row_q4_K`.
enum Q4_K: BlockFormat {
    static let type = GGMLType.q4_K
    static let blockBytes = 144
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, minOffset: 2, mins: .fourLanes,
                                                         repacked: .q4K)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { lb in
            let L = lb.baseAddress!
            for b in 0..<(count / 256) {
                let xb = x + 256 * b, yb = y + blockBytes * b
                KQuantScales.quantize(xb, importance: importance.map { $0 + 256 * b }, nmax: 15, yb, L, fast: fast)
                // Chunk c of 64 levels: sub-block 2c in the low nibbles, 2c+1 in the high ones.
                let q = (yb + 16).assumingMemoryBound(to: UInt8.self)
                for c in 0..<4 {
                    let lo = L + 64 * c, qc = q + 32 * c
                    for l in 0..<32 { qc[l] = lo[l] | (lo[l + 32] << 4) }
                }
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0), dmin = xb.loadHalf(at: 2)
            let scales = (xb + 4).assumingMemoryBound(to: UInt8.self)
            let qs = (xb + 16).assumingMemoryBound(to: UInt8.self)
            let out = y + 256 * b
            for c in 0..<4 {
                let (sc1, m1) = scaleMinK4(2 * c, scales)
                let (sc2, m2) = scaleMinK4(2 * c + 1, scales)
                let d1 = d * Float(sc1), mm1 = dmin * Float(m1)
                let d2 = d * Float(sc2), mm2 = dmin * Float(m2)
                let q = qs + 32 * c, o = out + 64 * c
                for l in 0..<32 { o[l] = d1 * Float(q[l] & 0xF) - mm1 }
                for l in 0..<32 { o[32 + l] = d2 * Float(q[l] >> 4) - mm2 }
            }
        }
    }
}
