import GGUF

// Quantized matrix products in the exact summation order of llama.cpp b4748 on x86 with AVX2 + FMA
// (the build behind the reference perplexity logs):
//
// - Q8_0 / Q5_0 / Q4_0 weights with Q8_0 activations go through llamafile's `tinyBLAS_Q0_AVX`
//   (sgemm.cpp). For one output, lane L (0..<8) of a 256-bit accumulator takes, block after block,
//   `fma(f32(d_w)·f32(d_a), Σ_{t<4} q_w[32b+4L+t]·q_a[32b+4L+t], acc_L)`; the output is the
//   `hsum` of the eight lanes: `(l4+l0, l5+l1, l6+l2, l7+l3)` → `(s0+s2) + (s1+s3)`. Q4_0 weights
//   with a multiple of 8 rows are repacked by ggml and summed in one chain per output instead
//   (`singleChain`).
// - Q4_1 / Q5_1 weights with Q8_1 activations (`ggml_vec_dot_q4_1_q8_1`, `_q5_1_q8_1`): the eight
//   lanes as above over the unsigned quants, plus one scalar chain `fma(f32(m_w), f32(s_a), summs)`
//   added after the tree.
// - Q4_K / Q5_K / Q6_K weights with Q8_K activations go through `ggml_vec_dot_q4_K_q8_K` /
//   `_q5_K_q8_K` / `_q6_K_q8_K` (ggml-cpu-quants.c, AVX2 branch): per super-block an exact integer
//   lane sum (lane L holds the elements whose offset within each 32-element chunk is in
//   4L..<4L+4, times their sub-block scale), then `acc_L = fma(d_a·f32(d_w), sum_L, acc_L)`; Q4_K
//   adds the minimum terms in four more lanes, `fma(−d_a·f32(dmin_w), m_{2j}·s_{2j} +
//   m_{2j+1}·s_{2j+1}, accm_j)` (s = sums of the activation quants of a 32-element sub-block),
//   and the output is `hsum(acc) + ((m0+m2) + (m1+m3))`; Q5_K sums a super-block's minimum terms
//   to one integer and fuses it into a single scalar, `hsum(acc) + summs`.
//
// Every integer part is below 2^24, so it is computed exactly in f32 here in whatever order; the
// scale products, fused multiply-adds and the final tree are done in ggml's order, so the results
// are the same bits. Weights are decoded to their integer values (the dequantizer run with the
// block scale set to 1, or the minimum scale set to 1 for the minimums) and packed 32 rows per
// panel; activations are quantized as ggml's CPU `from_float` does and packed 12 rows per group.

/// Scratch memory for `LaneGEMM`, allocated up front and grown on demand.
public final class LaneWorkspace {
    var acts = FloatStore()
    /// What `acts` holds: the input pointer, its shape and the activation format (block length,
    /// Q8_1 sums), for `linear(reuseActivations:)`.
    var packedKey: PackKey?
    var chunk = FloatStore()
    /// The integer activations of the integer kernels (`LaneGEMM.packIntActivationsDirect`, or the
    /// repacked kernels' `packKIntActivations`), and whether they belong to `packedKey`.
    var ints = FloatStore()
    var intsValid = false
    /// Whether `acts` holds the float quants of `packedKey` (false after `LaneGEMM.linear` packed
    /// the integer activations directly: then only the block scales and sums are there).
    var floatQuants = true

    public init() {}

    typealias PackKey = (pointer: UnsafeRawPointer, lda: Int, rows: Int, columns: Int, block: Int, sums: Bool)

    /// Whether a product asked to reuse its activations (`reuse`) finds `acts` holding the float
    /// quants packed for `key`.
    func holdsQuants(_ key: PackKey, reuse: Bool) -> Bool {
        reuse && floatQuants && packedKey.map { $0 == key } == true
    }

    /// Whether a product asked to reuse its activations finds the integer activations of `key`.
    func holdsInts(_ key: PackKey, reuse: Bool) -> Bool {
        reuse && intsValid && packedKey.map { $0 == key } == true
    }

    /// Records that `ints` holds the integer activations of `key`, packed without float quants
    /// (`acts` has only the scales and sums).
    func packedInts(_ key: PackKey) {
        packedKey = key
        floatQuants = false
        intsValid = true
    }

    /// Records that `acts` now holds the float quants of `key` (any integer copy is stale).
    func packedQuants(_ key: PackKey) {
        packedKey = key
        floatQuants = true
        intsValid = false
    }

    deinit {
        acts.release()
        chunk.release()
        ints.release()
    }
}

/// A growable f32 buffer.
struct FloatStore {
    private(set) var pointer = UnsafeMutablePointer<Float>.allocateAligned(capacity: 1)
    private(set) var capacity = 1

    mutating func reserve(_ n: Int) {
        if n > capacity {
            pointer.deallocate()
            pointer = .allocateAligned(capacity: n)
            capacity = n
        }
    }

    func release() { pointer.deallocate() }
}

public enum LaneGEMM {
    /// Activation rows per group.
    static let mr = 12
    /// Weight rows per panel.
    static let nr = 32
    /// Panels per task (weight rows decoded together and met by every activation group).
    static let panelsPerTask = 4

    /// The weight layout of one supported type (each block family declares its own, `BlockFormat.lanes`).
    struct Layout {
        /// Elements per block (per scale).
        let block: Int
        /// Byte offset of the f16 block scale.
        let scaleOffset: Int
        /// Byte offset of the f16 minimum scale (`min` for Q4_1/Q5_1, `dmin` for Q4_K/Q5_K), if any.
        var minOffset: Int? = nil
        /// How the minimum (offset) terms enter the sum.
        var mins = Mins.none
        /// Weights whose row count is a multiple of this are repacked by ggml's CPU backend and
        /// summed in one chain per output (`singleChain`); nil when ggml never repacks the type.
        var repackedRows: Int? = nil
        /// The order of b10572's repacked kernel for this type (LaneGEMM+Repack.swift), taken by
        /// weights with a multiple of 8 rows; nil when ggml does not repack the type on x86.
        var repacked: RepackOrder? = nil
        /// Whether `linear` also multiplies weights of this type that are not repacked; when false
        /// those go through MatMul's blocked f32 product (`handles(_: WeightMatrix)`).
        var lanesUnlessRepacked = true
        /// The order of b10572's AVX2 vec_dot for an i-quant or ternary type (LaneGEMM+IQLanes.swift);
        /// when set, every row count takes it.
        var iq: IQLanes? = nil
        /// The order of b10572's x86 vec_dot for Q1_0 / Q2_0 (LaneGEMM+BitLanes.swift); when set,
        /// every row count takes it.
        var bits: BitLanes? = nil
        /// Where a 32-element block keeps its integer values, for the integer kernel's packing
        /// (LaneGEMM+Int8.swift); nil: decoded through the dequantizer.
        var intQuads: IntQuads? = nil
    }

    /// How ggml's dot products add the weights' minimum terms.
    enum Mins {
        /// No minimums (Q8_0, Q5_0, Q4_0, Q6_K).
        case none
        /// Q4_1 / Q5_1 (`ggml_vec_dot_q4_1_q8_1` / `_q5_1_q8_1`): the weights are the raw unsigned
        /// quants, and the offsets make one scalar chain `summs = fma(f32(m_w), f32(s_a), summs)`
        /// over the blocks (s_a = the Q8_1 activation block's f16 `d·Σq`), added after the tree.
        case perBlock
        /// Q4_K: four lanes, `fma(−d_a·f32(dmin_w), m_{2j}·s_{2j} + m_{2j+1}·s_{2j+1}, accm_j)`,
        /// reduced `(m0+m2) + (m1+m3)` and added after the tree.
        case fourLanes
        /// Q5_K: a super-block's minimum terms summed to one integer and fused into one scalar,
        /// `summs = fma(−d_a·f32(dmin_w), Σ m·s, summs)`, added after the tree.
        case summed
    }

    /// The layout `t`'s block family declares, or nil when LaneGEMM has no kernel for it.
    static func layout(_ t: GGMLType) -> Layout? { BlockFormats.format(t)?.lanes }

    /// Q4_0 weights with a multiple of 8 rows (`Layout.repackedRows`): ggml's CPU backend repacks
    /// them (`q4_0_8x8_q8_0`, ggml-cpu-aarch64.cpp, taken on x86 with AVX2) and its
    /// `ggml_gemm_q4_0_8x8_q8_0` / `ggml_gemv_q4_0_8x8_q8_0` keep one chain per output,
    /// `fma(Σ_{32} q_w·q_a, f32(d_w)·f32(d_a), acc)` block after block, with no lanes to reduce.
    static func singleChain(_ w: WeightMatrix) -> Bool {
        guard let rows = layout(w.type)?.repackedRows else { return false }
        return w.rows % rows == 0
    }

    /// Whether `linear` computes products with weights of type `t` (in ggml's x86 order).
    public static func handles(_ t: GGMLType) -> Bool { layout(t) != nil }

    // MARK: Product

    /// `C[r][n]` = ggml's dot product of activation row r (f32, quantized here as ggml does) with
    /// weight row n, for `r < m`, `n < w.rows`; `w.type` must satisfy `handles`, `w.columns` be a
    /// multiple of its block. The result does not depend on `threads`.
    ///
    /// With `reuseActivations`, the caller promises that `a` holds the same values as in the
    /// previous call on this workspace; if that call quantized the same rows to the same format,
    /// its packed activations are used again (q, k and v, or gate and up, share their input).
    public static func linear(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                              into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, workspace ws: LaneWorkspace,
                              reuseActivations: Bool = false) {
        guard m > 0, w.rows > 0 else { return }
        guard let lay = layout(w.type) else { preconditionFailure("LaneGEMM has no kernel for \(w.type)") }
        if let iq = lay.iq {
            linearIQ(a, lda: lda, rows: m, weights: w, iq: iq, into: c, ldc: ldc, threads: threads, workspace: ws,
                     reuseActivations: reuseActivations)
            return
        }
        if let bits = lay.bits {
            linearBits(a, lda: lda, rows: m, weights: w, order: bits, into: c, ldc: ldc, threads: threads, workspace: ws,
                       reuseActivations: reuseActivations)
            return
        }
        if let order = repackOrder(w) {
            linearRepacked(a, lda: lda, rows: m, weights: w, order: order, into: c, ldc: ldc, threads: threads, workspace: ws,
                           reuseActivations: reuseActivations)
            return
        }
        let k = w.columns
        precondition(k % lay.block == 0, "a \(w.type) row of \(k) is not whole blocks")
        let groups = (m + mr - 1) / mr
        let nb = k / lay.block
        let single = singleChain(w)
        ws.acts.reserve(groups * mr * (k + nb + k / 32))
        let key = (pointer: UnsafeRawPointer(a), lda: lda, rows: m, columns: k, block: lay.block, sums: lay.mins == .perBlock)
        let integer = integerKernel(lay, single: single)
        if integer {
            // Straight to the integer activations (the float quants are not needed).
            if !ws.holdsInts(key, reuse: reuseActivations) {
                ws.ints.reserve(intActivationCount(groups: groups, columns: k))
                packIntActivationsDirect(a, lda: lda, rows: m, columns: k, sums: lay.mins == .perBlock, scales: ws.acts.pointer,
                                         into: UnsafeMutableRawPointer(ws.ints.pointer).assumingMemoryBound(to: Int32.self),
                                         threads: threads)
                ws.packedInts(key)
            }
        } else if !ws.holdsQuants(key, reuse: reuseActivations) {
            packActivations(a, lda: lda, rows: m, columns: k, weight: w.type, into: ws.acts.pointer, threads: threads)
            ws.packedQuants(key)
        }

        let panels = (w.rows + nr - 1) / nr
        // Small matrices: one panel per task, so that the tasks split evenly over the threads.
        let perTask = panels >= 16 * panelsPerTask ? panelsPerTask : 1
        let tasks = (panels + perTask - 1) / perTask
        let workers = Swift.min(tasks, Swift.max(1, threads))
        let pf = panelFloats(w)
        let intPanelFloats = integer ? intPanelBytes(columns: k) / 4 : 0
        let stride = perTask * pf + 2 * k + 8 * mr * nr + nb * mr * nr + perTask * intPanelFloats
        ws.chunk.reserve(workers * stride)
        nonisolated(unsafe) let cp = c
        nonisolated(unsafe) let acts = UnsafePointer(ws.acts.pointer)
        nonisolated(unsafe) let scratchBase = ws.chunk.pointer
        nonisolated(unsafe) let intActs: UnsafePointer<Int32>? =
            integer ? UnsafePointer(UnsafeRawPointer(ws.ints.pointer).assumingMemoryBound(to: Int32.self)) : nil
        let weights = w
        // Tasks taken one at a time by the workers, each with its own scratch.
        parallelWork(items: tasks, threads: workers) { worker, task in
            let base = scratchBase + worker * stride
            let rowScratch = base + perTask * pf
            let lanes = rowScratch + 2 * k
            let intPanels = UnsafeMutableRawPointer(lanes + 8 * mr * nr + nb * mr * nr)
            let p0 = task * perTask, p1 = Swift.min(panels, p0 + perTask)
            for p in p0..<p1 {
                if integer {
                    packIntPanelDirect(weights, row0: p * nr, panel: base + (p - p0) * pf,
                                       into: intPanels + (p - p0) * intPanelFloats * 4, row: rowScratch)
                } else {
                    packPanel(weights, row0: p * nr, panel: base + (p - p0) * pf, row: rowScratch)
                }
            }
            for g in 0..<groups {
                let rows = Swift.min(mr, m - g * mr)
                for p in p0..<p1 {
                    let cols = Swift.min(nr, weights.rows - p * nr)
                    tile(group: g, acts: acts, groups: groups, k: k, layout: lay, single: single, panel: base + (p - p0) * pf,
                         lanes: lanes, cp + g * mr * ldc + p * nr, ldc: ldc, rows: rows, cols: cols,
                         intPanel: integer ? UnsafeRawPointer(intPanels + (p - p0) * intPanelFloats * 4) : nil,
                         intActs: intActs)
                }
            }
        }
    }
}
