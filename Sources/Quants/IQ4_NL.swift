import GGUF

/// The sixteen non-linear 4-bit levels of IQ4_NL and IQ4_XS (ggml-common.h `kvalues_iq4nl`).
let iq4Values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// `iq4Values` as floats, for the scans.
let iq4ValuesF: [Float] = iq4Values.map { Float($0) }

/// The index of the level nearest to `x` in an ascending table of sixteen levels (ggml-quants.c
/// `best_index_int8`): below the first or above the last level clamps; otherwise a bisection finds
/// the pair around `x` and the upper one wins unless `x − lower < upper − x` (float arithmetic, so a
/// NaN lands on the last level).
@inline(__always)
func nearestLevelIndex(_ v: UnsafePointer<Float>, _ x: Float) -> Int {
    if x <= v[0] { return 0 }
    if x >= v[15] { return 15 }
    var lo = 0, hi = 15
    while hi - lo > 1 {
        let mid = (lo + hi) / 2
        if x < v[mid] { hi = mid } else { lo = mid }
    }
    return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi
}

/// The scale search shared by IQ4_NL (one block of 32) and IQ4_XS (a super-block of 256 in eight
/// blocks of 32), as ggml-quants.c `quantize_row_iq4_nl_impl` does it with `ntry` 7 (the only
/// setting `quantize_iq4_nl` / `quantize_iq4_xs` use, with or without an importance matrix).
///
/// Per block of 32: weights qw·sqrt(σ² + x²) (σ² = 2·Σx²/superBlock) or x²; a first scale
/// max/127 (the extreme value), refined to the least-squares scale, then 15 trial scales
/// (itry −7…7: (itry − 127)/max) keeping the best Σqx²/Σq². For IQ4_XS the block scales become
/// 6-bit multiples of d = −maxScale/32 and every block is requantized against its d·l; for IQ4_NL
/// the block is requantized against its own scale (fp16 d is stored, the float one is used).
///
/// Writes the fp16 d at offset 0 of `yb`, the packed levels at `qsOffset`, and for IQ4_XS the
/// scales (`scales_h` at 2, `scales_l` at 4). `L` holds `superBlock` bytes, `scales` eight floats,
/// `weight` 32 floats.
enum IQ4Search {
    static func quantizeReference(_ superBlock: Int, _ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer,
                                  qsOffset: Int, _ qw: UnsafePointer<Float>?,
                                  _ L: UnsafeMutablePointer<UInt8>, _ scales: UnsafeMutablePointer<Float>,
                                  _ weight: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>) {
        let ntry = 7
        var sigma2: Float = 0
        for j in 0..<superBlock { sigma2 += x[j] * x[j] }
        sigma2 *= 2 / Float(superBlock)

        let q4 = (yb + qsOffset).assumingMemoryBound(to: UInt8.self)
        for j in 0..<(superBlock / 2) { q4[j] = 0 }
        yb.storeHalf(0, at: 0)

        let nb = superBlock / 32
        var maxScale: Float = 0, amaxScale: Float = 0
        for ib in 0..<nb {
            let xb = x + 32 * ib
            let Lb = L + 32 * ib
            if let qw {
                let w = qw + 32 * ib
                for j in 0..<32 { weight[j] = w[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
            } else {
                for j in 0..<32 { weight[j] = xb[j] * xb[j] }
            }
            var amax: Float = 0, max: Float = 0
            for j in 0..<32 {
                let ax = abs(xb[j])
                if ax > amax { amax = ax; max = xb[j] }
            }
            if amax < groupMaxEps {
                scales[ib] = 0
                continue
            }
            var d = -max / v[0]
            var id = 1 / d
            var sumqx: Float = 0, sumq2: Float = 0
            for j in 0..<32 {
                let al = id * xb[j]
                let l = nearestLevelIndex(v, al)
                Lb[j] = UInt8(l)
                let q = v[l]
                let w = weight[j]
                sumqx += w * q * xb[j]
                sumq2 += w * q * q
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0
            var best = d * sumqx
            for itry in -ntry...ntry {
                id = Float(itry + Int(iq4Values[0])) / max
                sumqx = 0
                sumq2 = 0
                for j in 0..<32 {
                    let al = id * xb[j]
                    let l = nearestLevelIndex(v, al)
                    let q = v[l]
                    let w = weight[j]
                    sumqx += w * q * xb[j]
                    sumq2 += w * q * q
                }
                if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                    d = sumqx / sumq2
                    best = d * sumqx
                }
            }
            scales[ib] = d
            let absD = abs(d)
            if absD > amaxScale { amaxScale = absD; maxScale = d }
        }

        if nb > 1 {
            finishSuperBlock(x, yb, L, scales, maxScale, v)
        } else {
            yb.storeHalf(scales[0], at: 0)
            let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
            for j in 0..<superBlock { L[j] = UInt8(nearestLevelIndex(v, id * x[j])) }
        }
        pack(L, q4, superBlock)
    }

    /// IQ4_XS: the eight block scales to 6-bit multiples of d = −maxScale/32 (stored fp16; the float
    /// d is used), `scales_l` nibbles and `scales_h` bit pairs, and every block requantized against d·l.
    @inline(__always)
    static func finishSuperBlock(_ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>,
                                 _ scales: UnsafePointer<Float>, _ maxScale: Float, _ v: UnsafePointer<Float>) {
        let d = -maxScale / 32
        yb.storeHalf(d, at: 0)
        let id: Float = d != 0 ? 1 / d : 0
        var scalesH: UInt16 = 0
        let scalesL = (yb + 4).assumingMemoryBound(to: UInt8.self)
        for ib in 0..<8 {
            var l = nearestInt(id * scales[ib])
            l = Swift.max(-32, Swift.min(31, l))
            let dl = d * Float(l)
            let idl: Float = dl != 0 ? 1 / dl : 0
            let Lb = L + 32 * ib, xb = x + 32 * ib
            for j in 0..<32 { Lb[j] = UInt8(nearestLevelIndex(v, idl * xb[j])) }
            l += 32
            let lLow = UInt8(truncatingIfNeeded: l & 0xF)
            let lHigh = UInt16(truncatingIfNeeded: l >> 4)
            if ib % 2 == 0 {
                scalesL[ib / 2] = lLow
            } else {
                scalesL[ib / 2] |= (lLow << 4)
            }
            scalesH |= (lHigh << UInt16(2 * (ib % 8)))
        }
        yb.storeBytes(of: scalesH.littleEndian, toByteOffset: 2, as: UInt16.self)
    }

    /// Per 32 levels: byte j holds level j (low nibble) and level 16 + j (high nibble).
    @inline(__always)
    static func pack(_ L: UnsafePointer<UInt8>, _ q4: UnsafeMutablePointer<UInt8>, _ superBlock: Int) {
        for i in 0..<(superBlock / 32) {
            for j in 0..<16 {
                q4[16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4)
            }
        }
    }

    // MARK: fast path

    /// The fifteen midpoints between neighbouring levels (exact half-integers) as lane vectors,
    /// then the fifteen level steps. `nearestLevelIndex(v, x)` is the number of midpoints ≤ x for
    /// any non-NaN x: its comparison `x − lower < upper − x` can only be decided by rounding when x
    /// is within an ulp of the midpoint, and there both differences are exact (|x| ≥ 4 and they
    /// are below 2^(exponent of x + 1)), so it equals x < midpoint.
    static let steps: [Lanes] = {
        let v = iq4Values.map { Float($0) }
        return (0..<15).map { Lanes(repeating: (v[$0] + v[$0 + 1]) / 2) }
            + (0..<15).map { Lanes(repeating: v[$0 + 1] - v[$0]) }
    }()

    /// The level values `v[nearestLevelIndex(v, al)]` for finite `al`: the first level plus every
    /// step whose midpoint `al` reaches.
    @inline(__always)
    static func levelValues(_ al: Lanes, _ s: UnsafePointer<Lanes>) -> Lanes {
        var q = Lanes(repeating: -127)
        for k in 0..<15 {
            q += floatBits(laneAnd(intBits(al .>= s[k]), intBits(s[15 + k])))
        }
        return q
    }

    /// `nearestLevelIndex` on every lane, NaN included (to the last level).
    @inline(__always)
    static func levelIndices(_ al: Lanes, _ s: UnsafePointer<Lanes>) -> LaneInts {
        var l = LaneInts(repeating: 0)
        for k in 0..<15 { l &-= intBits(al .>= s[k]) }
        return laneSelect(al .!= al, LaneInts(repeating: 15), l)
    }

    /// The levels of 32 values scaled by `id`, as bytes.
    @inline(__always)
    static func levelsLanes(_ x: UnsafePointer<Float>, _ id: Float, _ L: UnsafeMutablePointer<UInt8>, _ s: UnsafePointer<Lanes>) {
        let idv = Lanes(repeating: id)
        for c in 0..<4 {
            let l = levelIndices(idv * loadLanes(x + 8 * c), s)
            for i in 0..<8 { L[8 * c + i] = UInt8(truncatingIfNeeded: l[i]) }
        }
    }

    /// The search of one block of 32 finite values with amax ≥ GROUP_MAX_EPS: the first guess and
    /// the fifteen trial scales run as sixteen lanes (each summing over the block in index order,
    /// as the scalar loop does), then the scalar choice among them in C's order.
    @inline(__always)
    static func blockScale(_ xb: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ max: Float,
                           _ s: UnsafePointer<Lanes>) -> Float {
        let d0 = -max / -127
        var idA = Lanes(repeating: 0), idB = Lanes(repeating: 0)
        idA[0] = 1 / d0
        for t in 1..<8 { idA[t] = Float(t - 8 - 127) / max }
        for t in 0..<8 { idB[t] = Float(t - 127) / max }
        var sxA = Lanes(repeating: 0), s2A = Lanes(repeating: 0)
        var sxB = Lanes(repeating: 0), s2B = Lanes(repeating: 0)
        for j in 0..<32 {
            let xj = Lanes(repeating: xb[j]), wj = Lanes(repeating: weight[j])
            let qA = levelValues(idA * xj, s), qB = levelValues(idB * xj, s)
            let wqA = wj * qA, wqB = wj * qB
            sxA += wqA * xj
            s2A += wqA * qA
            sxB += wqB * xj
            s2B += wqB * qB
        }
        var d: Float = s2A[0] > 0 ? sxA[0] / s2A[0] : 0
        var best = d * sxA[0]
        for t in 1..<16 {
            let sumqx = t < 8 ? sxA[t] : sxB[t - 8], sumq2 = t < 8 ? s2A[t] : s2B[t - 8]
            if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                d = sumqx / sumq2
                best = d * sumqx
            }
        }
        return d
    }

    /// `quantizeReference` with the scans in lanes; a (super-)block holding inf or NaN takes the
    /// reference path.
    static func quantizeFast(_ superBlock: Int, _ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer,
                             qsOffset: Int, _ qw: UnsafePointer<Float>?,
                             _ L: UnsafeMutablePointer<UInt8>, _ scales: UnsafeMutablePointer<Float>,
                             _ weight: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, _ s: UnsafePointer<Lanes>) {
        var bad = Lanes(repeating: 0)
        for c in 0..<(superBlock / 8) {
            let xv = loadLanes(x + 8 * c)
            bad += xv - xv
        }
        guard bad == Lanes(repeating: 0) else {
            return quantizeReference(superBlock, x, yb, qsOffset: qsOffset, qw, L, scales, weight, v)
        }
        var sigma2: Float = 0
        if qw != nil {
            for j in 0..<superBlock { sigma2 += x[j] * x[j] }
            sigma2 *= 2 / Float(superBlock)
        }
        let nb = superBlock / 32
        var maxScale: Float = 0, amaxScale: Float = 0
        for ib in 0..<nb {
            let xb = x + 32 * ib
            if let qw {
                let w = qw + 32 * ib, sv = Lanes(repeating: sigma2)
                for c in 0..<4 {
                    let xv = loadLanes(xb + 8 * c)
                    let r = (sv + xv * xv).squareRoot() * loadLanes(w + 8 * c)
                    for i in 0..<8 { weight[8 * c + i] = r[i] }
                }
            } else {
                for j in 0..<32 { weight[j] = xb[j] * xb[j] }
            }
            var amax: Float = 0, max: Float = 0
            for j in 0..<32 {
                let ax = abs(xb[j])
                if ax > amax { amax = ax; max = xb[j] }
            }
            if amax < groupMaxEps {
                scales[ib] = 0
                continue
            }
            let d = blockScale(xb, weight, max, s)
            scales[ib] = d
            let absD = abs(d)
            if absD > amaxScale { amaxScale = absD; maxScale = d }
        }
        let q4 = (yb + qsOffset).assumingMemoryBound(to: UInt8.self)
        if nb > 1 {
            let d = -maxScale / 32
            yb.storeHalf(d, at: 0)
            let id: Float = d != 0 ? 1 / d : 0
            var scalesH: UInt16 = 0
            let scalesL = (yb + 4).assumingMemoryBound(to: UInt8.self)
            for ib in 0..<8 {
                var l = nearestInt(id * scales[ib])
                l = Swift.max(-32, Swift.min(31, l))
                let dl = d * Float(l)
                let idl: Float = dl != 0 ? 1 / dl : 0
                levelsLanes(x + 32 * ib, idl, L + 32 * ib, s)
                l += 32
                let lLow = UInt8(truncatingIfNeeded: l & 0xF)
                if ib % 2 == 0 {
                    scalesL[ib / 2] = lLow
                } else {
                    scalesL[ib / 2] |= (lLow << 4)
                }
                scalesH |= (UInt16(truncatingIfNeeded: l >> 4) << UInt16(2 * ib))
            }
            yb.storeBytes(of: scalesH.littleEndian, toByteOffset: 2, as: UInt16.self)
        } else {
            yb.storeHalf(scales[0], at: 0)
            levelsLanes(x, scales[0] != 0 ? 1 / scales[0] : 0, L, s)
        }
        pack(L, q4, superBlock)
    }

    /// Runs `body` with the scratch of one search (levels, block scales, weights) and the level table.
    @inline(__always)
    static func withScratch<R>(_ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>,
                                        UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Lanes>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { lb in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 40) { fb in
                iq4ValuesF.withUnsafeBufferPointer { vb in
                    steps.withUnsafeBufferPointer { sb in
                        body(lb.baseAddress!, fb.baseAddress!, fb.baseAddress! + 8, vb.baseAddress!, sb.baseAddress!)
                    }
                }
            }
        }
    }
}

/// IQ4_NL: 32 weights per block, `d: f16, qs: [16]` (low nibbles elements 0–15, high nibbles
/// 16–31) (18 bytes); y = d·iq4Values[q].
///
/// Quantization matches ggml-quants.c `quantize_iq4_nl` byte for byte, with and without an
/// importance matrix (both run `quantize_row_iq4_nl_impl` with 15 trial scales; ggml's
/// `quantize_row_iq4_nl_ref`, the CPU `from_float`, skips the trials and is not what
/// llama-quantize writes). Dequantization is `dequantize_row_iq4_nl`.
enum IQ4_NL: BlockFormat {
    static let type = GGMLType.iq4_NL
    static let blockBytes = 18
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = true
    /// tinyBLAS's eight lanes (llamafile sgemm takes IQ4_NL like Q4_0); with a multiple of 8 rows
    /// ggml repacks the weights (`iq4_nl_8x8_q8_0`, one chain per output).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 32, scaleOffset: 0, repacked: .blocks32(scale: .f16))

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        IQ4Search.withScratch { L, scales, weight, v, s in
            for b in 0..<(count / 32) {
                IQ4Search.quantizeFast(32, x + 32 * b, y + blockBytes * b, qsOffset: 2,
                                       importance.map { $0 + 32 * b }, L, scales, weight, v, s)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        IQ4Search.withScratch { L, scales, weight, v, _ in
            for b in 0..<(count / 32) {
                IQ4Search.quantizeReference(32, x + 32 * b, y + blockBytes * b, qsOffset: 2,
                                            importance.map { $0 + 32 * b }, L, scales, weight, v)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        iq4ValuesF.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            for b in 0..<(count / 32) {
                let xb = x + blockBytes * b
                let d = xb.loadHalf(at: 0)
                let o = y + 32 * b
                for j in 0..<16 {
                    let q = xb.byte(2 + j)
                    o[j] = d * v[Int(q & 0xF)]
                    o[16 + j] = d * v[Int(q >> 4)]
                }
            }
        }
    }
}
