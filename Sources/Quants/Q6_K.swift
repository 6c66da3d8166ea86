import GGUF

/// Q6_K: super-blocks of 256 weights in 16 sub-blocks of 16 with signed 8-bit scales;
/// `ql: [128] (low 4 bits), qh: [64] (high 2 bits), scales: [16] int8, d: f16` (210 bytes);
/// y = d·sc·(q − 32).
///
/// Quantization matches ggml-quants.c `quantize_row_q6_K_ref` byte for byte, and with an importance
/// matrix `quantize_q6_K` (→ `quantize_row_q6_K_impl`, which weights make_qx_quants by the raw
/// importance values). Dequantization is `dequantize_row_q6_K`.
enum Q6_K: BlockFormat {
    static let type = GGMLType.q6_K
    static let blockBytes = 210
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// b10572's `ggml_vec_dot_q6_K_q8_K` (AVX2) lanes, unsigned quants and the offset removed per
    /// lane (LaneGEMM+KLanes.swift); ggml never repacks Q6_K on x86.
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 208, repacked: .q6KLanes)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { lb in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { sb in
                let L = lb.baseAddress!, scales = sb.baseAddress!
                for b in 0..<(count / 256) {
                    let xb = x + 256 * b, yb = y + blockBytes * b
                    let qw = importance.map { $0 + 256 * b }
                    if fast {
                        searchLanes(xb, qw, L, scales)
                    } else {
                        for ib in 0..<16 {
                            scales[ib] = makeQXQuants(16, 32, xb + 16 * ib, L + 16 * ib, qw.map { $0 + 16 * ib })
                        }
                    }
                    finish(xb, scales, L, yb)
                }
            }
        }
    }

    /// The sixteen make_qx_quants(16, 32, …) searches as two groups of eight lanes.
    @inline(__always)
    static func searchLanes(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?,
                            _ L: UnsafeMutablePointer<Int8>, _ scales: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 33) { v in
            withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 16) { li in
                let xT = v.baseAddress!, wT = xT + 16, s = xT + 32, LT = li.baseAddress!
                for g in 0..<2 {
                    let xg = x + 128 * g
                    transposeLanes(xg, stride: 16, n: 16, into: xT)
                    if let qw {
                        transposeLanes(qw + 128 * g, stride: 16, n: 16, into: wT)
                    } else {
                        for i in 0..<16 { wT[i] = xT[i] * xT[i] }
                    }
                    makeQXQuantsLanes(Q6KSearch.self, xT, wT, LT, s)
                    for j in 0..<8 {
                        scales[8 * g + j] = s[0][j]
                        let Lj = L + 128 * g + 16 * j
                        for i in 0..<16 { Lj[i] = Int8(truncatingIfNeeded: LT[i][j]) }
                    }
                }
            }
        }
    }

    /// From the sub-block scales and provisional levels to the block: 8-bit scales against the
    /// largest-magnitude scale, fp16 d, requantization against the rounded d·sc, packing.
    @inline(__always)
    static func finish(_ x: UnsafePointer<Float>, _ scales: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                       _ yb: UnsafeMutableRawPointer) {
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for ib in 0..<16 {
            let a = abs(scales[ib])
            if a > maxAbsScale {
                maxAbsScale = a
                maxScale = scales[ib]
            }
        }
        if maxAbsScale < groupMaxEps {
            yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
            yb.storeHalf(0, at: 208)
            return
        }
        let iscale = -128 / maxScale
        yb.storeHalf(1 / iscale, at: 208)
        let sc = (yb + 192).assumingMemoryBound(to: Int8.self)
        for ib in 0..<16 {
            sc[ib] = Int8(truncatingIfNeeded: Swift.min(127, nearestInt(iscale * scales[ib])))
        }
        let d0 = UnsafeRawPointer(yb).loadHalf(at: 208)
        for j in 0..<16 {
            let d = d0 * Float(sc[j])
            if d == 0 { continue }
            let xs = x + 16 * j, Ls = L + 16 * j
            for i in 0..<16 {
                let l = Swift.max(-32, Swift.min(31, nearestInt(xs[i] / d)))
                Ls[i] = Int8(truncatingIfNeeded: l + 32)
            }
        }
        pack(UnsafeRawPointer(L).assumingMemoryBound(to: UInt8.self), yb)
    }

    /// Per half of 128: ql[l] = L[l] | L[l+64] << 4, ql[l+32] = L[l+32] | L[l+96] << 4, and the top
    /// two bits of the four in qh[l].
    @inline(__always)
    static func pack(_ L: UnsafePointer<UInt8>, _ yb: UnsafeMutableRawPointer) {
        let ql = yb.assumingMemoryBound(to: UInt8.self)
        let qh = (yb + 128).assumingMemoryBound(to: UInt8.self)
        for h in 0..<2 {
            let Lh = L + 128 * h, qlh = ql + 64 * h, qhh = qh + 32 * h
            for l in 0..<32 {
                let a = Lh[l], b = Lh[l + 32], c = Lh[l + 64], d = Lh[l + 96]
                qlh[l] = (a & 0xF) | ((c & 0xF) << 4)
                qlh[l + 32] = (b & 0xF) | ((d & 0xF) << 4)
                qhh[l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((d >> 4) << 6)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 208)
            let ql0 = xb.assumingMemoryBound(to: UInt8.self)
            let qh0 = (xb + 128).assumingMemoryBound(to: UInt8.self)
            let sc0 = (xb + 192).assumingMemoryBound(to: Int8.self)
            for h in 0..<2 {
                let ql = ql0 + 64 * h, qh = qh0 + 32 * h, sc = sc0 + 8 * h
                let out = y + 256 * b + 128 * h
                for l in 0..<32 {
                    let s = l / 16
                    let q1 = Int32((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32
                    let q2 = Int32((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32
                    let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                    let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                    out[l] = d * Float(sc[s]) * Float(q1)
                    out[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                    out[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                    out[l + 96] = d * Float(sc[s + 6]) * Float(q4)
                }
            }
        }
    }
}
