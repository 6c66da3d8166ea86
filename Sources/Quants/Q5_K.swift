import GGUF

/// Q5_K: Q4_K's scales plus a fifth bit per weight; `d, dmin: f16, scales: [12], qh: [32], qs: [128]`
/// (176 bytes); y = d·sc·(low4 + 16·bit) − dmin·m.
///
/// Quantization matches ggml-quants.c `quantize_row_q5_K_ref` byte for byte, and with an importance
/// matrix `quantize_q5_K` (→ `quantize_row_q5_K_impl`). Dequantization is `dequantize_row_q5_K`.
enum Q5_K: BlockFormat {
    static let type = GGMLType.q5_K
    static let blockBytes = 176
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, minOffset: 2, mins: .summed)

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
                KQuantScales.quantize(xb, importance: importance.map { $0 + 256 * b }, nmax: 31, yb, L, fast: fast)
                pack(L, yb)
            }
        }
    }

    /// Chunk c of 64 levels: bit 4 of element 64c+l goes to bit 2c of qh[l], of element 64c+32+l
    /// to bit 2c+1; the low 4 bits are packed as in Q4_K.
    @inline(__always)
    static func pack(_ L: UnsafePointer<UInt8>, _ yb: UnsafeMutableRawPointer) {
        let qh = (yb + 16).assumingMemoryBound(to: UInt8.self)
        let ql = (yb + 48).assumingMemoryBound(to: UInt8.self)
        for l in 0..<32 { qh[l] = 0 }
        for c in 0..<4 {
            let lo = L + 64 * c, qc = ql + 32 * c
            let m1 = UInt8(1) << UInt8(2 * c), m2 = UInt8(2) << UInt8(2 * c)
            for l in 0..<32 {
                let l1 = lo[l], l2 = lo[l + 32]
                qh[l] |= (l1 > 15 ? m1 : 0) | (l2 > 15 ? m2 : 0)
                qc[l] = (l1 & 0xF) | ((l2 & 0xF) << 4)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0), dmin = xb.loadHalf(at: 2)
            let scales = (xb + 4).assumingMemoryBound(to: UInt8.self)
            let qh = (xb + 16).assumingMemoryBound(to: UInt8.self)
            let qs = (xb + 48).assumingMemoryBound(to: UInt8.self)
            let out = y + 256 * b
            for c in 0..<4 {
                let (sc1, m1) = scaleMinK4(2 * c, scales)
                let (sc2, m2) = scaleMinK4(2 * c + 1, scales)
                let d1 = d * Float(sc1), mm1 = dmin * Float(m1)
                let d2 = d * Float(sc2), mm2 = dmin * Float(m2)
                let u1 = UInt8(1) << UInt8(2 * c), u2 = UInt8(2) << UInt8(2 * c)
                let ql = qs + 32 * c, o = out + 64 * c
                for l in 0..<32 { o[l] = d1 * Float(Int32(ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - mm1 }
                for l in 0..<32 { o[32 + l] = d2 * Float(Int32(ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - mm2 }
            }
        }
    }
}
