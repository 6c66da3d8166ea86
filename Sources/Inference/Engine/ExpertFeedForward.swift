#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Architectures
import GGUF
import Quants

/// The routed experts of one MoE block: the router (`ffn_gate_inp`, one row per expert) and each
/// expert's gate/up/down matrices, slices of the stacked 3-D `ffn_*_exps` tensors (expert
/// outermost). Every slice keeps the stacked tensor's name, so an activation observer sees
/// `blk.N.ffn_gate_exps.weight` once per expert that received rows.
public struct ExpertWeights {
    public let router: Linear
    public let gate: [Linear], up: [Linear], down: [Linear]
    /// Experts each token is sent to.
    public let used: Int
    /// Hidden width of one expert.
    public let feedForwardLength: Int

    public var count: Int { gate.count }
}

extension WeightLoader {
    /// One expert of a stacked `[columns, rows, experts]` tensor.
    func stacked(_ name: String, columns: Int, rows: Int, experts: Int) throws(InferenceError) -> [Linear] {
        let t = try info(name)
        try checkShape(t, [columns, rows, experts])
        guard Self.isSupported(t.type) else {
            let names = Quantizer.multipliableTypes.map(\.name)
            throw InferenceError(.unsupportedType, file: file.path,
                                 "tensor '\(name)' has type \(t.type.name), expected one of \(names.joined(separator: ", "))")
        }
        guard let base = file.data(t).baseAddress, let rowBytes = t.type.rowSize(columns) else {
            throw InferenceError(.invalid, file: file.path, "tensor '\(name)' has no data")
        }
        return (0..<experts).map { x in
            Linear(name: name, matrix: WeightMatrix(type: t.type, rows: rows, columns: columns, data: base + x * rows * rowBytes,
                                                    productType: file.valueType(t.type)))
        }
    }

    /// The experts of layer `il`, or nil when the layer has no router (a dense block).
    func experts(_ il: Int, _ c: ModelConfig) throws(InferenceError) -> ExpertWeights? {
        let routerName = TensorName.ffnGateInp.weight(il)
        guard file.tensor(named: routerName) != nil else { return nil }
        let n = c.expertCount, e = c.embeddingLength, f = c.expertFeedForwardLength
        guard n > 0, c.expertUsedCount > 0, c.expertUsedCount <= n else {
            throw InferenceError(.invalid, file: file.path, "layer \(il) has '\(routerName)' but the file sets "
                                 + "\(n) experts with \(c.expertUsedCount) used per token")
        }
        return ExpertWeights(
            router: try matrix(routerName, columns: e, rows: n),
            gate: try stacked(TensorName.ffnGateExps.weight(il), columns: e, rows: f, experts: n),
            up: try stacked(TensorName.ffnUpExps.weight(il), columns: e, rows: f, experts: n),
            down: try stacked(TensorName.ffnDownExps.weight(il), columns: f, rows: e, experts: n),
            used: c.expertUsedCount, feedForwardLength: f)
    }
}

/// Scratch of the expert pass, kept by the session between passes.
final class ExpertBuffers {
    let logits = FloatBuffer()
    let gathered = FloatBuffer()
    let gate = FloatBuffer()
    let up = FloatBuffer()
    let hidden = FloatBuffer()
    let outputs = FloatBuffer()
    var selected: [Int32] = []
    var weights: [Float] = []
    var rowsOf: [[Int32]] = []
}

extension InferenceSession {
    /// llama.cpp's `build_moe_ffn` with softmax gating and normalised weights (as `build_llama`
    /// and `build_qwen3moe` call it) on `n` rows of `x` (the ffn_norm output, `n × embedding`),
    /// writing `n × embedding` to `y`:
    /// router logits → softmax over all experts → the `used` most probable → their probabilities
    /// divided by their sum (clamped below at 2⁻¹⁴) → each chosen expert's SwiGLU FFN on the rows
    /// routed to it (`mul_mat_id`) → outputs times weights, added in slot order.
    /// `overrides` replace the router or some experts' matrices (calibration).
    func runExperts(_ m: ExpertWeights, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>,
                    overrides: ExpertOverrides? = nil) {
        let e = model.config.embeddingLength
        let nx = m.count, k = m.used, f = m.feedForwardLength
        let b = expertBuffers
        let logits = b.logits.reserve(n * max(nx, 16) + 16)
        linear(m.router, x, rows: n, into: logits, override: overrides?.router)

        // Gating, token by token.
        if b.selected.count < n * k { b.selected = [Int32](repeating: 0, count: n * k); b.weights = [Float](repeating: 0, count: n * k) }
        if b.rowsOf.count < nx { b.rowsOf = [[Int32]](repeating: [], count: nx) }
        for x in 0..<nx { b.rowsOf[x].removeAll(keepingCapacity: true) }
        for r in 0..<n {
            let p = logits + r * nx
            Self.softmax(p, count: nx)
            // top-k, descending (argsort); the lower index first among equal probabilities.
            var sum: Double = 0
            for j in 0..<k {
                var best = -1
                for x in 0..<nx {
                    var taken = false
                    for i in 0..<j where b.selected[r * k + i] == Int32(x) { taken = true; break }
                    if taken { continue }
                    if best < 0 || p[x] > p[best] { best = x }
                }
                b.selected[r * k + j] = Int32(best)
                b.weights[r * k + j] = p[best]
                sum += Double(p[best])
                b.rowsOf[best].append(Int32(r * k + j))
            }
            let s = max(Float(sum), 6.103515625e-5)
            for j in 0..<k { b.weights[r * k + j] = b.weights[r * k + j] / s }
        }

        // Each expert on the rows routed to it; results land in slot order (`n × k × e`).
        let out = b.outputs.reserve(n * k * e)
        for xid in 0..<nx {
            let slots = b.rowsOf[xid]
            let mr = slots.count
            guard mr > 0 else { continue }
            let g = b.gathered.reserve(mr * max(e, f))
            for (i, s) in slots.enumerated() {
                (g + i * e).update(from: x + Int(s) / k * e, count: e)
            }
            let gt = b.gate.reserve(mr * f), up = b.up.reserve(mr * f), h = b.hidden.reserve(mr * f)
            expertLinear(m.gate[xid], g, rows: mr, into: gt, expert: xid, experts: nx, slots: slots, used: k,
                         override: overrides?.gate[xid])
            expertLinear(m.up[xid], g, rows: mr, into: up, sameInput: true, expert: xid, experts: nx, slots: slots, used: k,
                         override: overrides?.up[xid])
            for i in 0..<mr { VectorMath.swiglu(gate: gt + i * f, up: up + i * f, h + i * f, count: f) }
            let d = b.gathered.reserve(mr * max(e, f))
            expertLinear(m.down[xid], h, rows: mr, into: d, expert: xid, experts: nx, slots: slots, used: k,
                         override: overrides?.down[xid])
            for (i, s) in slots.enumerated() {
                (out + Int(s) * e).update(from: d + i * e, count: e)
            }
        }
        // experts · weights, then slot 0 + slot 1 + ...
        for r in 0..<n {
            let yr = y + r * e
            for j in 0..<k {
                let w = b.weights[r * k + j]
                let src = out + (r * k + j) * e
                if j == 0 {
                    for i in 0..<e { yr[i] = src[i] * w }
                } else {
                    for i in 0..<e { yr[i] = yr[i] + src[i] * w }
                }
            }
        }
    }

    /// ggml's softmax of one row in place (`ggml_vec_soft_max_f32` on AVX2): groups of 8 through
    /// the vector exp with the lane-tree sum, the rest through `expf`, sums in double, then times
    /// `Float(1 / sum)`.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var maxv = -Float.infinity
        for i in 0..<n { maxv = max(maxv, x[i]) }
        var sum: Double = 0
        var i = 0
        while i + 8 <= n {
            var v = SIMD16<Float>(repeating: -.infinity)
            for l in 0..<8 { v[l] = x[i + l] - maxv }
            let ev = VectorMath.exp(v)
            for l in 0..<8 { x[i + l] = ev[l] }
            sum += Double(VectorMath.reduceAdd8(ev.lowHalf))
            i += 8
        }
        while i < n {
            let v = expf(x[i] - maxv)
            sum += Double(v)
            x[i] = v
            i += 1
        }
        let inv = Float(1.0 / sum)
        for j in 0..<n { x[j] = x[j] * inv }
    }
}

extension WeightLoader {
    /// An MoE block: attention as in a dense block, the experts instead of the MLP.
    func layer(_ il: Int, _ c: ModelConfig, experts moe: ExpertWeights) throws(InferenceError) -> LayerWeights {
        let e = c.embeddingLength
        let qDim = c.headCount * c.headDimK
        let biasOptional = c.wiring.qkvBias == .optional
        let normOptional = c.wiring.qkNorm == .optional
        var w = LayerWeights(
            attnNorm: try required(TensorName.attnNorm.weight(il), count: e),
            q: try matrix(TensorName.attnQ.weight(il), columns: e, rows: qDim),
            k: try matrix(TensorName.attnK.weight(il), columns: e, rows: c.kvDimK),
            v: try matrix(TensorName.attnV.weight(il), columns: e, rows: c.kvDimV),
            o: try matrix(TensorName.attnOutput.weight(il), columns: c.headCount * c.headDimV, rows: e),
            qBias: try vector(TensorName.attnQ.bias(il), count: qDim, optional: biasOptional),
            kBias: try vector(TensorName.attnK.bias(il), count: c.kvDimK, optional: biasOptional),
            vBias: try vector(TensorName.attnV.bias(il), count: c.kvDimV, optional: biasOptional),
            qNorm: try vector(TensorName.attnQNorm.weight(il), count: c.headDimK, optional: normOptional),
            kNorm: try vector(TensorName.attnKNorm.weight(il), count: c.headDimK, optional: normOptional),
            ffnNorm: try required(TensorName.ffnNorm.weight(il), count: e),
            gate: moe.gate[0], up: moe.up[0], down: moe.down[0])
        w.experts = moe
        return w
    }
}

/// Called before each expert's product in an MoE block (one `mul_mat_id` split by expert) with
/// the stacked tensor's name, the expert, the number of experts, the rows routed to it (`rows ×
/// columns`, f32) and, for each row, its routing slot `token · used + k` (the k-th choice of that
/// token in the pass). The buffers are valid only during the call.
public typealias ExpertActivationObserver = (_ tensor: String, _ expert: Int, _ experts: Int,
                                             _ activations: UnsafeBufferPointer<Float>, _ rows: Int, _ columns: Int,
                                             _ slots: UnsafeBufferPointer<Int32>, _ used: Int) -> Void

extension InferenceSession {
    /// One expert's product (ggml `mul_mat_id`): the observer sees the gathered rows, then F32
    /// weights are multiplied in `ggml_vec_dot_f32`'s order (as `mul_mat_id` calls it, one row at a
    /// time: four 8-lane accumulators over steps of 32 columns with fused multiply-adds, then
    /// `a0+a2, a1+a3`, `(a0+a1)`, halves added and two horizontal adds); other types take
    /// `MatMul.linearExpert` (repacked Q4_K: the GEMV order for every row); replacement weights
    /// (`override`, calibration) take the ordinary product.
    func expertLinear(_ l: Linear, _ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>,
                      sameInput: Bool = false, expert: Int, experts: Int, slots: [Int32], used: Int,
                      override: LinearOverride? = nil) {
        let w = l.matrix
        if let expertObserver {
            slots.withUnsafeBufferPointer { s in
                expertObserver(l.name, expert, experts, UnsafeBufferPointer(start: x, count: n * w.columns), n, w.columns, s, used)
            }
        }
        if let override {
            let saved = observer
            if expertObserver != nil { observer = nil }
            linear(l, x, rows: n, into: y, override: override, sameInput: sameInput)
            observer = saved
            return
        }
        guard w.productType == .f32, w.columns % 32 == 0 else {
            if expertObserver == nil, let observer, l.reportsInput {
                observer(l.name, UnsafeBufferPointer(start: x, count: n * w.columns), n, w.columns)
            }
            // b10572's mul_mat_id: repacked Q4_K in the GEMV order for every row (LaneGEMM+Experts.swift).
            MatMul.linearExpert(x, lda: w.columns, rows: n, weights: w, into: y, ldc: w.rows, threads: threads,
                                workspace: workspace, reuseActivations: sameInput)
            return
        }
        if expertObserver == nil, let observer {
            observer(l.name, UnsafeBufferPointer(start: x, count: n * w.columns), n, w.columns)
        }
        let k = w.columns, outs = w.rows
        nonisolated(unsafe) let xp = x, yp = y
        let weights = w
        let tasks = max(1, min(outs, threads * 4))
        parallelFor(chunks: tasks, threads: threads) { t in
            // f16/bf16 storage of f32 values (an in-memory checkpoint): each row widened once.
            let widened = weights.type == .f32 ? nil : UnsafeMutablePointer<Float>.allocateAligned(capacity: k)
            defer { widened?.deallocate() }
            for o in (outs * t / tasks)..<(outs * (t + 1) / tasks) {
                let wr: UnsafePointer<Float>
                if let widened {
                    weights.dequantize(row: o, k0: 0, count: k, into: widened)
                    wr = UnsafePointer(widened)
                } else {
                    wr = (weights.data + o * weights.rowBytes).assumingMemoryBound(to: Float.self)
                }
                for r in 0..<n {
                    yp[r * outs + o] = Self.vecDotF32(wr, xp + r * k, count: k)
                }
            }
        }
    }

    /// `ggml_vec_dot_f32` (AVX2 + FMA build) of `n` values, `n` a multiple of 32.
    @inline(__always)
    static func vecDotF32(_ w: UnsafePointer<Float>, _ a: UnsafePointer<Float>, count n: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var i = 0
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }
        while i < n {
            s0 = s0.addingProduct(load(w + i), load(a + i))
            s1 = s1.addingProduct(load(w + i + 8), load(a + i + 8))
            s2 = s2.addingProduct(load(w + i + 16), load(a + i + 16))
            s3 = s3.addingProduct(load(w + i + 24), load(a + i + 24))
            i += 32
        }
        s0 = s0 + s2
        s1 = s1 + s3
        s0 = s0 + s1
        let t = s0.lowHalf + s0.highHalf
        // _mm_hadd_ps(t, t) = (t0+t1, t2+t3, ...), then again: (t0+t1) + (t2+t3).
        return (t[0] + t[1]) + (t[2] + t[3])
    }
}
