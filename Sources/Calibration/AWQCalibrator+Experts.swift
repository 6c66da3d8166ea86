import Architectures
import GGUF
import Inference
import Quants

// The up → down group of an MoE block, searched per expert (AutoAWQ's Mixtral and Qwen3-MoE:
// one `up_proj → down_proj` group per expert). Expert x computes down_x(silu(gate_x·h) ⊙ (up_x·h));
// dividing up_x's rows by s and multiplying down_x's columns by s leaves that product exact, for
// every token routed to x, whatever the other experts do: the scale is expert x's own. The stacked
// tensors get one row scale per expert's slab of `ffn_up_exps` and one column scale per expert's
// slab of `ffn_down_exps` (`AWQResult.Fold.slabColumnScale`). Each expert is scored on its own
// down product over the rows routed to it (not the block's output), as AutoAWQ scores down_proj.
extension AWQCalibrator {
    /// The per-expert down scales of MoE block `il` from the experts' captured down inputs
    /// (`inputs[x]`: rows routed to expert x × expert width, in pass order). Each expert is scored
    /// on at most its share of the search rows (`searchRows · used / experts`, at least one row).
    func searchExpertDown(_ il: Int, inputs: [[Float]], searchRows: Int, result: inout AWQLayerResult) throws(AWQError) {
        guard let moe = model.layers[il].experts else { return }
        let f = moe.feedForwardLength
        let share = max(1, searchRows * moe.used / max(1, moe.count))
        var best = 0.0, base = 0.0
        for x in 0..<min(moe.count, inputs.count) {
            let h = inputs[x]
            // An expert no calibration token reached keeps its weights.
            guard f > 0, !h.isEmpty, h.count % f == 0 else { continue }
            let n = min(h.count / f, share)
            let search = Array(h[0..<(n * f)])
            let xMean = ScaleMath.channelMeanAbs(h, columns: f, threads: options.threads)
            let down = moe.down[x].matrix
            let t = types[moe.down[x].name] ?? .f32
            let w = weights(il, .expertDown(x))
            let wMean = options.duoScaling ? ScaleMath.weightMeans([w], columns: f) : nil
            let reference = try expertDown(il, x, search, override: nil)

            func loss(_ s: [Float]?) throws(AWQError) -> Double {
                let sw = s.map { ScaleMath.scaled(w, rows: down.rows, columns: down.columns, columnScale: $0, rowScale: nil) } ?? w
                let q = quantizer.roundTrip(sw, rows: down.rows, columns: down.columns, type: t)
                let o = LinearOverride(values: q, rows: down.rows, columns: down.columns, emulating: t)
                let input = s.map { ScaleMath.divideColumns(search[...], by: $0) } ?? search
                let out = try expertDown(il, x, input, override: o)
                return ScaleMath.squaredError(out, reference[...]) / Double(max(1, reference.count))
            }
            // As the dense groups: the unscaled weights first; a candidate must beat them.
            let b = try loss(nil)
            var l = b
            var scales: [Float]?
            for k in 0..<options.grid {
                let s = ScaleMath.candidate(xMean: xMean, wMean: wMean, ratio: Float(k) / Float(options.grid))
                let c = try loss(s)
                if c < l { l = c; scales = s }
            }
            if let s = scales { result.expertDownScales[x] = s }
            best += l
            base += b
        }
        result.loss[.down] = best
        result.baseLoss[.down] = base
    }

    /// Expert `x`'s down projection of block `il` on `input` (rows × expert width), with
    /// `override` in place of its weights.
    func expertDown(_ il: Int, _ x: Int, _ input: [Float], override: LinearOverride?) throws(AWQError) -> [Float] {
        do { return try runner.expertDown(il, expert: x, input: input, override: override) } catch {
            throw AWQError(.engine, error.description)
        }
    }
}
