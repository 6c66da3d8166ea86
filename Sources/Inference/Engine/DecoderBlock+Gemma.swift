#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Architectures
import Quants

extension InferenceSession {
    /// One Gemma 2/3 block (llama.cpp `llama_model_gemma2::graph`, `llama_model_gemma3::graph`) on
    /// `acts.residual`, in place: attn_norm → q/k/v (→ gemma3 q/k norms) → RoPE (the sliding
    /// layers' base on sliding layers) → Q · query scale → attention (soft-capped scores, sliding
    /// window on sliding layers) → attn_output → post_attention_norm → + residual → ffn_norm →
    /// GeGLU → ffn_down → post_ffw_norm → + residual. `keepRows` as in `runBlock`.
    func runSandwichBlock(layer w: LayerWeights, index il: Int, rows n: Int, sequences: Int, length: Int, start: Int,
                          cache: KVCache, cacheLayer: Int, attention att: Attention,
                          overrides: [LinearRole: LinearOverride], keepRows: [Int]?) {
        let c = model.config
        let e = c.embeddingLength
        let x = acts.residual.pointer
        let xn = acts.normed.pointer
        let qDim = c.headCount * c.headDimK

        normRows(x, w.attnNorm, xn, rows: n, width: e)
        gemmaAttentionCore(layer: w, index: il, input: xn, rows: n, sequences: sequences, length: length, start: start,
                           cache: cache, cacheLayer: cacheLayer, attention: att, overrides: overrides)

        var n = n
        if let keep = keepRows, keep.count < n {
            for (i, r) in keep.enumerated() where i != r {
                (acts.attention.pointer + i * qDim).update(from: acts.attention.pointer + r * qDim, count: qDim)
                (x + i * e).update(from: x + r * e, count: e)
            }
            n = keep.count
        }
        let proj = acts.projected.pointer
        linear(w.o, acts.attention.pointer, rows: n, into: proj, override: overrides[.attnOutput])
        if let pn = w.postAttentionNorm { normRows(proj, pn, proj, rows: n, width: e) }
        RowOps.add(x, proj, count: n * e)

        normRows(x, w.ffnNorm, xn, rows: n, width: e)
        feedForwardCore(layer: w, input: xn, rows: n, into: proj, overrides: overrides)
        if let pn = w.postFFWNorm { normRows(proj, pn, proj, rows: n, width: e) }
        RowOps.add(x, proj, count: n * e)
    }

    /// q/k/v of the normalised `input`, the q/k norms, RoPE, the cache and attention of a Gemma
    /// block: leaves the attention result (before attn_output) in `acts.attention`.
    func gemmaAttentionCore(layer w: LayerWeights, index il: Int, input xn: UnsafePointer<Float>, rows n: Int,
                            sequences: Int, length: Int, start: Int, cache: KVCache, cacheLayer: Int,
                            attention att: Attention, overrides: [LinearRole: LinearOverride]) {
        let c = model.config
        let qDim = c.headCount * c.headDimK
        let q = acts.q.pointer, k = acts.k.pointer, v = acts.v.pointer
        projectQKV(layer: w, input: xn, rows: n, overrides: overrides)
        let sliding = c.isSlidingWindowLayer(il)
        let table = sliding ? (ropeSWA ?? rope) : rope
        let qs = c.queryScale
        for r in 0..<n {
            let s = r / length
            let pos = start + r % length
            for h in 0..<c.headCount { table.apply(q + r * qDim + h * c.headDimK, position: pos) }
            for h in 0..<c.headCountKV { table.apply(k + r * c.kvDimK + h * c.headDimK, position: pos) }
            if let qs {
                let row = q + r * qDim
                for i in 0..<qDim { row[i] *= qs }
            }
            cache.store(layer: cacheLayer, sequence: s, position: pos, key: k + r * c.kvDimK, value: v + r * c.kvDimV)
        }
        att.run(q: q, out: acts.attention.pointer, cache: cache, layer: cacheLayer, sequences: sequences,
                length: length, start: start, threads: threads, flash: flashAttention, window: sliding ? c.slidingWindow : 0)
    }

    /// `y = gelu(gate) · up` over `count` values, as ggml's `geglu_split` on the CPU: gelu from the
    /// f16 table (`GGML_GELU_FP16`), identity above 10 and 0 below -10.
    func geglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        nonisolated(unsafe) let g = gate, u = up, yp = y
        let tasks = max(1, min(count / 4096, threads * 4))
        let table = GeluTable.values
        parallelFor(chunks: tasks, threads: threads) { t in
            table.withUnsafeBufferPointer { tb in
                for i in (count * t / tasks)..<(count * (t + 1) / tasks) {
                    let x = g[i]
                    if x <= -10 {
                        yp[i] = 0
                    } else if x >= 10 {
                        yp[i] = x * u[i]
                    } else {
                        yp[i] = tb[Int(Float16(x).bitPattern)] * u[i]
                    }
                }
            }
        }
    }

    /// Token embeddings × `embeddingScale` (ggml_scale), when the architecture scales them.
    func scaleEmbeddings(_ x: UnsafeMutablePointer<Float>, rows: Int) {
        let s = model.config.embeddingScale
        guard s != 1 else { return }
        for i in 0..<(rows * model.config.embeddingLength) { x[i] *= s }
    }

    /// Final logit soft-capping: `cap · tanh(x · (1/cap))` (scale, tanh, scale), when set.
    func softCapLogits(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let cap = model.config.finalSoftCap
        guard cap != 0 else { return }
        Attention.softCap(x, count: count, cap: cap)
    }
}

extension Attention {
    /// `x = cap · tanh(x · (1/cap))` over `count` values (ggml_scale, ggml_tanh, ggml_scale).
    static func softCap(_ x: UnsafeMutablePointer<Float>, count: Int, cap: Float) {
        let inv: Float = 1 / cap
        for i in 0..<count { x[i] = tanhf(x[i] * inv) * cap }
    }
}

/// ggml's `ggml_table_gelu_f16`: for every f16 value, gelu_tanh of it computed in f32 and rounded
/// to f16 (here kept as the f32 value of that f16).
enum GeluTable {
    static let values: [Float] = (0..<65536).map { bits in
        let x = Float(Float16(bitPattern: UInt16(bits)))
        let coefA: Float = 0.044715
        let sqrt2OverPi: Float = 0.79788456080286535587989211986876
        let inner = (sqrt2OverPi * x) * (1 + (coefA * x) * x)
        let y = ((0.5 as Float) * x) * (1 + tanhf(inner))
        return Float(Float16(y))
    }
}
