import Architectures
import GGUF
import Inference
import Quants

/// The scale search of one group with a screen: every candidate is first scored on a few rows
/// (the screen), and only the candidates the screen ranks near the top are scored on every row
/// (the exact loss, computed as `scoreGroup` and the exhaustive search compute it). The chosen
/// candidate is the first of the grid with the least exact loss among those rescored, and only if
/// it beats the unscaled weights, whose loss is always exact.
///
/// So the choice equals the exhaustive search's whenever the exhaustive winner is among the
/// rescored candidates. The screen's rows are a sample of the search rows and its ranking is not
/// guaranteed, hence the rescored set is generous: the `screenKeep` best by the screen and every
/// candidate whose screen loss is within a relative `screenMargin` of the screen's best. (A
/// candidate whose screen loss alone exceeds a full loss cannot win; those are dropped as in
/// `scoreGroup`, without a margin.) Where the grid has near-ties (feed-forward and down groups
/// often have several candidates within 0.5 % of the least loss) the screen may rank the winner
/// below them; rescoring the near-ties exactly keeps the choice unless the winner falls outside
/// the rescored set, and then the candidate chosen is within the screen's error of it.
///
/// The defaults (192 rows, 384 attention positions, 3 kept, 2 %) were chosen on SmolLM2-135M,
/// Q4_K_M, the 21 groups of blocks 0-6, from every candidate's per-row losses of an exhaustive
/// run: the exhaustive winner was rescored in every group, at about 5.7 module passes per group
/// (weighted by the groups' cost) where early stopping alone needed 14.8 and the exhaustive
/// search 21. The screen's error there: the winner's screen loss was up to 4.3 % above the
/// screen's best for attention (16 % on 144 positions, early positions are atypical), 2.2 % for
/// the feed-forward and 0.8 % for the down groups; with 128 rows the search would have missed
/// winners by up to 2.4 % of the loss.
///
/// The screen rows: for attention, the first `screenPositions` positions (rounded up to whole
/// groups of 24 rows, so the kernels' tiles and key lanes are cut where a full sequence cuts them)
/// of the sequence with the largest loss of the unscaled weights: causal attention gives the first
/// positions of a sequence the same outputs whether or not the later ones are computed. For the
/// other groups, the first `screenRows` rows of the `scoringChunkRows` chunk with the largest loss
/// of the unscaled weights.
extension AWQCalibrator {
    /// The rows of the screen out of `chunks` (those of `scoringChunks`), given the unscaled
    /// weights' loss per chunk, and the sequence length to run them with.
    func screenRows(_ g: AWQGroup, chunks: [Range<Int>], baseParts: [Double], sequenceLength L: Int) -> (Range<Int>, Int) {
        var heaviest = 0
        for j in 1..<chunks.count where baseParts[j] > baseParts[heaviest] { heaviest = j }
        let c = chunks[heaviest]
        if g == .attention {
            let p = min(c.count, (max(1, options.screenPositions) + 23) / 24 * 24)
            return (c.lowerBound..<(c.lowerBound + p), p)
        }
        return (c.lowerBound..<min(c.upperBound, c.lowerBound + max(1, options.screenRows)), L)
    }

    /// Which candidates to score on every row: indices into `screen` (one screen loss per
    /// candidate), best screen loss first; ties keep the grid order.
    static func rescored(_ screen: [Double], keep: Int, margin: Double) -> [Int] {
        let order = screen.indices.sorted { screen[$0] != screen[$1] ? screen[$0] < screen[$1] : $0 < $1 }
        guard let first = order.first else { return [] }
        let limit = screen[first] * (1 + margin)
        return order.enumerated().filter { $0.offset < keep || screen[$0.element] <= limit }.map(\.element)
    }

    /// Scores the unscaled weights and the `candidates` of group `g` of block `il` with the
    /// screen (see the extension's comment).
    func screenGroup(_ g: AWQGroup, _ il: Int, weights ws: [[Float]], candidates: [[Float]],
                     searchInput: ArraySlice<Float>, reference: [Float], sequenceLength L: Int) throws(AWQError) -> GroupScores {
        let width = inputWidth(g, il)
        let e = model.config.embeddingLength
        let count = reference.count
        let rows = count / e
        let chunks = scoringChunks(g, rows: rows, sequenceLength: L)
        let denominator = Double(max(1, count))

        func overrides(_ s: [Float]?) -> ModuleOverrides { self.overrides(g, il, weights: ws, scales: s) }
        /// Runs rows `r` (whole sequences of `length`) into `out` (in row order) and returns
        /// their partial sum.
        func run(_ r: Range<Int>, length: Int, _ s: [Float]?, _ ov: ModuleOverrides,
                 into out: inout [Float]) throws(AWQError) -> Double {
            let x = searchInput[(searchInput.startIndex + r.lowerBound * width)..<(searchInput.startIndex + r.upperBound * width)]
            let y = try module(g, il, input: x, sequenceLength: length, overrides: ov, divideBy: s)
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
        for j in 0..<chunks.count { baseParts[j] = try run(chunks[j], length: L, nil, baseOverrides, into: &out) }
        let base = ScaleMath.squaredError(out, reference[...]) / denominator
        var scores = GroupScores(base: base, best: base, chosen: nil)
        guard !candidates.isEmpty else { return scores }

        // The screen.
        let (screenRange, screenLength) = screenRows(g, chunks: chunks, baseParts: baseParts, sequenceLength: L)
        var screen = [Double](repeating: 0, count: candidates.count)
        for (k, s) in candidates.enumerated() {
            screen[k] = try run(screenRange, length: screenLength, s, overrides(s), into: &out)
        }

        // The exact loss of the candidates the screen keeps, likeliest winner first; a candidate
        // whose partial sum exceeds the least full loss cannot win and is dropped.
        let order = (0..<chunks.count).sorted { baseParts[$0] != baseParts[$1] ? baseParts[$0] > baseParts[$1] : $0 < $1 }
        var bound = base
        var losses = [Double?](repeating: nil, count: candidates.count)
        func cannotWin(_ p: Double) -> Bool { p / denominator > bound * (1 + Self.dropMargin) }
        let keep = Self.rescored(screen, keep: options.screenKeep, margin: options.screenMargin)
        scores.screened = candidates.count - keep.count
        for k in keep {
            if cannotWin(screen[k]) {
                scores.dropped += 1
                continue
            }
            let s = candidates[k]
            let ov = overrides(s)
            var sum = 0.0
            var complete = true
            for j in order {
                sum += try run(chunks[j], length: L, s, ov, into: &out)
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
