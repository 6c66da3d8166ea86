import Architectures
import GGUF
import Inference
import Quants

/// The scale search of one group with early stopping. The loss of a candidate is the mean of
/// `(out − reference)²` over the search rows, a sum of non-negative terms; the module's output
/// rows do not depend on which other rows (or, for attention, which other whole sequences) are
/// computed in the same pass. So the rows are scored in chunks, and a candidate whose partial sum
/// already exceeds the loss of a candidate scored in full cannot be the minimum: it is dropped
/// without computing its other chunks. A candidate scored in full gets its loss from
/// `ScaleMath.squaredError` over all its rows in row order, exactly as the exhaustive search
/// computes it, so the losses compared, the minimum, and the chosen candidate (the first of the
/// grid with the least loss, and only if it beats the unscaled weights) are the same.
///
/// To stop early as often as possible, the chunks are visited heaviest first (by the unscaled
/// weights' partial losses), every candidate is first scored on the heaviest chunk, and the
/// candidates are completed in the order of that partial loss, the likeliest winner first.
///
/// The partial sums are added up in another order than `squaredError` adds the same terms; a sum
/// of n non-negative doubles in any order is within a relative n·2⁻⁵³ of the exact sum, so a
/// candidate is dropped only when its partial sum exceeds the full loss by a relative 1e-8
/// (n < 10⁷ terms here would allow 1.2e-9).
extension AWQCalibrator {
    /// The outcome of scoring one group.
    struct GroupScores {
        var base: Double
        /// The least loss (`base` when no candidate beats it).
        var best: Double
        /// The grid index of the chosen candidate, nil when none beats the unscaled weights.
        var chosen: Int?
        /// Candidates scored on every chunk and dropped early (for reports and tests).
        var completed = 0
        var dropped = 0
        /// Candidates the screen left out (`screenGroup`).
        var screened = 0
    }

    static let dropMargin = 1e-8

    /// The row ranges scored one at a time: whole sequences for attention, else
    /// `options.scoringChunkRows` rows.
    func scoringChunks(_ g: AWQGroup, rows: Int, sequenceLength L: Int) -> [Range<Int>] {
        let step = g == .attention ? L : max(1, options.scoringChunkRows)
        return stride(from: 0, to: rows, by: step).map { $0..<Swift.min(rows, $0 + step) }
    }

    /// Σ (a − b)² in double, the terms as `ScaleMath.squaredError` forms them (the difference in
    /// float, then squared in double), added in any order.
    static func partialSquaredError(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
        var acc = SIMD8<Double>()
        var i = 0
        while i + 8 <= count {
            let d = VectorMath.widen(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
                - UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
            acc += d * d
            i += 8
        }
        var sum = acc.sum()
        while i < count {
            let d = Double(a[i] - b[i])
            sum += d * d
            i += 1
        }
        return sum
    }

    /// Scores the unscaled weights and the `candidates` of group `g` of block `il` on
    /// `searchInput` against `reference` (see the extension's comment).
    func scoreGroup(_ g: AWQGroup, _ il: Int, weights ws: [[Float]], candidates: [[Float]],
                    searchInput: ArraySlice<Float>, reference: [Float], sequenceLength L: Int) throws(AWQError) -> GroupScores {
        let width = inputWidth(g, il)
        let e = model.config.embeddingLength
        let count = reference.count
        let rows = count / e
        let chunks = scoringChunks(g, rows: rows, sequenceLength: L)
        let denominator = Double(max(1, count))

        func overrides(_ s: [Float]?) -> ModuleOverrides { self.overrides(g, il, weights: ws, scales: s) }
        /// Runs chunk `j` into `out` (rows × e, in row order) and returns its partial sum.
        func run(_ j: Int, _ s: [Float]?, _ ov: ModuleOverrides, into out: inout [Float]) throws(AWQError) -> Double {
            let r = chunks[j]
            let x = searchInput[(searchInput.startIndex + r.lowerBound * width)..<(searchInput.startIndex + r.upperBound * width)]
            let y = try module(g, il, input: x, sequenceLength: L, overrides: ov, divideBy: s)
            guard y.count == r.count * e else {
                throw AWQError(.engine, "the module of group \(g.rawValue) gave \(y.count) values for \(r.count) rows")
            }
            let o = r.lowerBound * e
            return y.withUnsafeBufferPointer { yb in
                out.withUnsafeMutableBufferPointer { ob in
                    (ob.baseAddress! + o).update(from: yb.baseAddress!, count: yb.count)
                    return reference.withUnsafeBufferPointer { rb in
                        Self.partialSquaredError(yb.baseAddress!, rb.baseAddress! + o, count: yb.count)
                    }
                }
            }
        }

        // The unscaled weights, in full.
        var out = [Float](repeating: 0, count: count)
        let baseOverrides = overrides(nil)
        var baseParts = [Double](repeating: 0, count: chunks.count)
        for j in 0..<chunks.count { baseParts[j] = try run(j, nil, baseOverrides, into: &out) }
        let base = ScaleMath.squaredError(out, reference[...]) / denominator
        var scores = GroupScores(base: base, best: base, chosen: nil)
        guard !candidates.isEmpty else { return scores }

        // Heaviest chunk first; every candidate on it.
        let order = (0..<chunks.count).sorted { baseParts[$0] != baseParts[$1] ? baseParts[$0] > baseParts[$1] : $0 < $1 }
        let first = order[0], firstRows = chunks[first]
        var probes: [[Float]] = []
        var partial = [Double](repeating: 0, count: candidates.count)
        for (k, s) in candidates.enumerated() {
            partial[k] = try run(first, s, overrides(s), into: &out)
            probes.append(Array(out[(firstRows.lowerBound * e)..<(firstRows.upperBound * e)]))
        }

        // Complete them, likeliest winner first, dropping those that cannot win.
        var bound = base  // the least full loss so far
        var losses = [Double?](repeating: nil, count: candidates.count)
        let visit = (0..<candidates.count).sorted { partial[$0] != partial[$1] ? partial[$0] < partial[$1] : $0 < $1 }
        func cannotWin(_ p: Double) -> Bool { p / denominator > bound * (1 + Self.dropMargin) }
        for k in visit {
            var sum = partial[k]
            if cannotWin(sum) {
                scores.dropped += 1
                continue
            }
            let s = candidates[k]
            let ov = overrides(s)
            out.withUnsafeMutableBufferPointer { ob in
                probes[k].withUnsafeBufferPointer { ob.baseAddress!.advanced(by: firstRows.lowerBound * e).update(from: $0.baseAddress!, count: $0.count) }
            }
            var complete = true
            for j in order.dropFirst() {
                sum += try run(j, s, ov, into: &out)
                if cannotWin(sum) {
                    complete = false
                    break
                }
            }
            guard complete else {
                scores.dropped += 1
                continue
            }
            scores.completed += 1
            let l = ScaleMath.squaredError(out, reference[...]) / denominator
            losses[k] = l
            if l < bound { bound = l }
        }
        // As the exhaustive search: the first grid point with the least loss, if below base.
        var best = base
        for k in 0..<candidates.count {
            if let l = losses[k], l < best {
                best = l
                scores.chosen = k
            }
        }
        scores.best = best
        return scores
    }
}
