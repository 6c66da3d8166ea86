// Helpers shared by the 32-element block families (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1).

/// C's `(int)f` (`cInt`) for NaN and |f| < 2^22, without branches so that loops over it vectorize.
/// Callers establish the range (a finite scale and finite block extremes) or take the reference path.
@inline(__always)
func truncTame(_ f: Float) -> Int32 {
    let i = nearestInt(f.rounded(.towardZero))
    return f.isNaN ? Int32.min : i
}

/// C's `(int)roundf(f)` (half away from zero) for NaN and |f| < 2^22, without branches.
@inline(__always)
func roundTame(_ f: Float) -> Int32 {
    let t = f.rounded(.towardZero)
    let away: Float = f < 0 ? -1 : 1
    let i = nearestInt(abs(f - t) >= 0.5 ? t + away : t)
    return f.isNaN ? Int32.min : i
}

/// C's `(int)(int8_t)v` for a 32-bit conversion result `v`: the low byte, sign-extended.
@inline(__always)
func lowByte(_ v: Int32) -> Int32 { Int32(Int8(truncatingIfNeeded: v)) }

/// The largest |x| of a block and the signed value that has it (the first one wins ties), as the
/// Q4_0 / Q5_0 reference quantizers find it.
@inline(__always)
func signedAbsMax(_ x: UnsafePointer<Float>, _ n: Int) -> (amax: Float, max: Float) {
    var amax: Float = 0, max: Float = 0
    for j in 0..<n where amax < abs(x[j]) {
        amax = abs(x[j])
        max = x[j]
    }
    return (amax, max)
}

/// The largest lane of non-NaN lanes (the order does not matter then).
@inline(__always)
func horizontalMax(_ m: Lanes) -> Float {
    var r = m[0]
    for i in 1..<8 where m[i] > r { r = m[i] }
    return r
}

/// The smallest lane of non-NaN lanes.
@inline(__always)
func horizontalMin(_ m: Lanes) -> Float {
    var r = m[0]
    for i in 1..<8 where m[i] < r { r = m[i] }
    return r
}

/// The smallest lane.
@inline(__always)
func horizontalMin(_ m: LaneInts) -> Int32 {
    var r = m[0]
    for i in 1..<8 where m[i] < r { r = m[i] }
    return r
}

/// `signedAbsMax` with the search vectorized: the largest |x| over `n` (a multiple of 8) values,
/// NaNs skipped as C's `amax < fabsf(v)` skips them, then the first value that has it (found
/// without branches: the smallest index whose |x| equals the maximum).
@inline(__always)
func signedAbsMaxLanes(_ x: UnsafePointer<Float>, _ n: Int) -> (amax: Float, max: Float) {
    var m = Lanes()
    for k in 0..<(n / 8) {
        let a = absLanes(loadLanes(x + 8 * k))
        m = laneSelect(a .> m, a, m)
    }
    let amax = horizontalMax(m)
    guard amax > 0 else { return (0, 0) }
    let target = Lanes(repeating: amax), none = LaneInts(repeating: Int32.max)
    var first = none
    for k in 0..<(n / 8) {
        let a = absLanes(loadLanes(x + 8 * k))
        let index = LaneInts(0, 1, 2, 3, 4, 5, 6, 7) &+ LaneInts(repeating: Int32(8 * k))
        let candidate = laneSelect(a .== target, index, none)
        first = laneSelect(candidate .< first, candidate, first)
    }
    return (amax, x[Int(horizontalMin(first))])
}

/// The largest |x| of a 32-block, and whether the block holds a NaN (C's running MAX restarts
/// from a NaN, so such blocks go to the reference path).
@inline(__always)
func absMaxLanes32(_ x: UnsafePointer<Float>) -> (amax: Float, hasNaN: Bool) {
    var m = Lanes()
    var nan = LaneMask()
    for k in 0..<4 {
        let v = loadLanes(x + 8 * k)
        let a = absLanes(v)
        nan = nan .| (v .!= v)
        m = laneSelect(a .> m, a, m)
    }
    return (horizontalMax(m), any(nan))
}

/// `minMax` of a 32-block with the search vectorized, or nil when the order of the scan matters
/// (an extreme of ±0, whose sign C takes from the first zero it meets).
@inline(__always)
func minMaxLanes32(_ x: UnsafePointer<Float>) -> (min: Float, max: Float)? {
    var lo = Lanes(repeating: .greatestFiniteMagnitude), hi = Lanes(repeating: -.greatestFiniteMagnitude)
    for k in 0..<4 {
        let v = loadLanes(x + 8 * k)
        lo = laneSelect(v .< lo, v, lo)
        hi = laneSelect(v .> hi, v, hi)
    }
    let min = horizontalMin(lo), max = horizontalMax(hi)
    return min == 0 || max == 0 ? nil : (min, max)
}

/// The smallest and largest value of a block, as the Q4_1 / Q5_1 reference quantizers find them.
@inline(__always)
func minMax(_ x: UnsafePointer<Float>, _ n: Int) -> (min: Float, max: Float) {
    var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
    for j in 0..<n {
        let v = x[j]
        if v < min { min = v }
        if v > max { max = v }
    }
    return (min, max)
}

/// σ² of the importance-weighted 32-block quantizers: the mean square of the whole row, summed in
/// index order.
@inline(__always)
func rowSigma2(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var sumX2: Float = 0
    for j in 0..<count { sumX2 += x[j] * x[j] }
    return sumX2 / Float(count)
}

/// Drives an importance-weighted 32-block quantizer over one row. With `fast`, groups of up to
/// eight blocks go to `lanes(firstBlock, blockCount, xT, wT)` with the blocks transposed into lanes
/// (unused lanes hold zeros) and the weights `qw·sqrt(σ² + x²)` computed; otherwise every block goes
/// to `scalar(block, weights)`.
@inline(__always)
func forEachWeightedBlock(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, count: Int, fast: Bool,
                          lanes: (Int, Int, UnsafeMutablePointer<Lanes>, UnsafeMutablePointer<Lanes>) -> Void,
                          scalar: (Int, UnsafeMutablePointer<Float>) -> Void) {
    let sigma2 = rowSigma2(x, count)
    let nb = count / 32
    var b = 0
    if fast {
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 64) { v in
            let xT = v.baseAddress!, wT = xT + 32
            while b < nb {
                let k = Swift.min(8, nb - b)
                if k == 8 {
                    transposeLanes(x + 32 * b, stride: 32, n: 32, into: xT)
                    transposeLanes(qw + 32 * b, stride: 32, n: 32, into: wT)
                } else {
                    transposeLanes(x + 32 * b, stride: 32, n: 32, groups: k, into: xT)
                    transposeLanes(qw + 32 * b, stride: 32, n: 32, groups: k, into: wT)
                }
                for j in 0..<32 { wT[j] = wT[j] * (sigma2 + xT[j] * xT[j]).squareRoot() }
                lanes(b, k, xT, wT)
                b += k
            }
        }
    }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { w in
        let weight = w.baseAddress!
        while b < nb {
            let xb = x + 32 * b, q = qw + 32 * b
            for j in 0..<32 { weight[j] = q[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
            scalar(b, weight)
            b += 1
        }
    }
}
