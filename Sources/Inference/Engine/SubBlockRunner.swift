import Architectures
import GGUF
import Quants

/// Runs the parts of a decoder block that AWQ inspects, statelessly, on a session's buffers:
/// the attention sub-module (q/k/v from already normalised input, biases, qwen3 q/k norms,
/// RoPE, causal attention, attn_output; no residual), the feed-forward sub-module (gate/up from
/// already normalised input, SwiGLU, ffn_down; no residual) and a single projection. These are
/// the `self_attn`, `mlp` and `*_proj` modules of AutoAWQ's `get_layers_for_scaling`.
///
/// The arithmetic is the one of `InferenceSession.block` (same kernels, same roundings); only
/// the entry and exit points differ. Not thread-safe; one runner per session.
public final class SubBlockRunner {
    public let session: InferenceSession
    private var cache: KVCache?
    private var attention: Attention?

    public init(session: InferenceSession) {
        self.session = session
    }

    private func check(_ layer: Int, _ count: Int, width: Int, sequences: Int) throws(InferenceError) -> (rows: Int, length: Int) {
        let c = session.model.config
        guard layer >= 0, layer < c.blockCount, sequences >= 1, count > 0, width > 0,
              count % (width * sequences) == 0 else {
            throw InferenceError(.usage, file: session.model.file.path, "block \(layer) cannot take \(count) values "
                                 + "as \(sequences) sequences of width \(width)")
        }
        let rows = count / width
        return (rows, rows / sequences)
    }

    private func scratch(sequences: Int, length: Int) -> (KVCache, Attention) {
        if let kv = cache, let att = attention, kv.sequences >= sequences, kv.capacity >= length {
            return (kv, att)
        }
        let c = session.model.config
        let kv = KVCache(layers: 1, sequences: sequences, positions: length, kvHeads: c.headCountKV, headDim: c.headDimK)
        let att = Attention(config: c, capacity: kv.capacity, maxTasks: 64)
        cache = kv
        attention = att
        return (kv, att)
    }

    /// The attention sub-module of block `layer` on `input` (the output of attn_norm,
    /// `sequences` sequences of equal length starting at position 0, `rows × embeddingLength`):
    /// returns attn_output's result, `rows × embeddingLength`. `overrides` may replace
    /// q, k, v and attn_output.
    /// - Throws: `InferenceError(.usage)` when the input does not form whole rows and sequences
    ///   or a sequence is longer than the session's context.
    public func attention(_ layer: Int, input: [Float], sequences: Int = 1,
                          overrides: [LinearRole: LinearOverride] = [:]) throws(InferenceError) -> [Float] {
        let s = session
        let c = s.model.config
        let e = c.embeddingLength
        let (n, length) = try check(layer, input.count, width: e, sequences: sequences)
        guard length <= s.contextLength else {
            throw InferenceError(.usage, file: s.model.file.path,
                                 "attention input of \(length) positions exceeds the context of \(s.contextLength)")
        }
        let w = s.model.layers[layer]
        let (kv, att) = scratch(sequences: sequences, length: length)
        s.acts.reserve(rows: n, config: c)
        let xn = s.acts.normed.pointer
        input.withUnsafeBufferPointer { xn.update(from: $0.baseAddress!, count: input.count) }
        // The block's own attention (Gemma's: per-layer RoPE base, soft-capping and sliding window).
        switch c.wiring.layout {
        case .preNorm:
            s.attentionCore(layer: w, input: xn, rows: n, sequences: sequences, length: length, start: 0, cache: kv,
                            cacheLayer: 0, attention: att, overrides: overrides)
        case .sandwichNorm:
            s.gemmaAttentionCore(layer: w, index: layer, input: xn, rows: n, sequences: sequences, length: length, start: 0,
                                 cache: kv, cacheLayer: 0, attention: att, overrides: overrides)
        }
        var out = [Float](repeating: 0, count: n * e)
        out.withUnsafeMutableBufferPointer { o in
            s.linear(w.o, s.acts.attention.pointer, rows: n, into: o.baseAddress!, override: overrides[.attnOutput])
        }
        return out
    }

    /// The feed-forward sub-module of block `layer` on `input` (the output of ffn_norm,
    /// `rows × embeddingLength`): returns ffn_down's result, `rows × embeddingLength`.
    /// `overrides` may replace gate, up and down; in an MoE block (the routed experts' output),
    /// `experts` may replace the router and experts' matrices.
    /// - Throws: `InferenceError(.usage)` when the input does not form whole rows.
    public func feedForward(_ layer: Int, input: [Float], overrides: [LinearRole: LinearOverride] = [:],
                            experts expertOverrides: ExpertOverrides? = nil) throws(InferenceError) -> [Float] {
        let s = session
        let c = s.model.config
        let e = c.embeddingLength
        let (n, _) = try check(layer, input.count, width: e, sequences: 1)
        let w = s.model.layers[layer]
        s.acts.reserve(rows: n, config: c)
        let xn = s.acts.normed.pointer
        input.withUnsafeBufferPointer { xn.update(from: $0.baseAddress!, count: input.count) }
        if let moe = w.experts {
            var out = [Float](repeating: 0, count: n * e)
            out.withUnsafeMutableBufferPointer { s.runExperts(moe, xn, rows: n, into: $0.baseAddress!, overrides: expertOverrides) }
            return out
        }
        var out = [Float](repeating: 0, count: n * e)
        out.withUnsafeMutableBufferPointer { s.feedForwardCore(layer: w, input: xn, rows: n, into: $0.baseAddress!, overrides: overrides) }
        return out
    }

    /// One linear layer of block `layer` on `input` (`rows × columns` of that layer): returns
    /// `rows × outputs`, with `override` replacing the weights when given.
    /// - Throws: `InferenceError(.usage)` when the input does not form whole rows.
    public func projection(_ layer: Int, _ role: LinearRole, input: [Float], override: LinearOverride? = nil) throws(InferenceError) -> [Float] {
        let s = session
        guard layer >= 0, layer < s.model.config.blockCount else {
            throw InferenceError(.usage, file: s.model.file.path, "block \(layer) is outside 0..<\(s.model.config.blockCount)")
        }
        let l = s.model.layers[layer].linear(role)
        let (n, _) = try check(layer, input.count, width: l.matrix.columns, sequences: 1)
        var out = [Float](repeating: 0, count: n * l.matrix.rows)
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                s.linear(l, x.baseAddress!, rows: n, into: o.baseAddress!, override: override)
            }
        }
        return out
    }

    /// Expert `expert`'s down projection in the MoE block `layer` on `input` (rows × the
    /// expert's hidden width): returns `rows × embeddingLength`; `override` may replace its
    /// weights (calibration).
    /// - Throws: `InferenceError(.usage)` when the block has no such expert or the input does
    ///   not form whole rows.
    public func expertDown(_ layer: Int, expert: Int, input: [Float], override: LinearOverride? = nil) throws(InferenceError) -> [Float] {
        let s = session
        guard layer >= 0, layer < s.model.config.blockCount, let moe = s.model.layers[layer].experts,
              expert >= 0, expert < moe.count else {
            throw InferenceError(.usage, file: s.model.file.path, "block \(layer) has no routed expert \(expert)")
        }
        let l = moe.down[expert]
        let (n, _) = try check(layer, input.count, width: l.matrix.columns, sequences: 1)
        var out = [Float](repeating: 0, count: n * l.matrix.rows)
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                s.linear(l, x.baseAddress!, rows: n, into: o.baseAddress!, override: override)
            }
        }
        return out
    }
}
