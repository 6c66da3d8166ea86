import Architectures
import Quants

extension InferenceSession {
    /// One decoder block on `acts.residual` (`rows` = sequences × length rows), in place:
    /// attn_norm → q/k/v (+ biases, + qwen3 q/k norms) → RoPE → cache → attention → attn_output
    /// → residual → ffn_norm → SwiGLU → ffn_down → residual (llama.cpp `build_llama`, `build_qwen2`).
    ///
    /// With `keepRows` (ascending row indices), only those rows go on after attention: they are
    /// moved to the front and the output projection and MLP run on them alone, as llama.cpp does
    /// in the last layer for the rows whose logits were asked for (`inp_out_ids`).
    func runBlock(layer w: LayerWeights, index il: Int, rows n: Int, sequences: Int, length: Int, start: Int,
                  cache: KVCache, cacheLayer: Int, attention att: Attention, overrides: [LinearRole: LinearOverride],
                  keepRows: [Int]? = nil) {
        let c = model.config
        // The block below is the pre-norm layout; other layouts of `EngineWiring` get their own path here.
        switch c.wiring.layout {
        case .preNorm: break
        case .sandwichNorm:
            runSandwichBlock(layer: w, index: il, rows: n, sequences: sequences, length: length, start: start,
                             cache: cache, cacheLayer: cacheLayer, attention: att, overrides: overrides, keepRows: keepRows)
            return
        }
        let e = c.embeddingLength
        let x = acts.residual.pointer
        let xn = acts.normed.pointer
        let qDim = c.headCount * c.headDimK
        normRows(x, w.attnNorm, xn, rows: n, width: e)
        attentionCore(layer: w, input: xn, rows: n, sequences: sequences, length: length, start: start, cache: cache,
                      cacheLayer: cacheLayer, attention: att, overrides: overrides)

        var n = n
        if let keep = keepRows, keep.count < n {
            let aw = qDim
            for (i, r) in keep.enumerated() where i != r {
                (acts.attention.pointer + i * aw).update(from: acts.attention.pointer + r * aw, count: aw)
                (x + i * e).update(from: x + r * e, count: e)
            }
            n = keep.count
        }
        let proj = acts.projected.pointer
        linear(w.o, acts.attention.pointer, rows: n, into: proj, override: overrides[.attnOutput])
        addRows(x, proj, count: n * e)

        normRows(x, w.ffnNorm, xn, rows: n, width: e)
        if let moe = w.experts {
            runExperts(moe, xn, rows: n, into: proj)
            RowOps.add(x, proj, count: n * e)
            return
        }
        feedForwardCore(layer: w, input: xn, rows: n, into: proj, overrides: overrides, fuseDown: true)
        addRows(x, proj, count: n * e)
    }

    /// q, k and v of the normalised `input` into `acts.q/k/v`, with their biases and the q/k norms
    /// (Qwen3, Gemma 3): the start of every attention core.
    func projectQKV(layer w: LayerWeights, input xn: UnsafePointer<Float>, rows n: Int,
                    overrides: [LinearRole: LinearOverride]) {
        let c = model.config
        let q = acts.q.pointer, k = acts.k.pointer, v = acts.v.pointer
        linear(w.q, xn, rows: n, into: q, override: overrides[.attnQ])
        linear(w.k, xn, rows: n, into: k, override: overrides[.attnK], sameInput: overrides[.attnQ] == nil)
        linear(w.v, xn, rows: n, into: v, override: overrides[.attnV], sameInput: overrides[.attnK] == nil)
        if let b = w.qBias { addBias(q, b, rows: n) }
        if let b = w.kBias { addBias(k, b, rows: n) }
        if let b = w.vBias { addBias(v, b, rows: n) }
        if let qn = w.qNorm { normRows(q, qn, q, rows: n * c.headCount, width: c.headDimK) }
        if let kn = w.kNorm { normRows(k, kn, k, rows: n * c.headCountKV, width: c.headDimK) }
    }

    /// gate/up of the normalised `input`, the activation, ffn_down into `out` (`rows × embeddingLength`);
    /// every dense feed-forward (the blocks and `SubBlockRunner.feedForward`).
    /// `fuseDown`: the caller does not read `input` afterwards, so with no observer and no
    /// overrides a SwiGLU before f32 `ffn_down` weights may go straight into the product's packed
    /// activations (`MatMul.packSwiGLU`; the same values) instead of through `input`.
    func feedForwardCore(layer w: LayerWeights, input xn: UnsafeMutablePointer<Float>, rows n: Int,
                         into out: UnsafeMutablePointer<Float>, overrides: [LinearRole: LinearOverride],
                         fuseDown: Bool = false) {
        let c = model.config
        let gate = acts.gate.pointer, up = acts.up.pointer
        linear(w.gate, xn, rows: n, into: gate, override: overrides[.ffnGate])
        linear(w.up, xn, rows: n, into: up, override: overrides[.ffnUp], sameInput: overrides[.ffnGate] == nil)
        if fuseDown, observer == nil, overrides.isEmpty, c.wiring.feedForward == .swiGLU,
           MatMul.packSwiGLU(gate: gate, up: up, rows: n, columns: c.feedForwardLength, before: w.down.matrix, key: xn,
                             threads: threads, workspace: workspace) {
            linear(w.down, xn, rows: n, into: out, override: nil, sameInput: true)
            return
        }
        switch c.wiring.feedForward {
        case .swiGLU: swiglu(gate: gate, up: up, into: xn, count: n * c.feedForwardLength)
        case .geGLU: geglu(gate: gate, up: up, into: xn, count: n * c.feedForwardLength)
        }
        linear(w.down, xn, rows: n, into: out, override: overrides[.ffnDown])
    }

    /// q/k/v of the normalised `input` (+ biases, + qwen3 q/k norms), RoPE (and the query scale),
    /// the cache and attention of a pre-norm block: leaves the attention result (before
    /// attn_output) in `acts.attention`. The block and `SubBlockRunner.attention` share it.
    func attentionCore(layer w: LayerWeights, input xn: UnsafePointer<Float>, rows n: Int, sequences: Int, length: Int,
                       start: Int, cache: KVCache, cacheLayer: Int, attention att: Attention,
                       overrides: [LinearRole: LinearOverride]) {
        let c = model.config
        let qDim = c.headCount * c.headDimK
        let q = acts.q.pointer, k = acts.k.pointer, v = acts.v.pointer
        projectQKV(layer: w, input: xn, rows: n, overrides: overrides)

        // RoPE and the cache, row by row (each row on its own: spread over the threads).
        do {
            nonisolated(unsafe) let qp = q, kp = k, vp = v
            let rope = self.rope, queryScale = c.queryScale
            let tasks = min(n, threads * 4)
            parallelFor(chunks: tasks, threads: threads) { t in
                for r in (n * t / tasks)..<(n * (t + 1) / tasks) {
                    let s = r / length
                    let pos = start + r % length
                    let qr = qp + r * qDim
                    for h in 0..<c.headCount { rope.apply(qr + h * c.headDimK, position: pos) }
                    for h in 0..<c.headCountKV { rope.apply(kp + r * c.kvDimK + h * c.headDimK, position: pos) }
                    cache.store(layer: cacheLayer, sequence: s, position: pos, key: kp + r * c.kvDimK, value: vp + r * c.kvDimV)
                    if let scale = queryScale {
                        for i in 0..<qDim { qr[i] *= scale }
                    }
                }
            }
        }
        att.run(q: q, out: acts.attention.pointer, cache: cache, layer: cacheLayer, sequences: sequences,
                length: length, start: start, threads: threads, flash: flashAttention)
    }

    /// `x += y` over `count` values, spread over the threads (each value on its own).
    func addRows(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        nonisolated(unsafe) let xp = x, yp = y
        let tasks = min(max(1, count / 4096), threads * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            // Task boundaries on multiples of 16 values.
            let lo = (count * t / tasks) & ~15, hi = t == tasks - 1 ? count : (count * (t + 1) / tasks) & ~15
            RowOps.add(xp + lo, yp + lo, count: hi - lo)
        }
    }

    /// RMS norm of `rows` rows of `width`, times `weight`, spread over the threads.
    func normRows(_ x: UnsafePointer<Float>, _ weight: [Float], _ y: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        let eps = model.config.rmsEpsilon
        weight.withUnsafeBufferPointer { wb in
            nonisolated(unsafe) let xp = x, yp = y, wp = wb.baseAddress!
            let tasks = min(rows, threads * 4)
            parallelFor(chunks: tasks, threads: threads) { t in
                var r = rows * t / tasks
                let end = rows * (t + 1) / tasks
                while r + 8 <= end {
                    RowOps.rmsNorm8(xp + r * width, stride: width, wp, yp + r * width, count: width, eps: eps)
                    r += 8
                }
                while r < end {
                    RowOps.rmsNorm(xp + r * width, wp, yp + r * width, count: width, eps: eps)
                    r += 1
                }
            }
        }
    }

    func addBias(_ y: UnsafeMutablePointer<Float>, _ bias: [Float], rows: Int) {
        bias.withUnsafeBufferPointer { b in
            nonisolated(unsafe) let yp = y, bp = b.baseAddress!
            let width = b.count
            let tasks = min(rows, threads * 4)
            parallelFor(chunks: tasks, threads: threads) { t in
                for r in (rows * t / tasks)..<(rows * (t + 1) / tasks) { RowOps.add(yp + r * width, bp, count: width) }
            }
        }
    }

    /// `y = silu(gate) · up` over `count` values, spread over the threads.
    func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        nonisolated(unsafe) let g = gate, u = up, yp = y
        let f = model.config.feedForwardLength
        let rows = count / f
        let tasks = min(rows, threads * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            // Row by row: ggml's vector groups restart at each row.
            for r in (rows * t / tasks)..<(rows * (t + 1) / tasks) {
                VectorMath.swiglu(gate: g + r * f, up: u + r * f, yp + r * f, count: f)
            }
        }
    }
}
