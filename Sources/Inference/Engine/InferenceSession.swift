import GGUF
import Quants

/// Called before every matrix product with the tensor name of the weights (`blk.3.ffn_down.weight`,
/// `output.weight`...) and the f32 input activations (`rows × columns`, row-major), before they
/// are rounded to the weights' dot type. The buffer is valid only during the call.
public typealias ActivationObserver = (_ tensor: String, _ activations: UnsafeBufferPointer<Float>,
                                       _ rows: Int, _ columns: Int) -> Void

/// Replacement weights for one linear layer of a block, for calibration: `rows × columns` f32
/// values in ggml order (one output feature per row). With `emulating`, the activations are
/// rounded as they would be for weights of that type (for example `.q4_K` → Q8_K); by default
/// they stay f32 as for f32 weights.
public final class LinearOverride {
    public let matrix: WeightMatrix
    public let dotType: GGMLType
    private let storage: UnsafeMutablePointer<Float>

    public init(values: [Float], rows: Int, columns: Int, emulating: GGMLType = .f32) {
        precondition(values.count == rows * columns, "override holds \(values.count) values, expected \(rows)×\(columns)")
        guard let dt = ActivationRounding.dotType(for: emulating) else {
            preconditionFailure("\(emulating) has no CPU dot type to emulate")
        }
        let st = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { st.initialize(from: $0.baseAddress!, count: values.count) }
        storage = st
        matrix = WeightMatrix(type: .f32, rows: rows, columns: columns, data: st)
        dotType = dt
    }

    deinit { storage.deallocate() }
}

/// Logits of the rows a pass was asked for: `rows × vocabulary` f32, row-major. The memory
/// belongs to the session and is overwritten by its next pass; the value keeps that memory alive
/// (a `Logits` may outlive its session).
public struct Logits {
    public let rows: Int
    public let vocabulary: Int
    public let base: UnsafePointer<Float>
    /// The buffer `base` points into, retained so the pointer stays valid.
    let owner: FloatBuffer

    init(rows: Int, vocabulary: Int, base: UnsafePointer<Float>, owner: FloatBuffer) {
        self.rows = rows
        self.vocabulary = vocabulary
        self.base = base
        self.owner = owner
    }

    public func row(_ i: Int) -> UnsafeBufferPointer<Float> {
        precondition(i >= 0 && i < rows, "logits row \(i) out of 0..<\(rows)")
        return withExtendedLifetime(owner) { UnsafeBufferPointer(start: base + i * vocabulary, count: vocabulary) }
    }

    /// A copy of every row.
    public var array: [Float] {
        withExtendedLifetime(owner) { Array(UnsafeBufferPointer(start: base, count: rows * vocabulary)) }
    }
}

/// The state of running a `LanguageModel`: the KV cache of up to `maxSequences` independent
/// sequences of `contextLength` positions, the activation buffers, the thread count, and an
/// optional activation observer. Not thread-safe; use one session per caller.
public final class InferenceSession {
    public let model: LanguageModel
    public let threads: Int
    public let contextLength: Int
    public let maxSequences: Int
    /// Sees the input of every matrix product (see `ActivationObserver`).
    public var observer: ActivationObserver?
    /// Sees the input of every expert product of an MoE block instead of `observer` (see
    /// `ExpertActivationObserver`).
    public var expertObserver: ExpertActivationObserver?

    /// Whether `evaluate` keeps every layer's keys and values for the next batch (see `init`).
    public let keepsCache: Bool
    /// The cache and attention scratch of `evaluate`, made on its first call (sessions that only
    /// run `block`/`head` never touch that memory).
    private var passCache: (cache: KVCache, attention: Attention)?
    /// Filled positions per sequence.
    private var lengths: [Int]
    let rope: RopeTable
    /// The RoPE table of the sliding-window layers when their base differs (Gemma 3).
    var ropeSWA: RopeTable?
    let acts = Activations()
    let expertBuffers = ExpertBuffers()
    let logits = FloatBuffer()
    let workspace = MatMulWorkspace()
    private var scratchCache: KVCache?
    private var scratchAttention: Attention?
    /// Attention as llama.cpp's flash attention (`-fa on`, b10572's CPU numerics) instead of the
    /// separate KQ / softmax / KQV products (`-fa off`, identical to b4748).
    public var flashAttention = false

    /// - Parameters:
    ///   - contextLength: positions per sequence (llama-perplexity's `-c`).
    ///   - sequences: sequences evaluated side by side (llama-perplexity uses n_batch / n_ctx = 4).
    ///   - threads: threads for the matrix products and attention.
    ///   - keepsCache: true (llama.cpp's behaviour): a batch continues the sequences at their cached
    ///     positions, so the cache holds every layer. False: every batch starts at position 0 and
    ///     nothing carries over to the next (perplexity, KL divergence and importance passes clear
    ///     the cache before each batch anyway), so the cache holds one layer, reused layer after
    ///     layer: for SmolLM2 with 4 × 512 positions, 3 MB instead of 94 MB of fresh memory, which
    ///     on a virtual machine costs up to 2 ms per MB to touch. The figures are the same.
    public init(model: LanguageModel, contextLength: Int, sequences: Int = 1, threads: Int = 1, keepsCache: Bool = true) {
        precondition(contextLength > 0 && sequences > 0, "a session needs a positive context and sequence count")
        self.model = model
        self.threads = max(1, threads)
        self.contextLength = contextLength
        maxSequences = sequences
        self.keepsCache = keepsCache
        lengths = [Int](repeating: 0, count: sequences)
        let c = model.config
        let factors = model.ropeFactors
            ?? (contextLength > c.yarnOrigContext ? model.ropeFactorsLong : model.ropeFactorsShort)
        rope = RopeTable(config: c, factors: factors, positions: contextLength)
        if c.slidingWindow > 0 && c.ropeFreqBaseSWA != c.ropeFreqBase {
            ropeSWA = RopeTable(config: c, factors: factors, positions: contextLength, base: c.ropeFreqBaseSWA)
        }
    }

    /// Empties the KV cache of every sequence (llama_kv_cache_clear).
    public func clear() {
        for s in 0..<maxSequences { lengths[s] = 0 }
    }

    /// Positions already evaluated in sequence `s` (always 0 without `keepsCache`).
    public func length(ofSequence s: Int) -> Int { lengths[s] }

    /// `evaluate`'s cache (every layer, or one without `keepsCache`) and attention scratch.
    private func evaluationCache() -> (cache: KVCache, attention: Attention) {
        if let passCache { return passCache }
        let c = model.config
        let kv = KVCache(layers: keepsCache ? c.blockCount : 1, sequences: maxSequences, positions: contextLength,
                         kvHeads: c.headCountKV, headDim: c.headDimK)
        let made = (cache: kv, attention: Attention(config: c, capacity: kv.capacity, maxTasks: 64))
        passCache = made
        return made
    }

    /// Evaluates `tokens` as `sequences` sequences of equal length (sequence s is
    /// `tokens[s·L ..< (s+1)·L]`), each continuing at its cached position, and returns the
    /// logits of `outputRows` (indices into `tokens`; nil = every row), in that order.
    /// Corresponds to `llama_decode` on a batch whose sequences are disjoint.
    /// - Throws: `InferenceError(.usage)` for bad token ids, unequal sequence positions, or a
    ///   context overflow.
    public func evaluate(_ tokens: [Int32], sequences: Int = 1, outputRows: [Int]? = nil) throws(InferenceError) -> Logits {
        // forward first: it may reallocate the activation buffers that `head` reads.
        let rows = try forward(tokens, sequences: sequences, outputRows: outputRows)
        return head(acts.residual.pointer, rows: rows)
    }

    /// `evaluate` with the logits handed to `body` a block of at most `blockRows` output rows at a
    /// time (with the index of the block's first row among `outputRows`), so that the logits
    /// memory is `blockRows × vocabulary` floats whatever the batch. Every block but the last has a
    /// multiple of four rows, where the output matrix's four-row groups start as in one pass over
    /// all rows, so each row's logits are the ones `evaluate` returns. `body` returns false to stop.
    public func evaluate(_ tokens: [Int32], sequences: Int = 1, outputRows: [Int]? = nil, blockRows: Int,
                         _ body: (Logits, Int) -> Bool) throws(InferenceError) {
        let rows = try forward(tokens, sequences: sequences, outputRows: outputRows)
        let step = max(4, blockRows / 4 * 4)
        var b = 0
        while b < rows.count {
            let e = min(rows.count, b + step)
            guard body(head(acts.residual.pointer, rows: Array(rows[b..<e])), b) else { return }
            b = e
        }
    }

    /// The decoder layers of `evaluate`: returns the rows of `acts.residual` that hold the output
    /// rows' final hidden states, in `outputRows`' order.
    private func forward(_ tokens: [Int32], sequences: Int, outputRows: [Int]?) throws(InferenceError) -> [Int] {
        let n = tokens.count
        guard sequences >= 1, sequences <= maxSequences, n > 0, n % sequences == 0 else {
            throw InferenceError(.usage, file: model.file.path,
                                 "\(n) tokens cannot form \(sequences) sequences (session holds \(maxSequences))")
        }
        let length = n / sequences
        let start = lengths[0]
        for s in 0..<sequences where lengths[s] != start {
            throw InferenceError(.usage, file: model.file.path, "sequence \(s) is at position \(lengths[s]), "
                                 + "sequence 0 at \(start); a batch needs equal positions")
        }
        guard start + length <= contextLength else {
            throw InferenceError(.usage, file: model.file.path,
                                 "\(start + length) positions exceed the context of \(contextLength)")
        }
        let rows = outputRows ?? Array(0..<n)
        for r in rows where r < 0 || r >= n {
            throw InferenceError(.usage, file: model.file.path, "output row \(r) is outside 0..<\(n)")
        }
        acts.reserve(rows: n, config: model.config)
        try embed(tokens, into: acts.residual.pointer)
        // The last layer carries on past attention with the output rows only (ascending lists), as
        // llama.cpp does; not with an observer, which wants every row's activations (llama-imatrix
        // asks for every row's logits, so llama.cpp keeps them all there too).
        let trimLast = observer == nil && zip(rows, rows.dropFirst()).allSatisfy { $0 < $1 }
        let last = model.config.blockCount - 1
        let (cache, attention) = evaluationCache()
        for il in 0...last {
            runBlock(layer: model.layers[il], index: il, rows: n, sequences: sequences, length: length, start: start,
                     cache: cache, cacheLayer: keepsCache ? il : 0, attention: attention, overrides: [:],
                     keepRows: il == last && trimLast ? rows : nil)
        }
        if keepsCache {
            for s in 0..<sequences { lengths[s] = start + length }
        }
        return trimLast ? Array(0..<rows.count) : rows
    }

    /// Embedding rows of `tokens` (`token_embd` dequantized, ggml_get_rows): `tokens.count × embeddingLength`.
    public func embed(_ tokens: [Int32]) throws(InferenceError) -> [Float] {
        let e = model.config.embeddingLength
        var out = [Float](repeating: 0, count: tokens.count * e)
        var failure: InferenceError?
        out.withUnsafeMutableBufferPointer { b in
            do throws(InferenceError) { try embed(tokens, into: b.baseAddress!) } catch { failure = error }
        }
        if let failure { throw failure }
        return out
    }

    func embed(_ tokens: [Int32], into dst: UnsafeMutablePointer<Float>) throws(InferenceError) {
        let e = model.config.embeddingLength
        let table = model.tokenEmbedding.matrix
        for (i, t) in tokens.enumerated() {
            guard t >= 0, Int(t) < table.rows else {
                throw InferenceError(.usage, file: model.file.path, "token id \(t) at index \(i) is outside 0..<\(table.rows)")
            }
            table.dequantize(row: Int(t), k0: 0, count: e, into: dst + i * e)
        }
        scaleEmbeddings(dst, rows: tokens.count)
    }

    /// Runs decoder block `layer` on `hidden` (`sequences` sequences of equal length, each starting
    /// at position 0, `rows × embeddingLength`), in place, without touching the session's cache.
    /// `overrides` replace some of the block's linear layers (AWQ scale search).
    public func block(_ layer: Int, hidden: inout [Float], sequences: Int = 1,
                      overrides: [LinearRole: LinearOverride] = [:]) throws(InferenceError) {
        let c = model.config
        guard layer >= 0, layer < c.blockCount, sequences >= 1, !hidden.isEmpty,
              hidden.count % (c.embeddingLength * sequences) == 0 else {
            throw InferenceError(.usage, file: model.file.path, "block \(layer) cannot take \(hidden.count) values "
                                 + "as \(sequences) sequences of width \(c.embeddingLength)")
        }
        let n = hidden.count / c.embeddingLength
        let length = n / sequences
        guard length <= contextLength else {
            throw InferenceError(.usage, file: model.file.path,
                                 "block input of \(length) positions exceeds the context of \(contextLength)")
        }
        let (kv, att) = scratch(sequences: sequences, length: length)
        acts.reserve(rows: n, config: c)
        hidden.withUnsafeBufferPointer { acts.residual.pointer.update(from: $0.baseAddress!, count: hidden.count) }
        runBlock(layer: model.layers[layer], index: layer, rows: n, sequences: sequences, length: length, start: 0,
                 cache: kv, cacheLayer: 0, attention: att, overrides: overrides)
        let total = hidden.count
        hidden.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: acts.residual.pointer, count: total) }
    }

    /// Final norm and output matrix on the `rows` of `hidden` (nil = all): `rows × vocabularySize` logits.
    public func head(_ hidden: [Float], rows: [Int]? = nil) throws(InferenceError) -> [Float] {
        let e = model.config.embeddingLength
        guard !hidden.isEmpty, hidden.count % e == 0 else {
            throw InferenceError(.usage, file: model.file.path, "hidden states of \(hidden.count) values are not rows of \(e)")
        }
        let n = hidden.count / e
        let sel = rows ?? Array(0..<n)
        for r in sel where r < 0 || r >= n {
            throw InferenceError(.usage, file: model.file.path, "output row \(r) is outside 0..<\(n)")
        }
        acts.reserve(rows: n, config: model.config)
        hidden.withUnsafeBufferPointer { acts.residual.pointer.update(from: $0.baseAddress!, count: hidden.count) }
        return head(acts.residual.pointer, rows: sel).array
    }

    func head(_ x: UnsafePointer<Float>, rows: [Int]) -> Logits {
        let c = model.config
        let e = c.embeddingLength
        let nv = model.vocabularySize
        let out = logits.reserve(max(1, rows.count) * nv)
        let normed = acts.normed.reserve(max(1, rows.count) * e)
        for (i, r) in rows.enumerated() {
            RowOps.rmsNorm(x + r * e, model.outputNorm, normed + i * e, count: e, eps: c.rmsEpsilon)
        }
        if !rows.isEmpty {
            linear(model.output, normed, rows: rows.count, into: out, override: nil)
            softCapLogits(out, count: rows.count * nv)
        }
        return Logits(rows: rows.count, vocabulary: nv, base: out, owner: logits)
    }

    /// A one-layer cache and attention scratch for stateless block runs.
    private func scratch(sequences: Int, length: Int) -> (KVCache, Attention) {
        if let kv = scratchCache, let att = scratchAttention, kv.sequences >= sequences, kv.capacity >= length {
            return (kv, att)
        }
        let c = model.config
        let kv = KVCache(layers: 1, sequences: sequences, positions: length, kvHeads: c.headCountKV, headDim: c.headDimK)
        let att = Attention(config: c, capacity: kv.capacity, maxTasks: 64)
        scratchCache = kv
        scratchAttention = att
        return (kv, att)
    }

    /// One matrix product: observe, round the activations to the dot type, multiply.
    /// `sameInput`: `x` is unchanged since the previous product (its quantized form may be reused).
    func linear(_ l: Linear, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>,
                override: LinearOverride?, sameInput: Bool = false) {
        let w = override?.matrix ?? l.matrix
        precondition(w.columns == l.matrix.columns && w.rows == l.matrix.rows,
                     "override for \(l.name) is \(w.rows)×\(w.columns), expected \(l.matrix.rows)×\(l.matrix.columns)")
        if let observer, l.reportsInput {
            observer(l.name, UnsafeBufferPointer(start: x, count: n * w.columns), n, w.columns)
        }
        MatMul.linear(x, lda: w.columns, rows: n, weights: w, into: y, ldc: w.rows, threads: threads,
                      workspace: workspace, dotType: override?.dotType, reuseActivations: sameInput && override == nil)
    }
}
