import Architectures
import GGUF
import Inference
import Quants

/// The inputs of one block's linears over every calibration token, captured on the float
/// model, and the float outputs of the modules AWQ inspects on the search blocks.
struct LayerCapture {
    /// Input of attn_q/k/v (attn_norm's output): tokens × embedding.
    var attentionInput: [Float] = []
    /// Input of attn_output (the attention heads): tokens × heads·headDim.
    var outputInput: [Float] = []
    /// Input of ffn_gate/up (ffn_norm's output): tokens × embedding.
    var feedForwardInput: [Float] = []
    /// Input of ffn_down (SwiGLU's output): tokens × feed-forward length.
    var downInput: [Float] = []
    /// An MoE block: the input of each routed expert's down projection (the rows routed to it,
    /// in pass order, × the expert's hidden width), by expert.
    var expertDownInput: [[Float]] = []
    /// attn_output's result and ffn_down's result on the search rows: rows × embedding.
    var attentionOutput: [Float] = []
    var feedForwardOutput: [Float] = []

    func input(_ g: AWQGroup) -> [Float] {
        switch g {
        case .attention: return attentionInput
        case .valueOutput: return outputInput
        case .feedForward: return feedForwardInput
        case .down: return downInput
        }
    }

    /// Empties every capture, keeping the storage.
    mutating func clear() {
        attentionInput.removeAll(keepingCapacity: true)
        outputInput.removeAll(keepingCapacity: true)
        feedForwardInput.removeAll(keepingCapacity: true)
        downInput.removeAll(keepingCapacity: true)
        expertDownInput.removeAll()
        attentionOutput.removeAll(keepingCapacity: true)
        feedForwardOutput.removeAll(keepingCapacity: true)
    }

    func reference(_ g: AWQGroup) -> [Float] {
        switch g {
        case .attention, .valueOutput: return attentionOutput
        case .feedForward, .down: return feedForwardOutput
        }
    }
}

/// Collects the observer's activations (the observer is an escaping closure).
private final class CaptureBox {
    var capture = LayerCapture()
}

extension AWQCalibrator {
    /// Runs block `il` on `hidden` (whole calibration blocks of `sequenceLength` tokens) with the
    /// float weights, capturing the linears' inputs into `capture` and the block's output into `next`.
    /// Both are emptied first and keep their storage from the previous block: the captures are the
    /// largest buffers of a calibration, and memory the process has not touched yet costs a page
    /// fault per page.
    func captureLayer(_ il: Int, hidden: [Float], sequenceLength L: Int,
                      into capture: inout LayerCapture, next: inout [Float]) throws(AWQError) {
        let c = model.config
        let e = c.embeddingLength
        let blocks = hidden.count / (e * L)
        let perPass = max(1, options.rowsPerPass / L)
        let n = blocks * L
        // The box owns the arrays while the observer appends to them, so they stay unshared.
        let box = CaptureBox()
        swap(&box.capture, &capture)
        defer { swap(&box.capture, &capture) }
        box.capture.clear()
        box.capture.attentionInput.reserveCapacity(n * e)
        box.capture.outputInput.reserveCapacity(n * c.headCount * c.headDimV)
        box.capture.feedForwardInput.reserveCapacity(n * e)
        box.capture.downInput.reserveCapacity(n * c.feedForwardLength)
        // The names the observer reports (Phi-3: the fused tensors' names, reported by q and gate
        // only; an MoE block: the router reads the feed-forward input, and the experts' down
        // inputs come through the expert observer, per expert).
        let w = model.layers[il]
        let qName = w.q.name, oName = w.o.name
        let gName = w.experts?.router.name ?? w.gate.name, dName = w.experts == nil ? w.down.name : ""
        if let moe = w.experts {
            let downName = moe.down.first?.name ?? ""
            box.capture.expertDownInput = [[Float]](repeating: [], count: moe.count)
            session.expertObserver = { name, expert, _, x, _, _, _, _ in
                guard name == downName, expert >= 0, expert < box.capture.expertDownInput.count else { return }
                box.capture.expertDownInput[expert].append(contentsOf: x)
            }
        }
        session.observer = { name, x, _, _ in
            switch name {
            case qName: box.capture.attentionInput.append(contentsOf: x)
            case oName: box.capture.outputInput.append(contentsOf: x)
            case gName: box.capture.feedForwardInput.append(contentsOf: x)
            case dName: box.capture.downInput.append(contentsOf: x)
            default: break
            }
        }
        defer {
            session.observer = nil
            session.expertObserver = nil
        }
        next.removeAll(keepingCapacity: true)
        next.reserveCapacity(hidden.count)
        var h: [Float] = []
        var b0 = 0
        while b0 < blocks {
            let b1 = min(blocks, b0 + perPass)
            h.removeAll(keepingCapacity: true)
            h.append(contentsOf: hidden[(b0 * L * e)..<(b1 * L * e)])
            do { try session.block(il, hidden: &h, sequences: b1 - b0) } catch { throw AWQError(.engine, error.description) }
            next.append(contentsOf: h)
            b0 = b1
        }
        session.observer = nil
        session.expertObserver = nil
        let searchRows = self.searchBlocks(blocks) * L
        try referenceOutputs(il, &box.capture, searchRows: searchRows, sequenceLength: L)
    }

    /// The float outputs of attention and feed-forward on the first `searchRows` rows. The block
    /// pass has computed their last products' inputs already (the captured attn_output and
    /// ffn_down inputs, bit for bit what `module` computes on the way: the same engine on the same
    /// rows), so only those products run again. An MoE block's feed-forward (its experts' outputs
    /// are weighted and summed) runs in full.
    func referenceOutputs(_ il: Int, _ capture: inout LayerCapture, searchRows: Int, sequenceLength L: Int) throws(AWQError) {
        let e = model.config.embeddingLength
        func rows(_ x: [Float], _ width: Int, _ what: String) throws(AWQError) -> ArraySlice<Float> {
            guard x.count >= searchRows * width else {
                throw AWQError(.engine, "block \(il): the \(what) input was captured as \(x.count) values, "
                               + "expected at least \(searchRows) rows of \(width)")
            }
            return x[0..<(searchRows * width)]
        }
        capture.attentionOutput = try module(.valueOutput, il, input: rows(capture.outputInput, inputWidth(.valueOutput, il), "attn_output"),
                                             sequenceLength: L, overrides: .none)
        if model.layers[il].experts != nil {
            capture.feedForwardOutput = try module(.feedForward, il, input: rows(capture.feedForwardInput, e, "feed-forward"),
                                                   sequenceLength: L, overrides: .none)
        } else {
            capture.feedForwardOutput = try module(.down, il, input: rows(capture.downInput, inputWidth(.down, il), "ffn_down"),
                                                   sequenceLength: L, overrides: .none)
        }
    }

    func searchBlocks(_ blocks: Int) -> Int { Self.searchBlocks(blocks, sequenceLength: session.contextLength, options.searchBlocks) }

    /// Blocks that score the candidates out of `blocks` (see `AWQOptions.searchBlocks`).
    public static func searchBlocks(_ blocks: Int, sequenceLength: Int, _ requested: Int?) -> Int {
        guard let r = requested else { return min(blocks, max(1, AWQOptions.defaultSearchTokens / max(1, sequenceLength))) }
        return r <= 0 ? blocks : min(blocks, r)
    }

    /// The module `g` inspects, on `input` (whole blocks), in passes of at most `rowsPerPass`
    /// rows: its output (rows × embedding).
    func module(_ g: AWQGroup, _ il: Int, input: ArraySlice<Float>, sequenceLength L: Int,
                overrides: ModuleOverrides, divideBy s: [Float]? = nil) throws(AWQError) -> [Float] {
        let width = inputWidth(g, il)
        let rows = input.count / width
        let perPass = max(1, options.rowsPerPass / L) * L
        var out: [Float] = []
        out.reserveCapacity(rows * model.config.embeddingLength)
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + perPass)
            let slice = input[(input.startIndex + r0 * width)..<(input.startIndex + r1 * width)]
            let x = s.map { ScaleMath.divideColumns(slice, by: $0) } ?? Array(slice)
            do {
                switch g {
                case .attention:
                    out += try runner.attention(il, input: x, sequences: (r1 - r0) / L, overrides: overrides.linears)
                case .valueOutput:
                    out += try runner.projection(il, .attnOutput, input: x, override: overrides[.attnOutput])
                case .feedForward:
                    out += try runner.feedForward(il, input: x, overrides: overrides.linears, experts: overrides.experts)
                case .down:
                    out += try runner.projection(il, .ffnDown, input: x, override: overrides[.ffnDown])
                }
            } catch {
                throw AWQError(.engine, error.description)
            }
            r0 = r1
        }
        return out
    }

    /// The scale search of every group of block `il` on the unmodified block (spec §6.5).
    func searchScales(_ il: Int, capture: LayerCapture, sequenceLength L: Int) throws(AWQError) -> AWQLayerResult {
        var result = AWQLayerResult()
        for g in groups {
            if g == .down, model.layers[il].experts != nil {
                let searchRows = capture.feedForwardOutput.count / model.config.embeddingLength
                try searchExpertDown(il, inputs: capture.expertDownInput, searchRows: searchRows, result: &result)
                continue
            }
            let input = capture.input(g)
            let reference = capture.reference(g)
            let width = inputWidth(g, il)
            let searchRows = reference.count / model.config.embeddingLength
            let searchInput = input[0..<(searchRows * width)]
            let xMean = ScaleMath.channelMeanAbs(input, columns: width, threads: options.threads)
            let ws = matrices(g, il).map { weights(il, $0) }
            let wMean = options.duoScaling ? ScaleMath.weightMeans(ws, columns: width) : nil

            func loss(_ s: [Float]?) throws(AWQError) -> Double {
                let overrides = self.overrides(g, il, weights: ws, scales: s)
                let out = try module(g, il, input: searchInput, sequenceLength: L, overrides: overrides, divideBy: s)
                return ScaleMath.squaredError(out, reference[...]) / Double(max(1, reference.count))
            }

            if !options.exhaustiveSearch {
                let candidates = (0..<options.grid).map {
                    ScaleMath.candidate(xMean: xMean, wMean: wMean, ratio: Float($0) / Float(options.grid))
                }
                let scores = options.screenRows > 0
                    ? try screenGroup(g, il, weights: ws, candidates: candidates, searchInput: searchInput,
                                      reference: reference, sequenceLength: L)
                    : try scoreGroup(g, il, weights: ws, candidates: candidates, searchInput: searchInput,
                                     reference: reference, sequenceLength: L)
                if let k = scores.chosen { result.scales[g] = candidates[k] }
                // updateValue: "no ratio" is stored as a present nil (a subscript assignment of a
                // nil Float? here would remove the key, and the summary would read an MoE group).
                let ratio: Float? = scores.chosen.map { Float($0) / Float(options.grid) }
                result.ratios.updateValue(ratio, forKey: g)
                result.loss[g] = scores.best
                result.baseLoss[g] = scores.base
                continue
            }
            // The unscaled weights first: a candidate must beat plain quantization to be kept.
            let base = try loss(nil)
            var best = base
            var bestScales: [Float]?
            var bestRatio: Float?
            for k in 0..<options.grid {
                let ratio = Float(k) / Float(options.grid)
                let s = ScaleMath.candidate(xMean: xMean, wMean: wMean, ratio: ratio)
                let l = try loss(s)
                if l < best {
                    best = l
                    bestScales = s
                    bestRatio = ratio
                }
            }
            if let s = bestScales { result.scales[g] = s }
            result.ratios.updateValue(bestRatio, forKey: g)
            result.loss[g] = best
            result.baseLoss[g] = base
        }
        return result
    }

    /// The clip search of block `il` on the scaled weights (spec §6.7): q and k are skipped.
    func searchClips(_ il: Int, capture: LayerCapture, result: inout AWQLayerResult) throws(AWQError) {
        let sAtt = result.scales[.attention], sVO = result.scales[.valueOutput]
        let sFF = result.scales[.feedForward], sDown = result.scales[.down]
        // (linear, its input, the input's scales, the weights' column and row scales)
        let plan: [(LinearRole, AWQGroup, [Float]?, [Float]?)] = [
            (.attnV, .attention, sAtt, sVO), (.attnOutput, .valueOutput, sVO, nil),
            (.ffnGate, .feedForward, sFF, nil), (.ffnUp, .feedForward, sFF, sDown), (.ffnDown, .down, sDown, nil),
        ]
        var grams: [AWQGroup: [Double]] = [:]
        let moe = model.layers[il].experts != nil
        for (role, inputGroup, columnScale, rowScale) in plan {
            // An MoE block's experts are not clipped (its dense accessors are expert 0's).
            if moe, inputGroup == .feedForward || inputGroup == .down { continue }
            let m = model.layers[il].linear(role).matrix
            let t = type(il, role)
            guard t.isQuantized, m.columns % ScaleMath.groupSize == 0 else { continue }
            if grams[inputGroup] == nil {
                let x = capture.input(inputGroup)
                let sample = Self.sample(x, columns: m.columns, maxRows: options.clipTokens)
                let scaled = columnScale.map { ScaleMath.divideColumns(sample[...], by: $0) } ?? sample
                grams[inputGroup] = ClipSearch.grams(scaled, columns: m.columns, maxTokens: Int.max, threads: options.threads)
            }
            guard let gram = grams[inputGroup] else { continue }
            let w = ScaleMath.scaled(weights(il, role), rows: m.rows, columns: m.columns, columnScale: columnScale, rowScale: rowScale)
            let outcome = ClipSearch.search(w, rows: m.rows, columns: m.columns, type: t, grams: gram, quantizer: quantizer)
            if outcome.clippedGroups > 0 { result.clips[role] = outcome.limits }
        }
    }

    /// At most `maxRows` evenly spaced rows of `x`.
    static func sample(_ x: [Float], columns: Int, maxRows: Int) -> [Float] {
        let rows = x.count / columns
        let step = max(1, rows / max(1, maxRows))
        if step == 1 { return x }
        var out: [Float] = []
        out.reserveCapacity((rows / step + 1) * columns)
        for r in stride(from: 0, to: rows, by: step) { out += x[(r * columns)..<((r + 1) * columns)] }
        return out
    }
}
