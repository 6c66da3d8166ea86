import GGUF
import Quants

/// AWQ's auto-clip (spec §6.7) against the real block format: for every row and group of
/// `ScaleMath.groupSize` columns, the magnitude `max|w|·(1 − i/20)`, i = 0…9, that minimises the
/// error of the group's partial dot products `Σ_g x·Q(clamp(w)) − Σ_g x·w` over the calibration
/// tokens. Each shrink factor is tried on the whole matrix at once (a K-quant super-block sees
/// all of its groups clipped alike); the per-group winners are then combined, and a row whose
/// combination does worse than no clipping keeps its weights.
///
/// The mean over tokens of `(x_g·d)²` is `d·G_g·d / T` with the Gram matrix `G_g = Σ_t x_g x_gᵀ`,
/// computed once per input, so every candidate costs a few multiply-adds per weight instead of
/// a pass over the tokens. (This leaves out the Q8 rounding of the activations, which does not
/// depend on the weights.)
enum ClipSearch {
    static let grid = 20
    static let steps = 10

    /// Per group `g` of `groupSize` columns, `Σ_t x[t, g]·x[t, g]ᵀ / T` over at most `maxTokens`
    /// evenly spaced rows: `groups × groupSize × groupSize` doubles.
    static func grams(_ x: [Float], columns: Int, maxTokens: Int, threads: Int) -> [Double] {
        let g = ScaleMath.groupSize
        let groups = columns / g
        let rows = x.count / columns
        let step = max(1, rows / max(1, maxTokens))
        let picked = Array(stride(from: 0, to: rows, by: step))
        var out = [Double](repeating: 0, count: groups * g * g)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                nonisolated(unsafe) let xp = xb.baseAddress!, op = ob.baseAddress!
                parallelFor(chunks: groups, threads: threads) { gi in
                    let m = op + gi * g * g
                    var v = [Double](repeating: 0, count: g)
                    for t in picked {
                        let row = xp + t * columns + gi * g
                        for a in 0..<g { v[a] = Double(row[a]) }
                        for a in 0..<g {
                            let va = v[a]
                            for b in a..<g { m[a * g + b] += va * v[b] }
                        }
                    }
                    let inv = 1 / Double(max(1, picked.count))
                    for a in 0..<g {
                        for b in a..<g {
                            m[a * g + b] *= inv
                            m[b * g + a] = m[a * g + b]
                        }
                    }
                }
            }
        }
        return out
    }

    /// `errors[r·groups + g] = d·G_g·d` with `d = q − w` on row r, group g.
    static func groupErrors(q: [Float], w: [Float], rows: Int, columns: Int, grams: [Double], threads: Int) -> [Double] {
        let g = ScaleMath.groupSize
        let groups = columns / g
        var errors = [Double](repeating: 0, count: rows * groups)
        q.withUnsafeBufferPointer { qb in
            w.withUnsafeBufferPointer { wb in
                grams.withUnsafeBufferPointer { gb in
                    errors.withUnsafeMutableBufferPointer { eb in
                        nonisolated(unsafe) let qp = qb.baseAddress!, wp = wb.baseAddress!, gp = gb.baseAddress!, ep = eb.baseAddress!
                        let pieces = min(rows, max(1, threads) * 4)
                        parallelFor(chunks: pieces, threads: threads) { p in
                            var d = [Double](repeating: 0, count: g)
                            for r in (rows * p / pieces)..<(rows * (p + 1) / pieces) {
                                for gi in 0..<groups {
                                    let base = r * columns + gi * g
                                    for a in 0..<g { d[a] = Double(qp[base + a] - wp[base + a]) }
                                    let m = gp + gi * g * g
                                    var e = 0.0
                                    for a in 0..<g {
                                        var s = 0.0
                                        for b in 0..<g { s += m[a * g + b] * d[b] }
                                        e += d[a] * s
                                    }
                                    ep[r * groups + gi] = e
                                }
                            }
                        }
                    }
                }
            }
        }
        return errors
    }

    /// `clamp(w, −m, m)` per (row, group) with `limits[r·groups + g] = m` (infinity: unchanged).
    static func apply(_ w: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int, limits: [Float]) {
        let g = ScaleMath.groupSize
        let groups = columns / g
        precondition(limits.count == rows * groups && w.count == rows * columns, "clip limits do not match \(rows)×\(columns)")
        for r in 0..<rows {
            for gi in 0..<groups {
                let m = limits[r * groups + gi]
                guard m.isFinite else { continue }
                let base = r * columns + gi * g
                for c in base..<(base + g) { w[c] = min(max(w[c], -m), m) }
            }
        }
    }

    /// The outcome for one matrix.
    struct Outcome {
        /// Per (row, group) magnitude limits; infinity where nothing is clipped.
        var limits: [Float]
        /// Summed error `Σ d·G·d` before and after clipping.
        var errorBefore: Double
        var errorAfter: Double
        var clippedGroups: Int
    }

    /// Searches the limits of `w` (`rows × columns`, already scaled) for `type`.
    static func search(_ w: [Float], rows: Int, columns: Int, type: GGMLType, grams: [Double],
                       quantizer: PseudoQuantizer) -> Outcome {
        let g = ScaleMath.groupSize
        let groups = columns / g
        var orgMax = [Float](repeating: 0, count: rows * groups)
        for r in 0..<rows {
            for gi in 0..<groups {
                var m: Float = 0
                for c in (r * columns + gi * g)..<(r * columns + gi * g + g) { m = max(m, abs(w[c])) }
                orgMax[r * groups + gi] = m
            }
        }
        let threads = quantizer.threads
        var best = [Double](repeating: .infinity, count: rows * groups)
        var bestStep = [Int](repeating: 0, count: rows * groups)
        var base: [Double] = []
        for i in 0..<steps {
            let f = 1 - Float(i) / Float(grid)
            var wc = w
            if i > 0 {
                let limits = orgMax.map { $0 * f }
                wc.withUnsafeMutableBufferPointer { apply($0, rows: rows, columns: columns, limits: limits) }
            }
            let q = quantizer.roundTrip(wc, rows: rows, columns: columns, type: type)
            let err = groupErrors(q: q, w: w, rows: rows, columns: columns, grams: grams, threads: threads)
            if i == 0 { base = err }
            for j in 0..<err.count where err[j] < best[j] {
                best[j] = err[j]
                bestStep[j] = i
            }
        }
        var limits = [Float](repeating: .infinity, count: rows * groups)
        for j in 0..<limits.count where bestStep[j] > 0 {
            limits[j] = orgMax[j] * (1 - Float(bestStep[j]) / Float(grid))
        }
        // The winners were found one factor at a time; check the combination row by row.
        var wc = w
        wc.withUnsafeMutableBufferPointer { apply($0, rows: rows, columns: columns, limits: limits) }
        let q = quantizer.roundTrip(wc, rows: rows, columns: columns, type: type)
        let combined = groupErrors(q: q, w: w, rows: rows, columns: columns, grams: grams, threads: threads)
        var before = 0.0, after = 0.0, clipped = 0
        for r in 0..<rows {
            let range = (r * groups)..<((r + 1) * groups)
            let b = base[range].reduce(0, +), c = combined[range].reduce(0, +)
            before += b
            if c < b {
                after += c
                clipped += limits[range].filter(\.isFinite).count
            } else {
                after += b
                for j in range { limits[j] = .infinity }
            }
        }
        return Outcome(limits: limits, errorBefore: before, errorAfter: after, clippedGroups: clipped)
    }
}
