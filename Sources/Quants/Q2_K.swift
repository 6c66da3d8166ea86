import GGUF

/// Q2_K: super-blocks of 256 weights in 16 sub-blocks of 16, each with a 4-bit scale and a 4-bit
/// min in one byte; `scales: [16], qs: [64] (2-bit levels), d: f16, dmin: f16` (84 bytes);
/// y = d·(sc & 15)·q − dmin·(sc >> 4).
///
/// Quantization matches ggml-quants.c `quantize_row_q2_K_ref` byte for byte (make_qkx2 with the
/// absolute-error criterion, scales against the largest scale and min), and with an importance
/// matrix `quantize_q2_K` (→ `quantize_row_q2_K_impl`: make_qkx3, then make_qp_quants for the
/// sub-block scales and mins). Dequantization is `dequantize_row_q2_K`.
enum Q2_K: BlockFormat {
    static let type = GGMLType.q2_K
    static let blockBytes = 84
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// `ggml_vec_dot_q2_K_q8_K` (AVX2) at every row count (b10572 repacks Q2_K only on AVX-512):
    /// eight lanes, the minimum terms fused into them (LaneGEMM+KLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 80, repacked: .q2KLanes)

    // Byte offsets inside a block.
    static let scalesOffset = 0, qsOffset = 16, dOffset = 80, dminOffset = 82

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        // floats: scales[16], mins[16], sw[16], weights[16]; bytes: L[256], Laux[16], Ls[16], Lm[16].
        withScratch(floats: 64, bytes: 304) { f, bytes in
            let scales = f, mins = f + 16, sw = f + 32, weights = f + 48
            let L = bytes, laux = bytes + 256, Ls = bytes + 272, Lm = bytes + 288
            if fast {
                quantizeLanes(x, y, count: count, importance: importance, scales, mins, sw, L, Ls, Lm)
                return
            }
            for b in 0..<(count / 256) {
                let xb = x + 256 * b, yb = y + blockBytes * b
                if let importance {
                    let qw = importance + 256 * b
                    searchWeighted(xb, qw, weights, sw, laux, L, scales, mins)
                    headerWeighted(scales, mins, sw, Ls, Lm, yb)
                } else {
                    searchReference(xb, weights, laux, L, scales, mins)
                    headerReference(scales, mins, yb)
                }
                requantize(xb, yb, L)
                pack(L, yb)
            }
        }
    }

    /// The fast path: the sixteen sub-block searches as two groups of eight lanes (same bytes).
    static func quantizeLanes(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                              importance: UnsafePointer<Float>?,
                              _ scales: UnsafeMutablePointer<Float>, _ mins: UnsafeMutablePointer<Float>,
                              _ sw: UnsafeMutablePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                              _ Ls: UnsafeMutablePointer<UInt8>, _ Lm: UnsafeMutablePointer<UInt8>) {
        // Lanes: xT[16], wT[16], laux[16], result[2]; LaneInts: the levels of both groups, LT[32].
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 50) { v in
            withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 32) { li in
                let xT = v.baseAddress!, wT = xT + 16, laux = xT + 32, result = xT + 48, LT = li.baseAddress!
                for b in 0..<(count / 256) {
                    let xb = x + 256 * b, yb = y + blockBytes * b
                    if let importance {
                        let qw = importance + 256 * b
                        var sumX2: Float = 0
                        for l in 0..<256 { sumX2 += xb[l] * xb[l] }
                        let sigma2 = sumX2 / 256
                        for g in 0..<2 {
                            transposeLanes(xb + 128 * g, stride: 16, n: 16, into: xT)
                            transposeLanes(qw + 128 * g, stride: 16, n: 16, into: wT)
                            var sumw = Lanes()
                            for l in 0..<16 {
                                let xl = xT[l]
                                let wl = wT[l] * (sigma2 + xl * xl).squareRoot()
                                wT[l] = wl
                                sumw += wl
                            }
                            makeQKXQuantsLanes(Q2KWeightedSearch.self, xT, wT, LT + 16 * g, laux, result)
                            for j in 0..<8 {
                                sw[8 * g + j] = sumw[j]
                                scales[8 * g + j] = result[0][j]
                                mins[8 * g + j] = result[1][j]
                            }
                        }
                        headerWeighted(scales, mins, sw, Ls, Lm, yb)
                    } else {
                        for g in 0..<2 {
                            transposeLanes(xb + 128 * g, stride: 16, n: 16, into: xT)
                            for l in 0..<16 { wT[l] = absLanes(xT[l]) }
                            makeQKXQuantsLanes(Q2KReferenceSearch.self, xT, wT, LT + 16 * g, laux, result)
                            for j in 0..<8 {
                                scales[8 * g + j] = result[0][j]
                                mins[8 * g + j] = result[1][j]
                            }
                        }
                        headerReference(scales, mins, yb)
                    }
                    let skipped = requantizeLanes(xb, yb, L)
                    if skipped != 0 {
                        for j in 0..<16 where (skipped >> UInt16(j)) & 1 != 0 {
                            let Lg = LT + 16 * (j / 8), lane = j % 8
                            for i in 0..<16 { L[16 * j + i] = UInt8(truncatingIfNeeded: Lg[i][lane]) }
                        }
                    }
                    pack(L, yb)
                }
            }
        }
    }

    /// quantize_row_q2_K_ref's searches: make_qkx2(16, 3, …, −0.5, 0.1, 15) weighted by |x|, with
    /// the absolute error.
    static func searchReference(_ x: UnsafePointer<Float>, _ weights: UnsafeMutablePointer<Float>,
                                _ laux: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<UInt8>,
                                _ scales: UnsafeMutablePointer<Float>, _ mins: UnsafeMutablePointer<Float>) {
        for j in 0..<16 {
            let xs = x + 16 * j
            for l in 0..<16 { weights[l] = abs(xs[l]) }
            scales[j] = makeQKX2Quants(16, 3, xs, weights, L + 16 * j, &mins[j], laux,
                                       rmin: -0.5, rdelta: 0.1, nstep: 15, useMad: true)
        }
    }

    /// quantize_row_q2_K_impl's searches: weights qw·√(σ² + x²) with σ² the block's mean square,
    /// make_qkx3(16, 3, …, −0.9, 0.05, 36); `sw` gets the sub-block weight sums.
    static func searchWeighted(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>,
                               _ weights: UnsafeMutablePointer<Float>, _ sw: UnsafeMutablePointer<Float>,
                               _ laux: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<UInt8>,
                               _ scales: UnsafeMutablePointer<Float>, _ mins: UnsafeMutablePointer<Float>) {
        var sumX2: Float = 0
        for l in 0..<256 { sumX2 += x[l] * x[l] }
        let sigma2 = sumX2 / 256
        for j in 0..<16 {
            let xs = x + 16 * j, q = qw + 16 * j
            for l in 0..<16 { weights[l] = q[l] * (sigma2 + xs[l] * xs[l]).squareRoot() }
            var sumw: Float = 0
            for l in 0..<16 { sumw += weights[l] }
            sw[j] = sumw
            scales[j] = makeQKX3Quants(16, 3, xs, weights, L + 16 * j, &mins[j], laux,
                                       rmin: -0.9, rdelta: 0.05, nstep: 36)
        }
    }

    /// The reference header: 4-bit scales and mins against the largest of each, d = max/15.
    @inline(__always)
    static func headerReference(_ scales: UnsafePointer<Float>, _ mins: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer) {
        let sc = (yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<16 {
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        if maxScale > 0 {
            let iscale = 15 / maxScale
            // C stores the int level into a uint8_t: the low byte.
            for j in 0..<16 { sc[j] = UInt8(truncatingIfNeeded: nearestInt(iscale * scales[j])) }
            yb.storeHalf(maxScale / 15, at: dOffset)
        } else {
            for j in 0..<16 { sc[j] = 0 }
            yb.storeHalf(0, at: dOffset)
        }
        if maxMin > 0 {
            let iscale = 15 / maxMin
            for j in 0..<16 { sc[j] |= UInt8(truncatingIfNeeded: nearestInt(iscale * mins[j]) << 4) }
            yb.storeHalf(maxMin / 15, at: dminOffset)
        } else {
            yb.storeHalf(0, at: dminOffset)
        }
    }

    /// The importance header: make_qp_quants(16, 15, …) over the scales and over the mins, weighted
    /// by the sub-block weight sums.
    @inline(__always)
    static func headerWeighted(_ scales: UnsafePointer<Float>, _ mins: UnsafePointer<Float>, _ sw: UnsafePointer<Float>,
                               _ Ls: UnsafeMutablePointer<UInt8>, _ Lm: UnsafeMutablePointer<UInt8>,
                               _ yb: UnsafeMutableRawPointer) {
        let dm = makeQPQuants(16, 15, scales, Ls, sw)
        let mm = makeQPQuants(16, 15, mins, Lm, sw)
        yb.storeHalf(dm, at: dOffset)
        yb.storeHalf(mm, at: dminOffset)
        let sc = (yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 { sc[j] = Ls[j] | (Lm[j] << 4) }
    }

    /// Levels against the fp16-rounded d·(sc & 15) and dmin·(sc >> 4). Sub-blocks whose d·sc is 0
    /// keep the levels of the search; their bits are returned.
    @inline(__always) @discardableResult
    static func requantize(_ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>) -> UInt16 {
        let sc = UnsafeRawPointer(yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        let d0 = UnsafeRawPointer(yb).loadHalf(at: dOffset)
        let m0 = UnsafeRawPointer(yb).loadHalf(at: dminOffset)
        var skipped: UInt16 = 0
        for j in 0..<16 {
            let d = d0 * Float(sc[j] & 0xF)
            if d == 0 {
                skipped |= UInt16(1) << UInt16(j)
                continue
            }
            let dm = m0 * Float(sc[j] >> 4)
            let xs = x + 16 * j, Ls = L + 16 * j
            for i in 0..<16 {
                let l = nearestInt((xs[i] + dm) / d)
                Ls[i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(3, l)))
            }
        }
        return skipped
    }

    /// `requantize` eight elements at a time (the same division and rounding per element).
    @inline(__always)
    static func requantizeLanes(_ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>) -> UInt16 {
        let sc = UnsafeRawPointer(yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        let d0 = UnsafeRawPointer(yb).loadHalf(at: dOffset)
        let m0 = UnsafeRawPointer(yb).loadHalf(at: dminOffset)
        var skipped: UInt16 = 0
        for j in 0..<16 {
            let d = d0 * Float(sc[j] & 0xF)
            if d == 0 {
                skipped |= UInt16(1) << UInt16(j)
                continue
            }
            let dm = Lanes(repeating: m0 * Float(sc[j] >> 4)), dv = Lanes(repeating: d)
            for h in 0..<2 {
                let l = laneClamp(nearestInt((loadLanes(x + 16 * j + 8 * h) + dm) / dv), 0, 3)
                let out = L + 16 * j + 8 * h
                for k in 0..<8 { out[k] = UInt8(truncatingIfNeeded: l[k]) }
            }
        }
        return skipped
    }

    /// Per half of 128: qs[l] holds the levels l, l+32, l+64, l+96 in bit pairs 0, 2, 4, 6.
    @inline(__always)
    static func pack(_ L: UnsafePointer<UInt8>, _ yb: UnsafeMutableRawPointer) {
        let qs = (yb + qsOffset).assumingMemoryBound(to: UInt8.self)
        for h in 0..<2 {
            let Lh = L + 128 * h, q = qs + 32 * h
            for l in 0..<32 {
                q[l] = Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: dOffset), dmin = xb.loadHalf(at: dminOffset)
            let sc = (xb + scalesOffset).assumingMemoryBound(to: UInt8.self)
            let qs = (xb + qsOffset).assumingMemoryBound(to: UInt8.self)
            for h in 0..<2 {
                let q = qs + 32 * h
                for j in 0..<4 {
                    let shift = UInt8(2 * j)
                    // Elements 128h + 32j + l: sub-blocks 8h + 2j (l < 16) and 8h + 2j + 1.
                    let out = y + 256 * b + 128 * h + 32 * j
                    let s0 = sc[8 * h + 2 * j], s1 = sc[8 * h + 2 * j + 1]
                    let dl0 = d * Float(s0 & 0xF), ml0 = dmin * Float(s0 >> 4)
                    let dl1 = d * Float(s1 & 0xF), ml1 = dmin * Float(s1 >> 4)
                    for l in 0..<16 { out[l] = dl0 * Float((q[l] >> shift) & 3) - ml0 }
                    for l in 16..<32 { out[l] = dl1 * Float((q[l] >> shift) & 3) - ml1 }
                }
            }
        }
    }
}

/// make_qkx2_quants(16, 3, …, −0.5, 0.1, 15, use_mad) of quantize_row_q2_K_ref.
enum Q2KReferenceSearch: QKXSearch {
    static var n: Int { 16 }
    static var nmax: Int32 { 3 }
    static var rmin: Float { -0.5 }
    static var rdelta: Float { 0.1 }
    static var nstep: Int { 15 }
    static var qkx3: Bool { false }
    static var useMad: Bool { true }
}

/// make_qkx3_quants(16, 3, …, −0.9, 0.05, 36) of quantize_row_q2_K_impl.
enum Q2KWeightedSearch: QKXSearch {
    static var n: Int { 16 }
    static var nmax: Int32 { 3 }
    static var rmin: Float { -0.9 }
    static var rdelta: Float { 0.05 }
    static var nstep: Int { 36 }
    static var qkx3: Bool { true }
}
