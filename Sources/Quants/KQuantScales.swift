// The super-block scale search shared by Q4_K and Q5_K: eight sub-blocks of 32 with a 6-bit scale
// and a 6-bit min each, packed into 12 bytes, plus fp16 `d` and `dmin`. Ports the common part of
// ggml-quants.c `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref` (make_qkx2 per sub-block) and
// `quantize_row_q4_K_impl` / `quantize_row_q5_K_impl` (make_qkx3 + make_qp_quants), followed by the
// requantization against the fp16-rounded scales. Header layout: d at 0, dmin at 2, scales at 4.

/// Packs the 6-bit scale and min of sub-block `j` into the 12 scale bytes (ggml's layout: j < 4 in
/// the low 6 bits of bytes j and j+4; j ≥ 4 split over byte j+4 and the top bits of j−4 and j).
@inline(__always)
func packScaleMinK4(_ j: Int, _ ls: UInt8, _ lm: UInt8, _ q: UnsafeMutablePointer<UInt8>) {
    if j < 4 {
        q[j] = ls
        q[j + 4] = lm
    } else {
        q[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
        q[j - 4] |= ((ls >> 4) << 6)
        q[j] |= ((lm >> 4) << 6)
    }
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j`.
@inline(__always)
func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
    if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
    return ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
}

/// Q4_K (nmax 15) and Q5_K (nmax 31) super-block headers and levels.
enum KQuantScales {
    /// make_qkx2 parameters of the reference quantizers: Q4_K (−1, 0.1, 20), Q5_K (−0.5, 0.1, 15).
    @inline(__always)
    static func referenceSearch(_ nmax: Int32) -> (rmin: Float, rdelta: Float, nstep: Int) {
        nmax == 15 ? (-1, 0.1, 20) : (-0.5, 0.1, 15)
    }

    /// Fills the header at `yb` (d, dmin, scales) and the levels `L[256]` of the super-block `x`.
    /// `fast` selects the lane-parallel search; both give the same bytes.
    static func quantize(_ x: UnsafePointer<Float>, importance qw: UnsafePointer<Float>?, nmax: Int32,
                         _ yb: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>, fast: Bool) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 24) { f in
            let scales = f.baseAddress!, mins = scales + 8, sw = scales + 16
            if fast {
                withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 98) { v in
                    withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 32) { li in
                        let xT = v.baseAddress!, wT = xT + 32, laux = xT + 64, LT = li.baseAddress!
                        searchLanes(x, qw, nmax: nmax, xT, wT, laux, LT, scales, mins, sw)
                        header(qw == nil ? nil : UnsafePointer(sw), nmax: nmax, scales, mins, yb)
                        let skipped = requantize(x, nmax: nmax, yb, L)
                        if skipped != 0 {
                            for j in 0..<8 where (skipped >> UInt8(j)) & 1 != 0 {
                                for i in 0..<32 { L[32 * j + i] = UInt8(truncatingIfNeeded: LT[i][j]) }
                            }
                        }
                    }
                }
            } else {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { w in
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { laux in
                        let weights = w.baseAddress!
                        searchScalar(x, qw, nmax: nmax, weights, sw, laux.baseAddress!, L, scales, mins)
                        header(qw == nil ? nil : UnsafePointer(sw), nmax: nmax, scales, mins, yb)
                        _ = requantize(x, nmax: nmax, yb, L)
                    }
                }
            }
        }
    }

    /// The per-sub-block searches, one after the other (the C loop).
    static func searchScalar(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, nmax: Int32,
                             _ weights: UnsafeMutablePointer<Float>, _ sw: UnsafeMutablePointer<Float>,
                             _ laux: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<UInt8>,
                             _ scales: UnsafeMutablePointer<Float>, _ mins: UnsafeMutablePointer<Float>) {
        if let qw {
            var sumX2: Float = 0
            for l in 0..<256 { sumX2 += x[l] * x[l] }
            let sigma2 = 2 * sumX2 / 256
            for j in 0..<8 {
                let xs = x + 32 * j, q = qw + 32 * j
                for l in 0..<32 { weights[l] = q[l] * (sigma2 + xs[l] * xs[l]).squareRoot() }
                var sumw: Float = 0
                for l in 0..<32 { sumw += weights[l] }
                sw[j] = sumw
                scales[j] = makeQKX3Quants(32, nmax, xs, weights, L + 32 * j, &mins[j], laux,
                                           rmin: -0.9, rdelta: 0.05, nstep: 36)
            }
        } else {
            let p = referenceSearch(nmax)
            for j in 0..<8 {
                let xs = x + 32 * j
                var sumX2: Float = 0
                for l in 0..<32 { sumX2 += xs[l] * xs[l] }
                let avX = (sumX2 / 32).squareRoot()
                for l in 0..<32 { weights[l] = avX + abs(xs[l]) }
                scales[j] = makeQKX2Quants(32, nmax, xs, weights, L + 32 * j, &mins[j], laux,
                                           rmin: p.rmin, rdelta: p.rdelta, nstep: p.nstep)
            }
        }
    }

    /// The eight sub-block searches at once, one per lane. Fills `scales`, `mins` and, on the
    /// importance path, the sub-block weight sums `sw` (make_qp_quants' weights); leaves the
    /// levels in `LT` (transposed). `laux` has room for 34 vectors.
    @inline(__always)
    static func searchLanes(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?, nmax: Int32,
                            _ xT: UnsafeMutablePointer<Lanes>, _ wT: UnsafeMutablePointer<Lanes>,
                            _ laux: UnsafeMutablePointer<Lanes>, _ LT: UnsafeMutablePointer<LaneInts>,
                            _ scales: UnsafeMutablePointer<Float>, _ mins: UnsafeMutablePointer<Float>,
                            _ sw: UnsafeMutablePointer<Float>) {
        transposeLanes(x, stride: 32, n: 32, into: xT)
        let result = laux + 32  // scales, -mins
        if let qw {
            var sumX2: Float = 0
            for l in 0..<256 { sumX2 += x[l] * x[l] }
            let sigma2 = 2 * sumX2 / 256
            transposeLanes(qw, stride: 32, n: 32, into: wT)
            var sumw = Lanes()
            for l in 0..<32 {
                let xl = xT[l]
                let wl = wT[l] * (sigma2 + xl * xl).squareRoot()
                wT[l] = wl
                sumw += wl
            }
            for j in 0..<8 { sw[j] = sumw[j] }
            if nmax == 15 {
                makeQKXQuantsLanes(Weighted4BitSearch.self, xT, wT, LT, laux, result)
            } else {
                makeQKXQuantsLanes(Weighted5BitSearch.self, xT, wT, LT, laux, result)
            }
        } else {
            var sumX2 = Lanes()
            for l in 0..<32 { sumX2 += xT[l] * xT[l] }
            let avX = (sumX2 / 32).squareRoot()
            for l in 0..<32 { wT[l] = avX + absLanes(xT[l]) }
            if nmax == 15 {
                makeQKXQuantsLanes(Q4KReferenceSearch.self, xT, wT, LT, laux, result)
            } else {
                makeQKXQuantsLanes(Q5KReferenceSearch.self, xT, wT, LT, laux, result)
            }
        }
        for j in 0..<8 {
            scales[j] = result[0][j]
            mins[j] = result[1][j]
        }
    }

    /// Turns the sub-block scales and mins into the packed 6-bit levels and fp16 d / dmin.
    /// `sw` (the sub-block weight sums) selects the importance path (make_qp_quants).
    static func header(_ sw: UnsafePointer<Float>?, nmax: Int32, _ scales: UnsafeMutablePointer<Float>,
                       _ mins: UnsafeMutablePointer<Float>, _ yb: UnsafeMutableRawPointer) {
        let sc = (yb + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<12 { sc[j] = 0 }
        if let sw {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { lv in
                let Ls = lv.baseAddress!, Lm = Ls + 8
                let dBlock = makeQPQuants(8, 63, scales, Ls, sw)
                let mBlock = makeQPQuants(8, 63, mins, Lm, sw)
                for j in 0..<8 {
                    // quantize_row_q5_K_impl clamps the levels to 63, quantize_row_q4_K_impl does not.
                    let ls = nmax == 31 ? Swift.min(63, Ls[j]) : Ls[j]
                    let lm = nmax == 31 ? Swift.min(63, Lm[j]) : Lm[j]
                    packScaleMinK4(j, ls, lm, sc)
                }
                yb.storeHalf(dBlock, at: 0)
                yb.storeHalf(mBlock, at: 2)
            }
            return
        }
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        for j in 0..<8 {
            // `uint8_t ls = nearest_int(...)` keeps the low byte before MIN(63, ls).
            let ls = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
            let lm = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
            packScaleMinK4(j, ls, lm, sc)
        }
        yb.storeHalf(maxScale / 63, at: 0)
        yb.storeHalf(maxMin / 63, at: 2)
    }

    /// Levels against the fp16-rounded `d·sc` and `dmin·m`. Sub-blocks whose `d·sc` is 0 keep the
    /// levels of the search; their bits are returned.
    @inline(__always)
    static func requantize(_ x: UnsafePointer<Float>, nmax: Int32, _ yb: UnsafeMutableRawPointer,
                           _ L: UnsafeMutablePointer<UInt8>) -> UInt8 {
        let sc = UnsafePointer((yb + 4).assumingMemoryBound(to: UInt8.self))
        let d0 = UnsafeRawPointer(yb).loadHalf(at: 0)
        let m0 = UnsafeRawPointer(yb).loadHalf(at: 2)
        var skipped: UInt8 = 0
        for j in 0..<8 {
            let (s, m) = scaleMinK4(j, sc)
            let d = d0 * Float(s)
            if d == 0 {
                skipped |= UInt8(1) << UInt8(j)
                continue
            }
            let dm = m0 * Float(m)
            let xs = x + 32 * j, Ls = L + 32 * j
            for i in 0..<32 {
                let l = nearestInt((xs[i] + dm) / d)
                Ls[i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(nmax, l)))
            }
        }
        return skipped
    }
}
