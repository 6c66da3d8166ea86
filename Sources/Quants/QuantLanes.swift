// Lane-parallel versions of the scale searches: eight independent groups (the sub-blocks of a
// super-block, or eight consecutive 32-blocks) run side by side, one group per SIMD lane. Within a
// lane every sum runs over the group's elements in index order, exactly as the scalar search does,
// and every branch of the C code becomes a per-lane select with the same comparison, so each lane
// reproduces the scalar result bit for bit (including for inf/NaN and denormal data).
// The data is transposed: element i of the eight groups is the vector `x[i]`.

typealias Lanes = SIMD8<Float>
typealias LaneInts = SIMD8<Int32>
typealias LaneMask = SIMDMask<LaneInts>

// Only operations that the standard library implements with vector builtins are used here: float
// arithmetic, integer `&+`/`&-`, comparisons, and the and/or/xor of masks. The generic SIMD
// `replacing(with:where:)`, integer `&`/`^` and `pointwiseMin` are lane loops that LLVM sometimes
// turns into slow shuffles, so selects and bit masks go through `SIMDMask` (whose storage is the
// same 8 × Int32).

@inline(__always) func maskBits(_ v: LaneInts) -> LaneMask { unsafeBitCast(v, to: LaneMask.self) }
@inline(__always) func intBits(_ m: LaneMask) -> LaneInts { unsafeBitCast(m, to: LaneInts.self) }
@inline(__always) func intBits(_ v: Lanes) -> LaneInts { unsafeBitCast(v, to: LaneInts.self) }
@inline(__always) func floatBits(_ v: LaneInts) -> Lanes { unsafeBitCast(v, to: Lanes.self) }

/// Bitwise and of two lane vectors.
@inline(__always)
func laneAnd(_ a: LaneInts, _ b: LaneInts) -> LaneInts { intBits(maskBits(a) .& maskBits(b)) }

/// `mask ? a : b` on every lane.
@inline(__always)
func laneSelect(_ mask: LaneMask, _ a: LaneInts, _ b: LaneInts) -> LaneInts {
    intBits(maskBits(b).replacing(with: maskBits(a), where: mask))
}

/// `mask ? a : b` on every lane.
@inline(__always)
func laneSelect(_ mask: LaneMask, _ a: Lanes, _ b: Lanes) -> Lanes {
    floatBits(laneSelect(mask, intBits(a), intBits(b)))
}

/// ggml's `nearest_int` on every lane (the same bit trick, so the same result for any input).
@inline(__always)
func nearestInt(_ v: Lanes) -> LaneInts {
    laneAnd(intBits(v + Lanes(repeating: 12582912)), LaneInts(repeating: 0x007F_FFFF)) &- LaneInts(repeating: 0x0040_0000)
}

/// C's `MAX(lo, MIN(hi, l))` on every lane.
@inline(__always)
func laneClamp(_ l: LaneInts, _ lo: Int32, _ hi: Int32) -> LaneInts {
    let h = LaneInts(repeating: hi), o = LaneInts(repeating: lo)
    let a = laneSelect(l .> h, h, l)
    return laneSelect(a .< o, o, a)
}

/// The float value of small integers (|l| < 2^22), exactly.
@inline(__always)
func laneFloats(_ l: LaneInts) -> Lanes {
    floatBits(l &+ LaneInts(repeating: 0x4B40_0000)) - Lanes(repeating: 12582912)
}

/// `fabsf` on every lane (clears the sign bit).
@inline(__always)
func absLanes(_ v: Lanes) -> Lanes { floatBits(laneAnd(intBits(v), LaneInts(repeating: 0x7FFF_FFFF))) }

/// C's unary minus on every lane (flips the sign bit; SIMD's prefix `-` computes 0 − x, which
/// turns +0 into +0 instead of −0).
@inline(__always)
func laneNegate(_ v: Lanes) -> Lanes {
    floatBits(intBits(maskBits(intBits(v)) .^ maskBits(LaneInts(repeating: Int32.min))))
}

/// Eight consecutive floats from memory of any alignment.
@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> Lanes { Lanes(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]) }

/// Transposes 8 groups of `n` floats (group g starts at `x + g·stride`) into `n` lane vectors.
@inline(__always)
func transposeLanes(_ x: UnsafePointer<Float>, stride: Int, n: Int, into t: UnsafeMutablePointer<Lanes>) {
    for i in 0..<n {
        t[i] = Lanes(x[i], x[stride + i], x[2 * stride + i], x[3 * stride + i],
                     x[4 * stride + i], x[5 * stride + i], x[6 * stride + i], x[7 * stride + i])
    }
}

/// Transposes the first `groups` (< 8) groups; the other lanes are 0 (their results are unused).
@inline(__always)
func transposeLanes(_ x: UnsafePointer<Float>, stride: Int, n: Int, groups: Int, into t: UnsafeMutablePointer<Lanes>) {
    for i in 0..<n {
        var v = Lanes()
        for g in 0..<groups { v[g] = x[g * stride + i] }
        t[i] = v
    }
}

/// The constants of one make_qkx2 / make_qkx3 call site. The lane kernels are generic over them so
/// that every instantiation is specialized with its group size, level count and grid folded in.
protocol QKXSearch {
    static var n: Int { get }
    static var nmax: Int32 { get }
    static var rmin: Float { get }
    static var rdelta: Float { get }
    static var nstep: Int { get }
    /// make_qkx3's degenerate test (max ≤ min) instead of make_qkx2's (max == min).
    static var qkx3: Bool { get }
    /// make_qkx2's use_mad: weighted absolute instead of squared error (Q2_K's reference search).
    static var useMad: Bool { get }
}

extension QKXSearch {
    static var useMad: Bool { false }
}

/// make_qkx2_quants(32, 15, …, −1, 0.1, 20) of quantize_row_q4_K_ref.
enum Q4KReferenceSearch: QKXSearch {
    static var n: Int { 32 }
    static var nmax: Int32 { 15 }
    static var rmin: Float { -1 }
    static var rdelta: Float { 0.1 }
    static var nstep: Int { 20 }
    static var qkx3: Bool { false }
}

/// make_qkx2_quants(32, 31, …, −0.5, 0.1, 15) of quantize_row_q5_K_ref.
enum Q5KReferenceSearch: QKXSearch {
    static var n: Int { 32 }
    static var nmax: Int32 { 31 }
    static var rmin: Float { -0.5 }
    static var rdelta: Float { 0.1 }
    static var nstep: Int { 15 }
    static var qkx3: Bool { false }
}

/// make_qkx3_quants(32, 15, …, −0.9, 0.05, 36) of the Q4_K and Q4_1 importance paths.
enum Weighted4BitSearch: QKXSearch {
    static var n: Int { 32 }
    static var nmax: Int32 { 15 }
    static var rmin: Float { -0.9 }
    static var rdelta: Float { 0.05 }
    static var nstep: Int { 36 }
    static var qkx3: Bool { true }
}

/// make_qkx3_quants(32, 31, …, −0.9, 0.05, 36) of the Q5_K and Q5_1 importance paths.
enum Weighted5BitSearch: QKXSearch {
    static var n: Int { 32 }
    static var nmax: Int32 { 31 }
    static var rmin: Float { -0.9 }
    static var rdelta: Float { 0.05 }
    static var nstep: Int { 36 }
    static var qkx3: Bool { true }
}

/// Lane-parallel `make_qkx2_quants` / `make_qkx3_quants` (nstep ≥ 1) over `S.n`
/// transposed elements with weights `w`. Writes the levels to `L` (lane vectors of 0…nmax), the
/// scales to `out[0]` and the `-min` offsets to `out[1]`. `laux` is scratch of `S.n` vectors.
/// (Results go through memory: SIMD8 values crossing a call are split in halves by the calling
/// convention, and LLVM then keeps the whole loop in 128-bit halves.)
func makeQKXQuantsLanes<S: QKXSearch>(_ search: S.Type, _ x: UnsafePointer<Lanes>, _ w: UnsafePointer<Lanes>,
                                      _ L: UnsafeMutablePointer<LaneInts>, _ laux: UnsafeMutablePointer<Lanes>,
                                      _ out: UnsafeMutablePointer<Lanes>) {
    let n = S.n, nmax = S.nmax, rmin = S.rmin, rdelta = S.rdelta, nstep = S.nstep, qkx3 = S.qkx3
    var mn = x[0], mx = x[0]
    var sumW = w[0]
    var sumX = sumW * x[0]
    for i in 1..<n {
        let xi = x[i]
        mn = laneSelect(xi .< mn, xi, mn)
        mx = laneSelect(xi .> mx, xi, mx)
        let wi = w[i]
        sumW += wi
        sumX += wi * xi
    }
    mn = laneSelect(mn .> 0, Lanes(), mn)
    let degenerate = qkx3 ? (mx .<= mn) : (mx .== mn)
    let fnmax = Float(nmax)
    var min = mn
    var iscale = fnmax / (mx - min)
    var scale = 1 / iscale
    // The final levels are recomputed from the (iscale, min) pair that produced the adopted ones.
    var useIscale = iscale, useMin = min
    var bestMad = Lanes()
    for i in 0..<n {
        let l = laneFloats(laneClamp(nearestInt(iscale * (x[i] - min)), 0, nmax))
        var diff = scale * l + min - x[i]
        diff = S.useMad ? absLanes(diff) : diff * diff
        bestMad += w[i] * diff
    }
    for step in 0...nstep {
        iscale = (rmin + rdelta * Float(step) + fnmax) / (mx - min)
        var sumL = Lanes(), sumL2 = Lanes(), sumXL = Lanes()
        for i in 0..<n {
            let l = laneFloats(laneClamp(nearestInt(iscale * (x[i] - min)), 0, nmax))
            laux[i] = l
            let wl = w[i] * l
            sumL += wl
            sumL2 += wl * l
            sumXL += wl * x[i]
        }
        let D = sumW * sumL2 - sumL * sumL
        var thisScale = (sumW * sumXL - sumX * sumL) / D
        var thisMin = (sumL2 * sumX - sumL * sumXL) / D
        let positive = thisMin .> 0
        thisMin = laneSelect(positive, Lanes(), thisMin)
        thisScale = laneSelect(positive, sumXL / sumL2, thisScale)
        var mad = Lanes()
        for i in 0..<n {
            var diff = thisScale * laux[i] + thisMin - x[i]
            diff = S.useMad ? absLanes(diff) : diff * diff
            mad += w[i] * diff
        }
        let adopt = (D .> 0) .& (mad .< bestMad)
        bestMad = laneSelect(adopt, mad, bestMad)
        scale = laneSelect(adopt, thisScale, scale)
        useIscale = laneSelect(adopt, iscale, useIscale)
        useMin = laneSelect(adopt, min, useMin)
        min = laneSelect(adopt, thisMin, min)
    }
    let zero = LaneInts()
    for i in 0..<n {
        L[i] = laneSelect(degenerate, zero, laneClamp(nearestInt(useIscale * (x[i] - useMin)), 0, nmax))
    }
    scale = laneSelect(degenerate, Lanes(), scale)
    min = laneSelect(degenerate, mn, min)
    out[0] = scale
    out[1] = laneNegate(min)
}

/// The constants of one make_qx_quants call site (see `QKXSearch`).
protocol QXSearch {
    static var n: Int { get }
    static var nmax: Int32 { get }
}

/// make_qx_quants(16, 32, …) of Q6_K.
enum Q6KSearch: QXSearch {
    static var n: Int { 16 }
    static var nmax: Int32 { 32 }
}

/// make_qx_quants(32, 8, …) of quantize_row_q4_0_impl.
enum Q4_0Search: QXSearch {
    static var n: Int { 32 }
    static var nmax: Int32 { 8 }
}

/// make_qx_quants(32, 16, …) of quantize_row_q5_0_impl.
enum Q5_0Search: QXSearch {
    static var n: Int { 32 }
    static var nmax: Int32 { 16 }
}

/// Lane-parallel `make_qx_quants` (rmse_type 1) over `S.n` transposed elements with weights `w`
/// (pass x² for the unweighted form). Writes levels offset by nmax (0…2·nmax−1) to `L` and the
/// scales to `out[0]`.
func makeQXQuantsLanes<S: QXSearch>(_ search: S.Type, _ x: UnsafePointer<Lanes>, _ w: UnsafePointer<Lanes>,
                                    _ L: UnsafeMutablePointer<LaneInts>, _ out: UnsafeMutablePointer<Lanes>) {
    let n = S.n, nmax = S.nmax
    var amax = Lanes(), mx = Lanes()
    for i in 0..<n {
        let ax = absLanes(x[i])
        let bigger = ax .> amax
        amax = laneSelect(bigger, ax, amax)
        mx = laneSelect(bigger, x[i], mx)
    }
    let allZero = amax .< groupMaxEps
    let fnmax = Float(nmax)
    var iscale = Float(-nmax) / mx
    var useIscale = iscale
    var sumlx = Lanes(), suml2 = Lanes()
    for i in 0..<n {
        let l = laneFloats(laneClamp(nearestInt(iscale * x[i]), -nmax, nmax - 1))
        let wi = w[i]
        sumlx += wi * x[i] * l
        suml2 += wi * l * l
    }
    var scale = laneSelect(suml2 .== 0, Lanes(), sumlx / suml2)
    var best = scale * sumlx
    for step in -9...9 where step != 0 {
        iscale = -(fnmax + 0.1 * Float(step)) / mx
        sumlx = Lanes()
        suml2 = Lanes()
        for i in 0..<n {
            let l = laneFloats(laneClamp(nearestInt(iscale * x[i]), -nmax, nmax - 1))
            let wi = w[i]
            sumlx += wi * x[i] * l
            suml2 += wi * l * l
        }
        let adopt = (suml2 .> 0) .& (sumlx * sumlx .> best * suml2)
        let newScale = sumlx / suml2
        scale = laneSelect(adopt, newScale, scale)
        best = laneSelect(adopt, newScale * sumlx, best)
        useIscale = laneSelect(adopt, iscale, useIscale)
    }
    let zero = LaneInts()
    for i in 0..<n {
        let l = laneClamp(nearestInt(useIscale * x[i]), -nmax, nmax - 1) &+ nmax
        L[i] = laneSelect(allZero, zero, l)
    }
    out[0] = laneSelect(allZero, Lanes(), scale)
}


/// The trial loop of `make_qp_quants` with its eight trial scales (steps −4…−1, 1…4) in the
/// lanes: each lane sums its weighted error over the elements in index order, exactly as the
/// scalar loop does for that step; then the steps are compared in C's order against the running
/// best. Returns the chosen inverse scale (`iscale` when no step improves on `bestMSE`).
@inline(__always)
func qpTrialScale(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>,
                  max: Float, iscale: Float, bestMSE: Float) -> Float {
    let fnmax = Float(nmax)
    var iscales = Lanes()
    for (lane, step) in [-4, -3, -2, -1, 1, 2, 3, 4].enumerated() {
        iscales[lane] = (0.1 * Float(step) + fnmax) / max
    }
    let scales = Lanes(repeating: 1) / iscales
    let top = LaneInts(repeating: nmax)
    var mse = Lanes()
    for i in 0..<n {
        let xi = Lanes(repeating: x[i])
        let l = nearestInt(iscales * xi)
        let diff = xi - scales * laneFloats(laneSelect(l .> top, top, l))
        mse += Lanes(repeating: qw[i]) * diff * diff
    }
    var best = bestMSE, chosen = iscale
    for lane in 0..<8 where mse[lane] < best {
        best = mse[lane]
        chosen = iscales[lane]
    }
    return chosen
}
