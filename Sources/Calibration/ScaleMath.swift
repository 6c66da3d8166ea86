#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Quants

/// The arithmetic of AWQ's scale search (spec §6.5) and of folding (§6.6), on row-major f32
/// matrices in ggml order (`rows` output features of `columns` input features).
public enum ScaleMath {
    /// Columns per group of the duo-scaling weight statistic and of the clip search: the block
    /// of Q4_0/Q5_0/Q8_0 and the sub-block of Q4_K/Q5_K (AutoAWQ uses its INT4 group of 128,
    /// which does not divide rows of 576 and is not the group of any GGUF format).
    public static let groupSize = 32

    /// `x_mean[c]`: the mean of |x[t, c]| over the `rows` rows (AutoAWQ `get_act_scale`),
    /// accumulated in double.
    public static func channelMeanAbs(_ x: [Float], columns: Int, threads: Int = 1) -> [Float] {
        channelMean(x, columns: columns, threads: threads, squared: false)
    }

    /// The mean of x[t, c]² over the `rows` rows (llama-imatrix's per-column importance, the
    /// sum of squares divided by the row count), accumulated in double.
    public static func channelMeanSquare(_ x: [Float], columns: Int, threads: Int = 1) -> [Float] {
        channelMean(x, columns: columns, threads: threads, squared: true)
    }

    private static func channelMean(_ x: [Float], columns: Int, threads: Int, squared: Bool) -> [Float] {
        precondition(columns > 0 && x.count % columns == 0, "\(x.count) values are not rows of \(columns)")
        let rows = x.count / columns
        var out = [Float](repeating: 0, count: columns)
        let pieces = min(columns, max(1, threads) * 4)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                nonisolated(unsafe) let xp = xb.baseAddress!, op = ob.baseAddress!
                parallelFor(chunks: pieces, threads: threads) { p in
                    let c0 = columns * p / pieces, c1 = columns * (p + 1) / pieces
                    guard c0 < c1 else { return }
                    // Each column's sum runs over the rows in order (raw pointers so that the
                    // loops vectorize across columns; the sums are the same).
                    let n = c1 - c0
                    let acc = UnsafeMutablePointer<Double>.allocate(capacity: n)
                    defer { acc.deallocate() }
                    acc.initialize(repeating: 0, count: n)
                    for r in 0..<rows {
                        let row = xp + r * columns + c0
                        if squared {
                            for c in 0..<n { acc[c] += Double(row[c]) * Double(row[c]) }
                        } else {
                            for c in 0..<n { acc[c] += Double(abs(row[c])) }
                        }
                    }
                    for c in 0..<n { op[c0 + c] = Float(acc[c] / Double(max(rows, 1))) }
                }
            }
        }
        return out
    }

    /// `w_mean[c]` of AutoAWQ's duo scaling: the weights of every scaled linear, stacked by rows,
    /// are normalised by the largest magnitude of their group (`|w| / (max|w| + 1e-6)` over
    /// `groupSize` consecutive columns of a row), then averaged over all rows per column.
    public static func weightMeans(_ matrices: [[Float]], columns: Int, groupSize g: Int = groupSize) -> [Float] {
        precondition(columns % g == 0, "\(columns) columns are not whole groups of \(g)")
        var acc = [Double](repeating: 0, count: columns)
        var rows = 0
        for w in matrices {
            precondition(w.count % columns == 0, "\(w.count) weights are not rows of \(columns)")
            let n = w.count / columns
            rows += n
            w.withUnsafeBufferPointer { wb in
                for r in 0..<n {
                    let row = wb.baseAddress! + r * columns
                    var c0 = 0
                    while c0 < columns {
                        var m: Float = 0
                        for c in c0..<(c0 + g) { m = max(m, abs(row[c])) }
                        let d = m + 1e-6
                        for c in c0..<(c0 + g) { acc[c] += Double(abs(row[c]) / d) }
                        c0 += g
                    }
                }
            }
        }
        return acc.map { Float($0 / Double(max(rows, 1))) }
    }

    /// The candidate scales for `ratio` (spec §6.5): with `wMean` (duo scaling)
    /// `s = max(x^r / (w^(1-r) + 1e-4), 1e-4)`, else `s = max(x^r, 1e-4)`; then
    /// `s / sqrt(max(s)·min(s))`, with non-finite entries set to 1.
    public static func candidate(xMean: [Float], wMean: [Float]?, ratio: Float) -> [Float] {
        var s = [Float](repeating: 1, count: xMean.count)
        for c in 0..<xMean.count {
            var v = powf(xMean[c], ratio)
            if let w = wMean { v = v / (powf(w[c], 1 - ratio) + 1e-4) }
            s[c] = max(v, 1e-4)
        }
        let hi = s.max() ?? 1, lo = s.min() ?? 1
        let norm = (hi * lo).squareRoot()
        for c in 0..<s.count {
            let v = s[c] / norm
            s[c] = v.isFinite ? v : 1
        }
        return s
    }

    /// `w[r][c] · colScale[c] / rowScale[r]`: the folded weights of a scaled linear.
    public static func scaled(_ w: [Float], rows: Int, columns: Int, columnScale: [Float]?, rowScale: [Float]?) -> [Float] {
        var out = w
        out.withUnsafeMutableBufferPointer { scale($0, rows: rows, columns: columns, columnScale: columnScale, rowScale: rowScale) }
        return out
    }

    /// `scaled` in place.
    public static func scale(_ w: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int, columnScale: [Float]?,
                             rowScale: [Float]?) {
        precondition(w.count == rows * columns, "\(w.count) weights are not \(rows)×\(columns)")
        if let cs = columnScale {
            precondition(cs.count == columns, "\(cs.count) column scales for \(columns) columns")
            for r in 0..<rows {
                let row = w.baseAddress! + r * columns
                for c in 0..<columns { row[c] *= cs[c] }
            }
        }
        if let rs = rowScale {
            precondition(rs.count == rows, "\(rs.count) row scales for \(rows) rows")
            for r in 0..<rows {
                let row = w.baseAddress! + r * columns
                let d = rs[r]
                for c in 0..<columns { row[c] /= d }
            }
        }
    }

    /// `x[t][c] / s[c]`: the activations a scaled linear sees once the scales are folded into
    /// the operation before it.
    public static func divideColumns(_ x: ArraySlice<Float>, by s: [Float]) -> [Float] {
        let columns = s.count
        precondition(x.count % columns == 0, "\(x.count) values are not rows of \(columns)")
        var out = Array(x)
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<(o.count / columns) {
                let row = o.baseAddress! + r * columns
                for c in 0..<columns { row[c] /= s[c] }
            }
        }
        return out
    }

    /// Sum of squared differences, accumulated in double.
    public static func squaredError(_ a: [Float], _ b: ArraySlice<Float>) -> Double {
        precondition(a.count == b.count, "outputs of \(a.count) and \(b.count) values")
        var sum = 0.0
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                var i = 0
                let n = ab.count
                var acc = SIMD8<Double>()
                while i + 8 <= n {
                    let d = VectorMath.widen(UnsafeRawPointer(ab.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self)
                        - UnsafeRawPointer(bb.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self))
                    acc += d * d
                    i += 8
                }
                sum = acc.sum()
                while i < n {
                    let d = Double(ab[i] - bb[i])
                    sum += d * d
                    i += 1
                }
            }
        }
        return sum
    }
}
