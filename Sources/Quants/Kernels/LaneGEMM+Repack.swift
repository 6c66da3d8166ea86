import GGUF

// Quantized products in the order of llama.cpp b10572's repacked CPU kernels (x86, AVX2 build).
//
// With AVX2, b10572's CPU backend stores the weights of some types whose row count is a multiple
// of 8 in interleaved 8-row blocks (repack.cpp `ggml_repack_get_optimal_repack_type`) and
// multiplies them with its own GEMM / GEMV kernels (arch/x86/repack.cpp). A matrix product runs
// the GEMM on the first m − m%4 activation rows (quantized four rows at a time) and the GEMV on
// the last m%4 (quantized one row at a time); neither the thread split nor the interleaving
// changes the order of one output's sum, which is:
//
// - `RepackOrder.blocks32` (IQ4_NL `iq4_nl_8x8_q8_0`, MXFP4 `mxfp4_8x8_q8_0`; Q4_0's
//   `q4_0_8x8_q8_0` is the same order and is kept by `singleChain`): one chain per output, block
//   after block, `acc = fma(f32(Σ_32 q_w·q_a), s_w·d_a, acc)`, in the GEMM and the GEMV alike.
//   s_w is the weight block's scale: its f16 `d`, or for MXFP4 its E8M0 exponent as half its
//   value (the quants are then the doubled fp4 values).
// - `RepackOrder.q4K` (Q4_K `q4_K_8x8_q8_K`): two chains per output, subtracted at the end,
//   `acc − accm`. The GEMM takes one step per pair of sub-blocks (2p, 2p+1) of every
//   super-block: `acc = fma(f32(sc_2p·Σ_2p + sc_2p+1·Σ_2p+1), d_w·d_a, acc)` and
//   `accm = fma(f32(m_2p·s_2p + m_2p+1·s_2p+1), dmin_w·d_a, accm)` (Σ = the integer dot product
//   of a 32-element sub-block, s = the sum of its activation quants, sc/m its 6-bit scale and
//   minimum). The GEMV takes one step per super-block: the integer sums of all eight sub-blocks,
//   which can pass 2^24 and are then rounded to nearest even by the conversion to f32.
//
// Activations: Q8_0 for `blocks32` (the four-row quantizer gives quantize_row_q8_0's values), Q8_K
// for Q4_K. The four-row Q8_K quantizer (`ggml_quantize_mat_q8_K_4x8`, AVX2) differs from
// quantize_row_q8_K in one case: when a block's largest magnitude occurs with both signs it scales
// by the positive one, quantize_row_q8_K by the first (`q8_KQuantsFourRows`).
//
// Every partial integer sum here is below 2^24 (a pair of Q4_K sub-blocks: 64·945·127; half a
// super-block: 128·945·127; an IQ4_NL block: 32·127·127), so it is computed exactly in f32 in
// whatever order; the one rounding of a GEMV super-block sum is the f32 addition of its two exact
// halves. Weights are decoded to their integer values (the family's dequantizer run with a unit
// scale) and packed 32 rows per panel in natural column order; activations 12 rows per group.

extension LaneGEMM {
    /// The order of one of b10572's repacked kernels (see the header of LaneGEMM+Repack.swift).
    enum RepackOrder: Sendable, Equatable {
        /// 32-element blocks with one scale each: one chain per output.
        case blocks32(scale: BlockScale)
        /// Q4_K: a chain per sub-block pair (GEMM rows) or per super-block (GEMV rows), plus the
        /// chain of the minimum terms.
        case q4K
        /// Q2_K: not repacked on AVX2 builds (b10572 repacks Q2_K only with AVX-512), so every
        /// row count takes `ggml_vec_dot_q2_K_q8_K`'s eight lanes (LaneGEMM+Q2K.swift).
        case q2KLanes
        /// Q6_K: not repacked on x86, `ggml_vec_dot_q6_K_q8_K`'s eight lanes (LaneGEMM+KLanes.swift).
        case q6KLanes

        /// Whether this is an eight-lane vec_dot order (taken at every row count).
        var isLanes: Bool { self == .q2KLanes || self == .q6KLanes }
    }

    /// How a 32-element block stores its scale (at byte 0).
    enum BlockScale: Sendable, Equatable {
        /// An f16 `d` (IQ4_NL).
        case f16
        /// An E8M0 exponent byte, used as half its value, 2^(e − 128) (MXFP4).
        case e8m0Half
    }

    /// Rows of a weight matrix that ggml repacks (its `NB_COLS`).
    static let repackRows = 8

    /// The repacked order of `w`, or nil when ggml does not repack it (no repacked kernel for its
    /// type, or rows not a multiple of 8).
    static func repackOrder(_ w: WeightMatrix) -> RepackOrder? {
        guard let order = layout(w.type)?.repacked else { return nil }
        return order.isLanes || w.rows % repackRows == 0 ? order : nil
    }

    /// Whether `MatMul` routes products with `w` to `linear`: its type has a layout, and when the
    /// type is only handled repacked (`Layout.lanesUnlessRepacked` false), `w` is repacked.
    public static func handles(_ w: WeightMatrix) -> Bool {
        guard let lay = layout(w.type), w.columns % lay.block == 0 else { return false }
        return lay.lanesUnlessRepacked || repackOrder(w) != nil
    }

    /// Activation rows that ggml's repacked product sends through its GEMM (quantized four rows at
    /// a time); the other `m % 4` go through the GEMV.
    @inline(__always)
    static func gemmRows(_ m: Int) -> Int { m - m % 4 }

    /// Activation quant sums per row: of 16 elements for Q2_K, of 32 otherwise.
    @inline(__always)
    static func sumsPerRow(_ order: RepackOrder, _ k: Int) -> Int { order.isLanes ? k / 16 : k / 32 }

    // MARK: Product

    /// `linear` for weights ggml repacks (`repackOrder(w)` is not nil); same contract. With
    /// `expertRows` (Q4_K only) every row is quantized alone and summed in the GEMV order, as
    /// b10572's `mul_mat_id` of a repacked tensor does (LaneGEMM+Experts.swift).
    static func linearRepacked(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix, order: RepackOrder,
                               into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, workspace ws: LaneWorkspace,
                               reuseActivations: Bool, allowInteger: Bool = true, expertRows: Bool = false) {
        guard let lay = layout(w.type) else { preconditionFailure("LaneGEMM has no kernel for \(w.type)") }
        precondition(!expertRows || order == .q4K, "no expert GEMV order for \(w.type)")
        let k = w.columns
        precondition(k % lay.block == 0, "a \(w.type) row of \(k) is not whole blocks")
        let groups = (m + mr - 1) / mr
        let nb = k / lay.block
        ws.acts.reserve(groups * mr * (k + nb + k / 16))
        // A negative block field marks these packings (natural column order): Q8_0, Q8_K with the
        // four-row quantizer and 32-element sums (Q4_K), Q8_K with 16-element sums (Q2_K, Q6_K),
        // Q8_K by the one-row quantizer with 32-element sums (Q4_K expert rows).
        let packing = expertRows ? 3 : order == .q4K ? 1 : order.isLanes ? 2 : 0
        let key = (pointer: UnsafeRawPointer(a), lda: lda, rows: m, columns: k, block: -(4 * lay.block + packing), sums: false)
        if !ws.holdsQuants(key, reuse: reuseActivations) {
            if expertRows {
                packExpertActivations(a, lda: lda, rows: m, columns: k, into: ws.acts.pointer, threads: threads)
            } else {
                packRepackedActivations(a, lda: lda, rows: m, columns: k, order: order, into: ws.acts.pointer, threads: threads)
            }
            ws.packedQuants(key)
        }
        // Q4_K / Q6_K / Q2_K on integer dot products where the CPU has VNNI (LaneGEMM+KInt.swift).
        let integer = allowInteger && kIntegerKernel(order)
        if integer && !ws.intsValid {
            ws.ints.reserve(kIntActivationCount(groups: groups, columns: k))
            packKIntActivations(ws.acts.pointer, groups: groups, columns: k,
                                sums16: order.isLanes ? UnsafePointer(ws.acts.pointer + groups * mr * (k + nb)) : nil,
                                into: UnsafeMutableRawPointer(ws.ints.pointer).assumingMemoryBound(to: Int32.self), threads: threads)
            ws.intsValid = true
        }

        let panels = (w.rows + nr - 1) / nr
        let perTask = panels >= 16 * panelsPerTask ? panelsPerTask : 1
        let tasks = (panels + perTask - 1) / perTask
        let workers = Swift.min(tasks, Swift.max(1, threads))
        let pf = repackedPanelFloats(w)
        let ipf = integer ? kIntPanelInt32s(columns: k) : 0
        let stride = perTask * pf + 2 * k + 2 * 256 + 8 * mr * nr + perTask * ipf
        ws.chunk.reserve(workers * stride)
        nonisolated(unsafe) let cp = c
        nonisolated(unsafe) let acts = UnsafePointer(ws.acts.pointer)
        nonisolated(unsafe) let scratchBase = ws.chunk.pointer
        nonisolated(unsafe) let intActs: UnsafePointer<Int32>? =
            integer ? UnsafePointer(UnsafeRawPointer(ws.ints.pointer).assumingMemoryBound(to: Int32.self)) : nil
        let weights = w
        // Expert rows: every row takes the GEMV branch.
        let gemm = expertRows ? 0 : gemmRows(m)
        // Tasks taken one at a time by the workers, each with its own scratch.
        parallelWork(items: tasks, threads: workers) { worker, task in
            let base = scratchBase + worker * stride
            let rowScratch = base + perTask * pf
            let tileScratch = rowScratch + 2 * k + 2 * 256
            let intPanels = UnsafeMutableRawPointer(tileScratch + 8 * mr * nr).assumingMemoryBound(to: Int32.self)
            let p0 = task * perTask, p1 = Swift.min(panels, p0 + perTask)
            for p in p0..<p1 {
                if integer {
                    packKIntPanel(weights, order: order, row0: p * nr, panel: base + (p - p0) * pf, intPanels + (p - p0) * ipf)
                } else {
                    packRepackedPanel(weights, order: order, row0: p * nr, panel: base + (p - p0) * pf, row: rowScratch)
                }
            }
            for g in 0..<groups {
                let rows = Swift.min(mr, m - g * mr)
                for p in p0..<p1 {
                    let cols = Swift.min(nr, weights.rows - p * nr)
                    let ip: UnsafePointer<Int32>? = integer ? UnsafePointer(intPanels + (p - p0) * ipf) : nil
                    if order.isLanes {
                        kLanesTile(group: g, acts: acts, groups: groups, k: k, q6: order == .q6KLanes, panel: base + (p - p0) * pf,
                                   lanes: tileScratch, cp + g * mr * ldc + p * nr, ldc: ldc, rows: rows, cols: cols,
                                   intPanel: ip, intActs: intActs)
                        continue
                    }
                    repackedTile(group: g, acts: acts, groups: groups, k: k, block: lay.block, order: order,
                                 gemmRows: gemm, panel: base + (p - p0) * pf, tile: tileScratch,
                                 cp + g * mr * ldc + p * nr, ldc: ldc, rows: rows, cols: cols,
                                 intPanel: ip, intActs: intActs)
                }
            }
        }
    }

    // MARK: Kernels

    /// The chains of six activation rows (`aq` at the group's row offset, 12 floats per column;
    /// `ad` their block scales, `nb` apart) against one panel of 32 weight rows (`wq`, 32 floats
    /// per column; `wd` the weight block scales, 32 per block): `steps` steps of `length` columns,
    /// `stepsPerBlock` steps per scale block; step s adds `fma(Σ a·w, d_w·d_a, acc)` (the integer
    /// sum is exact). `out[r·32 + j]` receives row r, weight row j.
    @inline(__always)
    static func repackedChains(_ aq: UnsafePointer<Float>, _ ad: UnsafePointer<Float>, nb: Int,
                               _ wq: UnsafePointer<Float>, _ wd: UnsafePointer<Float>,
                               steps: Int, length: Int, stepsPerBlock: Int, _ out: UnsafeMutablePointer<Float>) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var w = UnsafeRawPointer(wq)
        var a = aq
        for s in 0..<steps {
            var p00 = SIMD16<Float>(), p01 = SIMD16<Float>(), p10 = SIMD16<Float>(), p11 = SIMD16<Float>()
            var p20 = SIMD16<Float>(), p21 = SIMD16<Float>(), p30 = SIMD16<Float>(), p31 = SIMD16<Float>()
            var p40 = SIMD16<Float>(), p41 = SIMD16<Float>(), p50 = SIMD16<Float>(), p51 = SIMD16<Float>()
            for _ in 0..<length {
                let w0 = w.loadUnaligned(as: SIMD16<Float>.self)
                let w1 = w.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                var x = SIMD16<Float>(repeating: a[0]); p00.addProduct(x, w0); p01.addProduct(x, w1)
                x = SIMD16<Float>(repeating: a[1]); p10.addProduct(x, w0); p11.addProduct(x, w1)
                x = SIMD16<Float>(repeating: a[2]); p20.addProduct(x, w0); p21.addProduct(x, w1)
                x = SIMD16<Float>(repeating: a[3]); p30.addProduct(x, w0); p31.addProduct(x, w1)
                x = SIMD16<Float>(repeating: a[4]); p40.addProduct(x, w0); p41.addProduct(x, w1)
                x = SIMD16<Float>(repeating: a[5]); p50.addProduct(x, w0); p51.addProduct(x, w1)
                w += 4 * nr
                a += mr
            }
            let b = s / stepsPerBlock
            let d = UnsafeRawPointer(wd + b * nr)
            let d0 = d.loadUnaligned(as: SIMD16<Float>.self), d1 = d.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            // ggml multiplies the weight scales by the activation scale, then fuses.
            var da = SIMD16<Float>(repeating: ad[b]); c00.addProduct(d0 * da, p00); c01.addProduct(d1 * da, p01)
            da = SIMD16<Float>(repeating: ad[nb + b]); c10.addProduct(d0 * da, p10); c11.addProduct(d1 * da, p11)
            da = SIMD16<Float>(repeating: ad[2 * nb + b]); c20.addProduct(d0 * da, p20); c21.addProduct(d1 * da, p21)
            da = SIMD16<Float>(repeating: ad[3 * nb + b]); c30.addProduct(d0 * da, p30); c31.addProduct(d1 * da, p31)
            da = SIMD16<Float>(repeating: ad[4 * nb + b]); c40.addProduct(d0 * da, p40); c41.addProduct(d1 * da, p41)
            da = SIMD16<Float>(repeating: ad[5 * nb + b]); c50.addProduct(d0 * da, p50); c51.addProduct(d1 * da, p51)
        }
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 128 * r, as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 128 * r + 64, as: SIMD16<Float>.self)
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }

    /// One group (12 rows) against one panel (32 weight rows), written to `c` (rows `ldc` apart,
    /// `rows × cols` valid). Rows of the group at or past `gemmRows` (overall) follow the GEMV
    /// order. `tile` is scratch for 24 × 32 floats. With `intPanel` and `intActs` (Q4_K, VNNI) the
    /// chains run on integer dot products (LaneGEMM+KInt.swift).
    @inline(__always)
    static func repackedTile(group g: Int, acts: UnsafePointer<Float>, groups: Int, k: Int, block: Int, order: RepackOrder,
                             gemmRows: Int, panel: UnsafePointer<Float>, tile: UnsafeMutablePointer<Float>,
                             _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                             intPanel: UnsafePointer<Int32>? = nil, intActs: UnsafePointer<Int32>? = nil) {
        let nb = k / block
        let aq = acts + g * mr * k
        let ad = acts + groups * mr * k + g * mr * nb
        let asums = acts + groups * mr * (k + nb) + g * mr * (k / 32)
        let wq = panel, wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        let isQ4K = order == .q4K
        // GEMM rows of this group (all of them for blocks32, whose GEMV order is the same).
        let gemmHere = isQ4K ? Swift.max(0, Swift.min(rows, gemmRows - g * mr)) : rows
        // The integer form: GEMM rows into `tile`, GEMV rows (their chains without the minimums) into `gemvTile`.
        var gemvTile: UnsafeMutablePointer<Float>? = nil
        if isQ4K, let ip = intPanel, let ia = intActs {
            let aqI = ia + g * mr * (k / 4)
            let wi = UnsafeRawPointer(ip), wsc = UnsafeRawPointer(ip + (k / 4) * nr)
            if gemmHere > 0 {
                q4KIntChains(aqI, ad, nb: nb, wi, wsc, wd, gemv: false, tile)
                if gemmHere > 6 { q4KIntChains(aqI + 6, ad + 6 * nb, nb: nb, wi, wsc, wd, gemv: false, tile + 6 * nr) }
            }
            if gemmHere < rows {
                let gt = tile + mr * nr
                if gemmHere < 6 { q4KIntChains(aqI, ad, nb: nb, wi, wsc, wd, gemv: true, gt) }
                if rows > 6 { q4KIntChains(aqI + 6, ad + 6 * nb, nb: nb, wi, wsc, wd, gemv: true, gt + 6 * nr) }
                gemvTile = gt
            }
        } else if gemmHere > 0 {
            let steps = isQ4K ? k / 64 : nb
            let length = isQ4K ? 64 : 32
            let perBlock = isQ4K ? 4 : 1
            repackedChains(aq, ad, nb: nb, wq, wd, steps: steps, length: length, stepsPerBlock: perBlock, tile)
            if gemmHere > 6 {
                repackedChains(aq + 6, ad + 6 * nb, nb: nb, wq, wd, steps: steps, length: length, stepsPerBlock: perBlock,
                               tile + 6 * nr)
            }
        }
        for i in 0..<rows {
            let ci = c + i * ldc
            let t = UnsafeRawPointer(tile + i * nr)
            for h in 0..<2 {
                var sum: SIMD16<Float>
                if i < gemmHere {
                    sum = t.loadUnaligned(fromByteOffset: 64 * h, as: SIMD16<Float>.self)
                    if isQ4K {
                        // The minimum chain, one step per sub-block pair.
                        var accm = SIMD16<Float>()
                        for b in 0..<nb {
                            let dmin = UnsafeRawPointer(wdm + b * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                                * SIMD16<Float>(repeating: ad[i * nb + b])
                            for p in 0..<4 {
                                let s0 = 8 * b + 2 * p
                                let m0 = UnsafeRawPointer(wm + s0 * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                                let m1 = UnsafeRawPointer(wm + (s0 + 1) * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                                let pair = m0 * asums[i * (k / 32) + s0] + m1 * asums[i * (k / 32) + s0 + 1]
                                accm.addProduct(pair, dmin)
                            }
                        }
                        sum = sum - accm
                    }
                } else {
                    // Q4_K GEMV: one step per super-block.
                    var acc = SIMD16<Float>(), accm = SIMD16<Float>()
                    for b in 0..<nb where gemvTile == nil {
                        var lo = SIMD16<Float>(), hi = SIMD16<Float>()
                        var w = UnsafeRawPointer(wq + 256 * b * nr + 16 * h)
                        var a = aq + 256 * b * mr + i
                        for _ in 0..<128 {
                            lo.addProduct(SIMD16<Float>(repeating: a[0]), w.loadUnaligned(as: SIMD16<Float>.self))
                            w += 4 * nr
                            a += mr
                        }
                        for _ in 0..<128 {
                            hi.addProduct(SIMD16<Float>(repeating: a[0]), w.loadUnaligned(as: SIMD16<Float>.self))
                            w += 4 * nr
                            a += mr
                        }
                        let da = SIMD16<Float>(repeating: ad[i * nb + b])
                        let dw = UnsafeRawPointer(wd + b * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                        acc.addProduct(lo + hi, dw * da)
                    }
                    if let gt = gemvTile {
                        acc = UnsafeRawPointer(gt + i * nr).loadUnaligned(fromByteOffset: 64 * h, as: SIMD16<Float>.self)
                    }
                    for b in 0..<nb {
                        let da = SIMD16<Float>(repeating: ad[i * nb + b])
                        var total = SIMD16<Float>()
                        for sb in (8 * b)..<(8 * b + 8) {
                            total += UnsafeRawPointer(wm + sb * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                                * asums[i * (k / 32) + sb]
                        }
                        let dmin = UnsafeRawPointer(wdm + b * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                        accm.addProduct(total, dmin * da)
                    }
                    sum = acc - accm
                }
                VectorMath.store(sum, ci + 16 * h, width: cols - 16 * h)
            }
        }
    }

    // MARK: Packing

    /// Quantizes `m` rows of `k` activations (`lda` apart) for `order` (rows up to the next
    /// multiple of 12 are zero): quants `q[g·12k + kk·12 + i]` for row 12g + i in natural column
    /// order, then block scales `d[r·nb + b]` (from `rows12·k` on), then for Q8_K the 32-element
    /// sums `s[r·(k/32) + sb]` (from `rows12·(k + nb)` on). Q8_K rows below `gemmRows(m)` use the
    /// four-row quantizer.
    static func packRepackedActivations(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int, order: RepackOrder,
                                        into buf: UnsafeMutablePointer<Float>, threads: Int) {
        let rows12 = (m + mr - 1) / mr * mr
        let block = order == .q4K || order.isLanes ? 256 : 32
        let nb = k / block
        let ns = sumsPerRow(order, k), sumLength = k / ns
        let gemm = order == .q4K ? gemmRows(m) : 0
        let qBase = buf, dBase = buf + rows12 * k, sBase = dBase + rows12 * nb
        nonisolated(unsafe) let src = a
        let groups = rows12 / mr
        let tasks = Swift.min(groups, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            // One group's twelve rows, then interleaved into `q` at once.
            let rows = UnsafeMutablePointer<Float>.allocateAligned(capacity: mr * k)
            defer { rows.deallocate() }
            for g in (groups * t / tasks)..<(groups * (t + 1) / tasks) {
                for i in 0..<mr {
                    let r = g * mr + i
                    let row = rows + i * k, d = dBase + r * nb, s = sBase + r * ns
                    if r >= m {
                        row.update(repeating: 0, count: k)
                        d.update(repeating: 0, count: nb)
                        s.update(repeating: 0, count: ns)
                        continue
                    }
                    let x = src + r * lda
                    if block == 32 {
                        for b in 0..<nb {
                            let (q0, q1, amax) = ActivationRounding.q8_0Quants(x + 32 * b)
                            UnsafeMutableRawPointer(row + 32 * b).storeBytes(of: q0, as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(row + 32 * b).storeBytes(of: q1, toByteOffset: 64, as: SIMD16<Float>.self)
                            d[b] = Float(Float16(amax / 127))
                        }
                    } else {
                        for b in 0..<nb {
                            d[b] = r < gemm ? q8_KQuantsFourRows(x + 256 * b, into: row + 256 * b)
                                : ActivationRounding.q8_KQuants(x + 256 * b, into: row + 256 * b)
                        }
                        for sb in 0..<ns {
                            var sum: Float = 0
                            for j in (sumLength * sb)..<(sumLength * sb + sumLength) { sum += row[j] }
                            s[sb] = sum
                        }
                    }
                }
                interleave(rows, count: mr, columns: k, into: qBase + g * mr * k)
            }
        }
    }

    /// One Q8_K block as ggml's four-row quantizer (`ggml_quantize_mat_q8_K_4x8`, AVX2) quantizes
    /// it: the 256 quants as floats into `q`, the scale returned. As `ActivationRounding.q8_KQuants`
    /// except the sign of the scale: negative when the largest magnitude is reached by a positive
    /// element (anywhere in the block), positive otherwise.
    @inline(__always)
    static func q8_KQuantsFourRows(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Float>) -> Float {
        let amax = ActivationRounding.absMax256(x)
        if amax == 0 {
            q.update(repeating: 0, count: 256)
            return 0
        }
        var positive = false
        for j in 0..<256 where x[j] == amax {
            positive = true
            break
        }
        let iscale: Float = positive ? -127 / amax : 127 / amax
        ActivationRounding.roundQ8_K(x, iscale: iscale, into: q)
        return 1 / iscale
    }

    /// Decodes weight rows `row0 ..< row0+32` into a panel: integer values `wq[kk·32 + j]` (natural
    /// column order), block scales `wd[b·32 + j]`, and for Q4_K the minimum scales `wdm[b·32 + j]`
    /// and sub-block minimums `wm[sb·32 + j]`. Rows past the end are zero. `row` is scratch for
    /// `k + 256` floats.
    static func packRepackedPanel(_ w: WeightMatrix, order: RepackOrder, row0: Int, panel: UnsafeMutablePointer<Float>,
                                  row: UnsafeMutablePointer<Float>) {
        let k = w.columns
        let format = BlockFormats.format(w.type)!
        let block = w.type.blockSize
        let nb = k / block
        let ts = w.type.typeSize
        let wq = panel, wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0))  // 216 bytes ≥ the largest block here (Q6_K, 210)
        precondition(ts <= MemoryLayout.size(ofValue: bytes), "no repacked kernel for \(w.type)")
        withUnsafeMutableBytes(of: &bytes) { bb in
            let tmp = bb.baseAddress!
            for j in 0..<nr {
                let r = row0 + j
                if r >= w.rows {
                    for kk in 0..<k { wq[kk * nr + j] = 0 }
                    for b in 0..<nb { wd[b * nr + j] = 0; wdm[b * nr + j] = 0 }
                    for sb in 0..<(k / 16) { wm[sb * nr + j] = 0 }
                    continue
                }
                let src = w.data + r * w.rowBytes
                for b in 0..<nb {
                    let blk = src + b * ts
                    tmp.copyMemory(from: blk, byteCount: ts)
                    switch order {
                    case .blocks32(scale: .f16):
                        wd[b * nr + j] = blk.loadHalf(at: 0)
                        tmp.storeBytes(of: FP16.fromFloat(1), as: UInt16.self)
                    case .blocks32(scale: .e8m0Half):
                        wd[b * nr + j] = e8m0Half(blk.byte(0))
                        tmp.storeBytes(of: UInt8(128), as: UInt8.self)  // 2^(128 − 128) = 1
                    case .q6KLanes:
                        // d = 1: the dequantizer yields sc·(q − 32); the scales per 16 elements go to wm.
                        wd[b * nr + j] = blk.loadHalf(at: 208)
                        tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: 208, as: UInt16.self)
                        for s in 0..<16 { wm[(16 * b + s) * nr + j] = Float(blk.load(fromByteOffset: 192 + s, as: Int8.self)) }
                    case .q4K, .q2KLanes:
                        // d and dmin: bytes 0 and 2 (Q4_K) or 80 and 82 (Q2_K).
                        let dOffset = order == .q4K ? 0 : 80
                        wd[b * nr + j] = blk.loadHalf(at: dOffset)
                        wdm[b * nr + j] = blk.loadHalf(at: dOffset + 2)
                        // d = 1, dmin = 0: the dequantizer yields sc·q.
                        tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: dOffset, as: UInt16.self)
                        tmp.storeBytes(of: UInt16(0), toByteOffset: dOffset + 2, as: UInt16.self)
                    }
                    format.dequantize(UnsafeRawPointer(tmp), row + b * block, count: block)
                    if order == .q6KLanes {
                        // The unsigned quants times their scale: sc·(q − 32) + 32·sc.
                        for e in 0..<256 { row[256 * b + e] += 32 * wm[(16 * b + e / 16) * nr + j] }
                    }
                    if order == .q4K || order == .q2KLanes {
                        // d = 0, dmin = 1: every element is minus its sub-block minimum.
                        let dOffset = order == .q4K ? 0 : 80
                        let sub = order == .q4K ? 32 : 16
                        tmp.storeBytes(of: UInt16(0), toByteOffset: dOffset, as: UInt16.self)
                        tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: dOffset + 2, as: UInt16.self)
                        let scratch = row + k
                        format.dequantize(UnsafeRawPointer(tmp), scratch, count: block)
                        for sb in 0..<(256 / sub) { wm[((256 / sub) * b + sb) * nr + j] = -scratch[sub * sb] + 0 }
                    }
                }
                for kk in 0..<k { wq[kk * nr + j] = row[kk] }
            }
        }
    }

    /// Floats of one decoded repacked panel of `w`.
    static func repackedPanelFloats(_ w: WeightMatrix) -> Int {
        let nb = w.columns / w.type.blockSize
        return (w.columns + 2 * nb + w.columns / 16) * nr
    }
}
