import GGUF

// Expert products (`ggml_mul_mat_id`) in the order of llama.cpp b10572's CPU backend (x86, AVX2).
//
// b10572 repacks a stacked 3-D expert tensor (`ffn_{gate,up,down}_exps`) exactly as it repacks a
// 2-D weight (same type rules, `ne[1] % 8 == 0`, 8-row blocks that never cross an expert), but its
// `mul_mat_id` of a repacked tensor (repack.cpp `tensor_traits::forward_mul_mat_id`) differs from
// its `mul_mat` in two ways:
//
// - every activation row is quantized alone by the type's `from_float` (`quantize_row_q8_K` /
//   `quantize_row_q8_0`), never by the four-row quantizer;
// - every row routed to an expert goes through the GEMV kernel, one row at a time, whatever the
//   number of rows.
//
// For the one-chain orders (`RepackOrder.blocks32`: IQ4_NL, MXFP4; Q4_0's single chain) the GEMV
// and the GEMM sum alike and the two quantizers give the same Q8_0 values, so the ordinary
// product is already the expert product. Q4_K differs: its GEMV takes one step per super-block
// (`RepackOrder.q4K`) and its Q8_K activations may differ in the scale's sign. Types that are not
// repacked go through ggml-cpu.c's `mul_mat_id`, one `vec_dot` per row, which is the order the
// ordinary product (`LaneGEMM.linear`) already follows for them.

extension LaneGEMM {
    /// Whether ggml multiplies the expert slices of `w` in an order the ordinary product does not
    /// follow (repacked Q4_K: GEMV for every row).
    static func expertNeedsGEMV(_ w: WeightMatrix) -> Bool { repackOrder(w) == .q4K }

    /// One expert's product in the order of b10572's `mul_mat_id` of a repacked Q4_K tensor: the
    /// GEMV order and `quantize_row_q8_K` for every row, on the integer kernels where the CPU has
    /// VNNI (the panel driver is `linearRepacked`'s). Same contract as `linear`;
    /// `expertNeedsGEMV(w)` must hold.
    static func linearExpertGEMV(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                 into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, workspace ws: LaneWorkspace,
                                 reuseActivations: Bool, allowInteger: Bool = true) {
        guard m > 0, w.rows > 0 else { return }
        precondition(expertNeedsGEMV(w), "no expert GEMV order for \(w.type) with \(w.rows) rows")
        linearRepacked(a, lda: lda, rows: m, weights: w, order: .q4K, into: c, ldc: ldc, threads: threads, workspace: ws,
                       reuseActivations: reuseActivations, allowInteger: allowInteger, expertRows: true)
    }

    /// `packRepackedActivations` for Q4_K with every row quantized by `quantize_row_q8_K`
    /// (`ActivationRounding.q8_KQuants`): quants `q[g·12k + kk·12 + i]`, block scales
    /// `d[r·nb + b]` from `rows12·k` on, 32-element quant sums `s[r·(k/32) + sb]` from
    /// `rows12·(k + nb)` on; rows up to the next multiple of 12 are zero.
    static func packExpertActivations(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int,
                                      into buf: UnsafeMutablePointer<Float>, threads: Int) {
        let rows12 = (m + mr - 1) / mr * mr
        let nb = k / 256, ns = k / 32
        let qBase = buf, dBase = buf + rows12 * k, sBase = dBase + rows12 * nb
        nonisolated(unsafe) let src = a
        let tasks = Swift.min(rows12, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            let row = UnsafeMutablePointer<Float>.allocateAligned(capacity: k)
            defer { row.deallocate() }
            for r in (rows12 * t / tasks)..<(rows12 * (t + 1) / tasks) {
                let q = qBase + (r / mr) * mr * k + r % mr, d = dBase + r * nb, s = sBase + r * ns
                if r >= m {
                    for p in 0..<k { q[p * mr] = 0 }
                    d.update(repeating: 0, count: nb)
                    s.update(repeating: 0, count: ns)
                    continue
                }
                let x = src + r * lda
                for b in 0..<nb { d[b] = ActivationRounding.q8_KQuants(x + 256 * b, into: row + 256 * b) }
                for sb in 0..<ns {
                    var sum: Float = 0
                    for j in (32 * sb)..<(32 * sb + 32) { sum += row[j] }
                    s[sb] = sum
                }
                for p in 0..<k { q[p * mr] = row[p] }
            }
        }
    }

    /// The scalar twin of `linearExpertGEMV`: `linearRepackedReference` one row at a time (a single
    /// row is quantized by `quantize_row_q8_K` and summed in the GEMV order).
    static func linearExpertGEMVReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                          into c: UnsafeMutablePointer<Float>, ldc: Int) {
        for r in 0..<m {
            linearRepackedReference(a + r * lda, lda: lda, rows: 1, weights: w, order: .q4K, into: c + r * ldc, ldc: ldc)
        }
    }
}

extension MatMul {
    /// One expert's product, as b10572's `ggml_mul_mat_id` computes the rows routed to that expert
    /// (LaneGEMM+Experts.swift): repacked Q4_K slices in the GEMV order for every row, everything
    /// else as `linear` (whose orders are those of `mul_mat_id` for the other types). Same contract
    /// as `linear`.
    public static func linearExpert(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                    into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int,
                                    workspace ws: MatMulWorkspace, dotType: GGMLType? = nil, reuseActivations: Bool = false) {
        if dotType == nil, LaneGEMM.expertNeedsGEMV(w) {
            LaneGEMM.linearExpertGEMV(a, lda: lda, rows: m, weights: w, into: c, ldc: ldc, threads: threads,
                                      workspace: ws.lanes, reuseActivations: reuseActivations)
            return
        }
        linear(a, lda: lda, rows: m, weights: w, into: c, ldc: ldc, threads: threads, workspace: ws,
               dotType: dotType, reuseActivations: reuseActivations)
    }

    /// The scalar twin of `linearExpert` (for the types `LaneGEMM` handles; others get
    /// `linearReference`'s index-order sum).
    public static func linearExpertReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                             into c: UnsafeMutablePointer<Float>, ldc: Int) {
        if LaneGEMM.expertNeedsGEMV(w) {
            LaneGEMM.linearExpertGEMVReference(a, lda: lda, rows: m, weights: w, into: c, ldc: ldc)
            return
        }
        if LaneGEMM.handles(w) {
            LaneGEMM.linearReference(a, lda: lda, rows: m, weights: w, into: c, ldc: ldc)
            return
        }
        linearReference(a, lda: lda, rows: m, weights: w, into: c, ldc: ldc)
    }
}
