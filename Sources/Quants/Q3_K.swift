import GGUF

/// Q3_K: super-blocks of 256 weights in 16 sub-blocks of 16 with 6-bit signed scales;
/// `hmask: [32] (high bit of each level), qs: [64] (low 2 bits), scales: [12], d: f16` (110 bytes);
/// y = d·(sc − 32)·(q − 4), q = low bits + 4·high bit.
///
/// Quantization matches ggml-quants.c `quantize_row_q3_K_ref` byte for byte (make_q3_quants per
/// sub-block, scales against the largest-magnitude one), and with an importance matrix
/// `quantize_q3_K` (→ `quantize_row_q3_K_impl`: make_qx_quants for the levels and again for the
/// scales). Dequantization is `dequantize_row_q3_K`.
enum Q3_K: BlockFormat {
    static let type = GGMLType.q3_K
    static let blockBytes = 110
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// `ggml_vec_dot_q3_K_q8_K` (AVX2): lane L sums the elements at offsets 4L..<4L+4 of every
    /// 32-element chunk times their sub-block scale (sc − 32), `acc_L = fma(d_a·d_w, sum_L, acc_L)`
    /// per super-block, then the eight-lane tree (as Q6_K; ggml never repacks Q3_K).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 108)

    // Byte offsets inside a block.
    static let hmaskOffset = 0, qsOffset = 32, scalesOffset = 96, dOffset = 108

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        // floats: scales[16], sw[16], weights[16]; bytes: L[256], Ls[16].
        withScratch(floats: 48, bytes: 272) { f, bytes in
            let scales = f, sw = f + 16, weights = f + 32
            let L = UnsafeMutableRawPointer(bytes).assumingMemoryBound(to: Int8.self), Ls = L + 256
            if fast {
                quantizeLanes(x, y, count: count, importance: importance, scales, sw, L, Ls)
                return
            }
            for b in 0..<(count / 256) {
                let xb = x + 256 * b, yb = y + blockBytes * b
                if let importance {
                    searchWeighted(xb, importance + 256 * b, weights, sw, L, scales)
                    headerWeighted(scales, sw, Ls, yb)
                } else {
                    for j in 0..<16 { scales[j] = makeQ3Quants(16, 4, xb + 16 * j, L + 16 * j) }
                    headerReference(scales, yb)
                }
                requantize(xb, yb, L)
                pack(L, yb)
            }
        }
    }

    /// The fast path: the sixteen sub-block searches as two groups of eight lanes (same bytes).
    static func quantizeLanes(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                              importance: UnsafePointer<Float>?,
                              _ scales: UnsafeMutablePointer<Float>, _ sw: UnsafeMutablePointer<Float>,
                              _ L: UnsafeMutablePointer<Int8>, _ Ls: UnsafeMutablePointer<Int8>) {
        // Lanes: xT[16], wT[16], result[1]; LaneInts: the levels of both groups, LT[32].
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 33) { v in
            withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 32) { li in
                let xT = v.baseAddress!, wT = xT + 16, result = xT + 32, LT = li.baseAddress!
                for b in 0..<(count / 256) {
                    let xb = x + 256 * b, yb = y + blockBytes * b
                    if let importance {
                        let qw = importance + 256 * b
                        var sumX2: Float = 0
                        for l in 0..<256 { sumX2 += xb[l] * xb[l] }
                        let sigma2 = 2 * sumX2 / 256
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
                            makeQXQuantsLanes(Q3KSearch.self, xT, wT, LT + 16 * g, result)
                            for j in 0..<8 {
                                sw[8 * g + j] = sumw[j]
                                scales[8 * g + j] = result[0][j]
                            }
                        }
                        headerWeighted(scales, sw, Ls, yb)
                    } else {
                        for g in 0..<2 {
                            transposeLanes(xb + 128 * g, stride: 16, n: 16, into: xT)
                            makeQ3QuantsLanes(xT, LT + 16 * g, result)
                            for j in 0..<8 { scales[8 * g + j] = result[0][j] }
                        }
                        headerReference(scales, yb)
                    }
                    let skipped = requantizeLanes(xb, yb, L)
                    if skipped != 0 {
                        for j in 0..<16 where (skipped >> UInt16(j)) & 1 != 0 {
                            let Lg = LT + 16 * (j / 8), lane = j % 8
                            for i in 0..<16 { L[16 * j + i] = Int8(truncatingIfNeeded: Lg[i][lane]) }
                        }
                    }
                    pack(L, yb)
                }
            }
        }
    }

    /// quantize_row_q3_K_impl's searches: weights qw·√(σ² + x²) with σ² twice the block's mean
    /// square, make_qx_quants(16, 4, …); `sw` gets the sub-block weight sums.
    static func searchWeighted(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>,
                               _ weights: UnsafeMutablePointer<Float>, _ sw: UnsafeMutablePointer<Float>,
                               _ L: UnsafeMutablePointer<Int8>, _ scales: UnsafeMutablePointer<Float>) {
        var sumX2: Float = 0
        for l in 0..<256 { sumX2 += x[l] * x[l] }
        let sigma2 = 2 * sumX2 / 256
        for j in 0..<16 {
            let xs = x + 16 * j, q = qw + 16 * j
            for l in 0..<16 { weights[l] = q[l] * (sigma2 + xs[l] * xs[l]).squareRoot() }
            var sumw: Float = 0
            for l in 0..<16 { sumw += weights[l] }
            sw[j] = sumw
            scales[j] = makeQXQuants(16, 4, xs, L + 16 * j, weights)
        }
    }

    /// Stores the 6-bit level `l` (0…63) of sub-block `j`: low 4 bits in the nibbles of bytes 0…7
    /// (j < 8 low, j ≥ 8 high), the top 2 bits in bytes 8…11 (byte 8 + j%4, bit pair j/4).
    @inline(__always)
    static func packScale(_ j: Int, _ l: Int32, _ sc: UnsafeMutablePointer<UInt8>) {
        if j < 8 {
            sc[j] = UInt8(truncatingIfNeeded: l & 0xF)
        } else {
            sc[j - 8] |= UInt8(truncatingIfNeeded: (l & 0xF) << 4)
        }
        sc[j % 4 + 8] |= UInt8(truncatingIfNeeded: (l >> 4) << (2 * (j / 4)))
    }

    /// The signed scale (−32…31) of sub-block `j`.
    @inline(__always)
    static func scale(_ j: Int, _ sc: UnsafePointer<UInt8>) -> Int32 {
        let low = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4
        let high = (sc[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
        return Int32(low | (high << 4)) - 32
    }

    /// The reference header: 6-bit scales against the largest-magnitude scale, d = −max/32.
    @inline(__always)
    static func headerReference(_ scales: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer) {
        let sc = (yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        for j in 0..<12 { sc[j] = 0 }
        var maxScale: Float = 0, amax: Float = 0
        for j in 0..<16 {
            let a = abs(scales[j])
            if a > amax {
                amax = a
                maxScale = scales[j]
            }
        }
        if maxScale != 0 {
            let iscale = -32 / maxScale
            for j in 0..<16 {
                // `int8_t l = nearest_int(...)`: the low byte, then clamped and offset.
                let l8 = Int32(Int8(truncatingIfNeeded: nearestInt(iscale * scales[j])))
                let l = Int32(Int8(truncatingIfNeeded: Swift.max(-32, Swift.min(31, l8)) + 32))
                packScale(j, l, sc)
            }
            yb.storeHalf(1 / iscale, at: dOffset)
        } else {
            yb.storeHalf(0, at: dOffset)
        }
    }

    /// The importance header: make_qx_quants(16, 32, …) over the scales, weighted by the sub-block
    /// weight sums; its levels (0…63) are the stored scales.
    @inline(__always)
    static func headerWeighted(_ scales: UnsafePointer<Float>, _ sw: UnsafePointer<Float>,
                               _ Ls: UnsafeMutablePointer<Int8>, _ yb: UnsafeMutableRawPointer) {
        let sc = (yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        for j in 0..<12 { sc[j] = 0 }
        let dBlock = makeQXQuants(16, 32, scales, Ls, sw)
        for j in 0..<16 { packScale(j, Int32(Ls[j]), sc) }
        yb.storeHalf(dBlock, at: dOffset)
    }

    /// Levels (offset by 4) against the fp16-rounded d·sc. Sub-blocks whose d·sc is 0 keep the
    /// levels of the search; their bits are returned.
    @inline(__always) @discardableResult
    static func requantize(_ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<Int8>) -> UInt16 {
        let sc = UnsafeRawPointer(yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        let d0 = UnsafeRawPointer(yb).loadHalf(at: dOffset)
        var skipped: UInt16 = 0
        for j in 0..<16 {
            let d = d0 * Float(scale(j, sc))
            if d == 0 {
                skipped |= UInt16(1) << UInt16(j)
                continue
            }
            let xs = x + 16 * j, Ls = L + 16 * j
            for i in 0..<16 {
                let l = Swift.max(-4, Swift.min(3, nearestInt(xs[i] / d)))
                Ls[i] = Int8(truncatingIfNeeded: l + 4)
            }
        }
        return skipped
    }

    /// `requantize` eight elements at a time (the same division and rounding per element).
    @inline(__always)
    static func requantizeLanes(_ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<Int8>) -> UInt16 {
        let sc = UnsafeRawPointer(yb + scalesOffset).assumingMemoryBound(to: UInt8.self)
        let d0 = UnsafeRawPointer(yb).loadHalf(at: dOffset)
        var skipped: UInt16 = 0
        for j in 0..<16 {
            let d = d0 * Float(scale(j, sc))
            if d == 0 {
                skipped |= UInt16(1) << UInt16(j)
                continue
            }
            let dv = Lanes(repeating: d)
            for h in 0..<2 {
                let l = laneClamp(nearestInt(loadLanes(x + 16 * j + 8 * h) / dv), -4, 3) &+ 4
                let out = L + 16 * j + 8 * h
                for k in 0..<8 { out[k] = Int8(truncatingIfNeeded: l[k]) }
            }
        }
        return skipped
    }

    /// The high bit of level j goes to bit j/32 of hmask[j%32]; the low two bits to qs as in Q2_K
    /// (per half of 128, levels l, l+32, l+64, l+96 in bit pairs 0, 2, 4, 6 of qs[l]).
    @inline(__always)
    static func pack(_ L: UnsafeMutablePointer<Int8>, _ yb: UnsafeMutableRawPointer) {
        let hmask = (yb + hmaskOffset).assumingMemoryBound(to: UInt8.self)
        for m in 0..<32 { hmask[m] = 0 }
        for j in 0..<256 {
            // Without a branch: the levels are 0…7, so which of them have the high bit is random.
            let high: Int8 = L[j] > 3 ? 1 : 0
            hmask[j % 32] |= UInt8(bitPattern: high) << UInt8(j / 32)
            L[j] -= 4 * high
        }
        let qs = (yb + qsOffset).assumingMemoryBound(to: UInt8.self)
        let Lu = UnsafeRawPointer(L).assumingMemoryBound(to: UInt8.self)
        for h in 0..<2 {
            let Lh = Lu + 128 * h, q = qs + 32 * h
            for l in 0..<32 {
                q[l] = Lh[l] | (Lh[l + 32] << 2) | (Lh[l + 64] << 4) | (Lh[l + 96] << 6)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: dOffset)
            let sc = (xb + scalesOffset).assumingMemoryBound(to: UInt8.self)
            let qs = (xb + qsOffset).assumingMemoryBound(to: UInt8.self)
            let hm = (xb + hmaskOffset).assumingMemoryBound(to: UInt8.self)
            for h in 0..<2 {
                let q = qs + 32 * h
                for j in 0..<4 {
                    let shift = UInt8(2 * j), bit = UInt8(1) << UInt8(4 * h + j)
                    // Elements 128h + 32j + l: sub-blocks 8h + 2j (l < 16) and 8h + 2j + 1.
                    let out = y + 256 * b + 128 * h + 32 * j
                    let dl0 = d * Float(scale(8 * h + 2 * j, sc))
                    let dl1 = d * Float(scale(8 * h + 2 * j + 1, sc))
                    for l in 0..<32 {
                        let v = Int32((q[l] >> shift) & 3) - (hm[l] & bit != 0 ? 0 : 4)
                        out[l] = (l < 16 ? dl0 : dl1) * Float(v)
                    }
                }
            }
        }
    }
}

/// ggml's `make_q3_quants` with do_rmse: symmetric fit of `n` values to levels −nmax…nmax−1 weighted
/// by x², refined by moving one level at a time (up to five passes). Levels are stored offset by
/// nmax. Returns the scale (negative when the largest-magnitude value is positive).
func makeQ3Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Float {
    var max: Float = 0
    var amax: Float = 0
    for i in 0..<n {
        let ax = abs(x[i])
        if ax > amax { amax = ax; max = x[i] }
    }
    if amax < groupMaxEps {
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    @inline(__always) func level(_ v: Float) -> Int32 { Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(v))) }
    let iscale = Float(-nmax) / max
    var sumlx: Float = 0
    var suml2: Float = 0
    for i in 0..<n {
        let l = level(iscale * x[i])
        L[i] = Int8(truncatingIfNeeded: l)
        let w = x[i] * x[i]
        let fl = Float(l)
        sumlx += w * x[i] * fl
        suml2 += w * fl * fl
    }
    for _ in 0..<5 {
        var changed = 0
        for i in 0..<n {
            let w = x[i] * x[i]
            let li = Float(L[i])
            var slx = sumlx - w * x[i] * li
            if slx > 0 {
                var sl2 = suml2 - w * li * li
                let newL = level(x[i] * sl2 / slx)
                if newL != Int32(L[i]) {
                    let fn = Float(newL)
                    slx += w * x[i] * fn
                    sl2 += w * fn * fn
                    if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                        L[i] = Int8(truncatingIfNeeded: newL)
                        sumlx = slx
                        suml2 = sl2
                        changed += 1
                    }
                }
            }
        }
        if changed == 0 { break }
    }
    for i in 0..<n { L[i] = L[i] &+ Int8(truncatingIfNeeded: nmax) }
    return suml2 > 0 ? sumlx / suml2 : 0
}

/// make_qx_quants(16, 4, …) of quantize_row_q3_K_impl.
enum Q3KSearch: QXSearch {
    static var n: Int { 16 }
    static var nmax: Int32 { 4 }
}

/// Lane-parallel `makeQ3Quants(16, 4, …)` over 16 transposed elements: levels (offset by 4) to `L`,
/// scales to `out[0]`. Each lane follows the scalar refinement exactly; a pass in which no lane
/// moves a level ends the loop (a lane that did not move would not move in a later pass either).
func makeQ3QuantsLanes(_ x: UnsafePointer<Lanes>, _ L: UnsafeMutablePointer<LaneInts>, _ out: UnsafeMutablePointer<Lanes>) {
    let n = 16, nmax: Int32 = 4
    var amax = Lanes(), mx = Lanes()
    for i in 0..<n {
        let ax = absLanes(x[i])
        let bigger = ax .> amax
        amax = laneSelect(bigger, ax, amax)
        mx = laneSelect(bigger, x[i], mx)
    }
    let allZero = amax .< groupMaxEps
    let iscale = Float(-nmax) / mx
    var sumlx = Lanes(), suml2 = Lanes()
    for i in 0..<n {
        let l = laneClamp(nearestInt(iscale * x[i]), -nmax, nmax - 1)
        L[i] = l
        let w = x[i] * x[i]
        let fl = laneFloats(l)
        sumlx += w * x[i] * fl
        suml2 += w * fl * fl
    }
    let zero = LaneInts()
    for _ in 0..<5 {
        var moved = LaneMask(repeating: false)
        for i in 0..<n {
            let xi = x[i]
            let w = xi * xi
            let li = L[i]
            let fli = laneFloats(li)
            var slx = sumlx - w * xi * fli
            let positive = slx .> 0
            var sl2 = suml2 - w * fli * fli
            let newL = laneClamp(nearestInt(xi * sl2 / slx), -nmax, nmax - 1)
            let fn = laneFloats(newL)
            slx += w * xi * fn
            sl2 += w * fn * fn
            let adopt = positive .& (newL .!= li) .& (sl2 .> 0) .& (slx * slx * suml2 .> sumlx * sumlx * sl2)
            L[i] = laneSelect(adopt, newL, li)
            sumlx = laneSelect(adopt, slx, sumlx)
            suml2 = laneSelect(adopt, sl2, suml2)
            moved = moved .| adopt
        }
        if !any(moved) { break }
    }
    for i in 0..<n { L[i] = laneSelect(allZero, zero, L[i] &+ nmax) }
    out[0] = laneSelect(allZero, Lanes(), laneSelect(suml2 .> 0, sumlx / suml2, Lanes()))
}
