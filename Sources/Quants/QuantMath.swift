// Scalar arithmetic of ggml's reference quantizers (ggml-quants.c): the rounding helpers, C's
// float-to-integer casts as x86-64 executes them, and the scale searches make_qx / make_qkx2 /
// make_qkx3 / make_qp. Every expression keeps C's operation order and sums run in index order;
// nothing here may use fused multiply-add (the golden bytes come from a ggml built without FMA).

/// ggml's `GROUP_MAX_EPS`.
let groupMaxEps: Float = 1e-15

/// ggml's `nearest_int`: add 1.5·2^23, keep the low 23 bits of the result. Round half to even for
/// |f| ≤ 4194303; for anything else (huge, inf, NaN) it returns the same bits C computes.
@inline(__always)
func nearestInt(_ f: Float) -> Int32 {
    let v = f + 12582912
    return (Int32(bitPattern: v.bitPattern) & 0x007F_FFFF) &- 0x0040_0000
}

/// C's `(int)f` on x86-64 (cvttss2si): truncation toward zero; NaN and out-of-range give INT_MIN.
@inline(__always)
func cInt(_ f: Float) -> Int32 {
    guard f > -2_147_483_904, f < 2_147_483_648 else { return Int32.min }  // false for NaN too
    return Int32(f)
}

/// C's `(int8_t)f` as GCC compiles it on x86-64: convert to int32 by truncation, keep the low byte.
@inline(__always)
func cInt8(_ f: Float) -> Int8 { Int8(truncatingIfNeeded: cInt(f)) }

/// C's `(uint8_t)f` likewise.
@inline(__always)
func cUInt8(_ f: Float) -> UInt8 { UInt8(truncatingIfNeeded: cInt(f)) }

/// C's `roundf`: half away from zero.
@inline(__always)
func cRoundf(_ f: Float) -> Float { f.rounded(.toNearestOrAwayFromZero) }

/// `make_qx_quants` with rmse_type 1 (the only one the quantizers here use): symmetric fit of `n`
/// values to levels −nmax…nmax−1, stored in `L` offset by nmax. Weights are `qw` or x². Returns the
/// scale, negative when the largest-magnitude value is positive.
func makeQXQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                  _ qw: UnsafePointer<Float>?) -> Float {
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
    let fnmax = Float(nmax)
    @inline(__always) func weight(_ i: Int) -> Float { if let qw { return qw[i] } else { return x[i] * x[i] } }
    @inline(__always) func level(_ v: Float) -> Int32 { Swift.max(-nmax, Swift.min(nmax - 1, nearestInt(v))) }
    var iscale = Float(-nmax) / max
    var sumlx: Float = 0
    var suml2: Float = 0
    for i in 0..<n {
        let l = level(iscale * x[i])
        L[i] = Int8(truncatingIfNeeded: l + nmax)
        let w = weight(i)
        let fl = Float(l)
        sumlx += w * x[i] * fl
        suml2 += w * fl * fl
    }
    var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
    var best = scale * sumlx
    for step in -9...9 where step != 0 {
        iscale = -(fnmax + 0.1 * Float(step)) / max
        sumlx = 0
        suml2 = 0
        for i in 0..<n {
            let fl = Float(level(iscale * x[i]))
            let w = weight(i)
            sumlx += w * x[i] * fl
            suml2 += w * fl * fl
        }
        if suml2 > 0 && sumlx * sumlx > best * suml2 {
            for i in 0..<n { L[i] = Int8(truncatingIfNeeded: nmax + level(iscale * x[i])) }
            scale = sumlx / suml2
            best = scale * sumlx
        }
    }
    return scale
}

/// `make_qkx2_quants`: asymmetric weighted fit of `n` values to levels 0…nmax. The error is the
/// weighted squared difference, or with `useMad` (Q2_K's reference quantizer) the weighted absolute one.
/// Returns the scale and stores `-min` (a non-negative offset) in `theMin`.
func makeQKX2Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                    _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                    rmin: Float, rdelta: Float, nstep: Int, useMad: Bool = false) -> Float {
    makeQKXQuants(n, nmax, x, weights, L, &theMin, Laux, rmin: rmin, rdelta: rdelta, nstep: nstep, qkx3: false,
                  useMad: useMad)
}

/// `make_qkx3_quants` (use_mad false): as make_qkx2, but weights default to x² and a group whose
/// max ≤ min is degenerate.
func makeQKX3Quants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>?,
                    _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                    rmin: Float, rdelta: Float, nstep: Int) -> Float {
    if let weights {
        return makeQKXQuants(n, nmax, x, weights, L, &theMin, Laux, rmin: rmin, rdelta: rdelta, nstep: nstep, qkx3: true)
    }
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { w in
        for i in 0..<n { w[i] = x[i] * x[i] }
        return makeQKXQuants(n, nmax, x, w.baseAddress!, L, &theMin, Laux, rmin: rmin, rdelta: rdelta, nstep: nstep, qkx3: true)
    }
}

/// The body shared by make_qkx2 and make_qkx3 (they differ only in the degenerate test).
private func makeQKXQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                           _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ Laux: UnsafeMutablePointer<UInt8>,
                           rmin: Float, rdelta: Float, nstep: Int, qkx3: Bool, useMad: Bool = false) -> Float {
    var min = x[0]
    var max = x[0]
    var sumW = weights[0]
    var sumX = sumW * x[0]
    for i in 1..<n {
        if x[i] < min { min = x[i] }
        if x[i] > max { max = x[i] }
        let w = weights[i]
        sumW += w
        sumX += w * x[i]
    }
    if min > 0 { min = 0 }
    if qkx3 ? max <= min : max == min {
        for i in 0..<n { L[i] = 0 }
        theMin = -min
        return 0
    }
    @inline(__always) func level(_ v: Float) -> Int32 { Swift.max(0, Swift.min(nmax, nearestInt(v))) }
    var iscale = Float(nmax) / (max - min)
    var scale = 1 / iscale
    var bestMad: Float = 0
    for i in 0..<n {
        L[i] = UInt8(truncatingIfNeeded: level(iscale * (x[i] - min)))
        var diff = scale * Float(L[i]) + min - x[i]
        diff = useMad ? abs(diff) : diff * diff
        bestMad += weights[i] * diff
    }
    if nstep < 1 {
        theMin = -min
        return scale
    }
    for step in 0...nstep {
        iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
        var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
        for i in 0..<n {
            let l = level(iscale * (x[i] - min))
            Laux[i] = UInt8(truncatingIfNeeded: l)
            let w = weights[i]
            let fl = Float(l)
            sumL += w * fl
            sumL2 += w * fl * fl
            sumXL += w * fl * x[i]
        }
        let D = sumW * sumL2 - sumL * sumL
        if D > 0 {
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var mad: Float = 0
            for i in 0..<n {
                var diff = thisScale * Float(Laux[i]) + thisMin - x[i]
                diff = useMad ? abs(diff) : diff * diff
                mad += weights[i] * diff
            }
            if mad < bestMad {
                for i in 0..<n { L[i] = Laux[i] }
                bestMad = mad
                scale = thisScale
                min = thisMin
            }
        }
    }
    theMin = -min
    return scale
}

/// `make_qp_quants`: weighted fit of non-negative values to levels 0…nmax, used for the 6-bit
/// sub-block scales and mins of the importance-weighted Q4_K/Q5_K. Levels are stored as C's
/// `uint8_t` (a negative level wraps, exactly as in C).
/// `lanes: true` runs the eight trial scales side by side (`qpTrialScale`); same result.
func makeQPQuants(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                  _ qw: UnsafePointer<Float>, lanes: Bool = false) -> Float {
    var max: Float = 0
    for i in 0..<n { max = max > x[i] ? max : x[i] }  // C's MAX(max, x[i])
    if max < groupMaxEps {  // b10572 (b4748: max == 0)
        for i in 0..<n { L[i] = 0 }
        return 0
    }
    let fnmax = Float(nmax)
    var iscale = fnmax / max
    for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
    let scale = 1 / iscale
    var bestMSE: Float = 0
    for i in 0..<n {
        let diff = x[i] - scale * Float(L[i])
        bestMSE += qw[i] * diff * diff
    }
    if lanes {
        iscale = qpTrialScale(n, nmax, x, qw, max: max, iscale: iscale, bestMSE: bestMSE)
    } else {
        for step in -4...4 where step != 0 {
            let iscaleIs = (0.1 * Float(step) + fnmax) / max
            let scaleIs = 1 / iscaleIs
            var mse: Float = 0
            for i in 0..<n {
                let l = Swift.min(nmax, nearestInt(iscaleIs * x[i]))
                let diff = x[i] - scaleIs * Float(l)
                mse += qw[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleIs
            }
        }
    }
    var sumlx: Float = 0
    var suml2: Float = 0
    for i in 0..<n {
        let l = Swift.min(nmax, nearestInt(iscale * x[i]))
        L[i] = UInt8(truncatingIfNeeded: l)
        let w = qw[i]
        let fl = Float(l)
        sumlx += w * x[i] * fl
        suml2 += w * fl * fl
    }
    for _ in 0..<5 {
        var changed = 0
        for i in 0..<n {
            let w = qw[i]
            let li = Float(L[i])
            var slx = sumlx - w * x[i] * li
            var sl2 = suml2 - w * li * li
            if slx > 0 && sl2 > 0 {
                let newL = Swift.min(nmax, nearestInt(x[i] * sl2 / slx))
                if newL != Int32(L[i]) {
                    let fn = Float(newL)
                    slx += w * x[i] * fn
                    sl2 += w * fn * fn
                    if slx * slx * suml2 > sumlx * sumlx * sl2 {
                        L[i] = UInt8(truncatingIfNeeded: newL)
                        sumlx = slx
                        suml2 = sl2
                        changed += 1
                    }
                }
            }
        }
        if changed == 0 { break }
    }
    return suml2 > 0 ? sumlx / suml2 : 0  // b10572 (b4748 divided unconditionally)
}
