import GGUF

// Products with the i-quant and ternary K-sized types in the order of b10572's x86 AVX2 dot
// products (arch/x86/quants.c, `ggml_vec_dot_iq2_xxs_q8_K`, `_iq2_xs_`, `_iq2_s_`, `_iq3_xxs_`,
// `_iq3_s_`, `_iq1_s_`, `_iq1_m_`, `_tq1_0_`, `_tq2_0_q8_K`). ggml repacks none of these on x86,
// so every row count takes the vec_dot. Activations: `quantize_row_q8_K` (with 16-element sums).
//
// All of them keep eight 32-bit integer lanes per super-block: lane L holds the elements at
// offsets 4L..<4L+4 of every 32-element chunk, each times its weight's integer value (grid point
// × sign × the sub-block's odd scale 2s+1), summed exactly; then per super-block
// `acc_L = fma(d_w·d_a, f32(I_L), acc_L)` and the output is a constant times the eight-lane tree
// (`hsum_float_8`):
//
// - IQ2_XXS, IQ2_XS, IQ2_S: `0.125 · tree(acc)`; IQ3_XXS: `0.25 · tree(acc)`; IQ3_S: `tree(acc)`.
// - TQ1_0 / TQ2_0: the quants are taken unsigned (0, 1, 2) and the offset is removed per lane from
//   the integer, `I_L = Σ q·q_a − s_2L − s_2L+1` (s the 16-element activation quant sums, which
//   ggml subtracts from its 16-bit slot 2L and 2L+1, so a lane loses the sums of elements that are
//   not its own); then `acc_L = f32(I_L)·d + acc_L` (GCC fuses the two).
// - IQ1_S: the lanes over `ls·grid` (grid −1, 0, 1; ls = 2s+1 per 32 elements), and one scalar
//   chain of the deltas, `acc1 = fma(d, f32(Σ ls·sign·(s_2i + s_2i+1)), acc1)` over the
//   super-blocks; the output is `tree(acc) + 0.125·acc1`.
// - IQ1_M: two lane sets with the same `d_a·d_w`, the grid part `ls·grid` and the delta part
//   `ls·sign` (sign ±1 per 8 elements); the output is `tree(acc) + 0.125·tree(acc2)`.
//
// Every lane integer is below 2^24 (IQ3_XXS, the largest: 32·62·127·31), so it is computed exactly
// in f32 in whatever order. Weights are decoded to ggml's integers (`iqLaneBlock`) and packed 32
// rows per panel in natural column order; activations 12 rows per group (as for Q6_K).

extension LaneGEMM {
    /// A type whose product follows one of the orders above (`Layout.iq`).
    enum IQLanes: Sendable, Equatable {
        case iq2XXS, iq2XS, iq2S, iq3XXS, iq3S, iq1S, iq1M, tq1, tq2

        /// The constant the lane tree is multiplied by.
        var post: Float {
            switch self {
            case .iq2XXS, .iq2XS, .iq2S: 0.125
            case .iq3XXS: 0.25
            default: 1
            }
        }

        /// Whether the quants are unsigned with the 16-element sums subtracted per lane (TQ).
        var ternary: Bool { self == .tq1 || self == .tq2 }
    }

    /// The IQ order of `w`'s type, if it has one.
    static func iqOrder(_ w: WeightMatrix) -> IQLanes? { layout(w.type)?.iq }

    /// Decodes one super-block to ggml's integer lane weights: `w1[e]` (the grid part), for IQ1_M
    /// `w2[e]` (the delta part, ls·±1), for IQ1_S `s32[i]` (ls·±1 of 32-element sub-block i).
    /// Returns the block's f32 scale.
    static func iqLaneBlock(_ iq: IQLanes, _ x: UnsafeRawPointer, _ w1: UnsafeMutablePointer<Float>,
                            _ w2: UnsafeMutablePointer<Float>, _ s32: UnsafeMutablePointer<Float>) -> Float {
        @inline(__always) func sign(_ bits: UInt8, _ j: Int) -> Int { (bits & (UInt8(1) << UInt8(j))) != 0 ? -1 : 1 }
        @inline(__always) func u16(_ o: Int) -> Int { Int(UInt16(littleEndian: x.loadUnaligned(fromByteOffset: o, as: UInt16.self))) }
        @inline(__always) func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: x.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        switch iq {
        case .iq3XXS:
            for ib in 0..<8 {
                let word = u32(66 + 4 * ib)
                let ls = 2 * Int(word >> 28) + 1
                for l in 0..<4 {
                    let signs = IQGrids.ksigns[Int((word >> (7 * UInt32(l))) & 127)]
                    let g1 = IQGrids.iq3xxs[Int(x.byte(2 + 8 * ib + 2 * l))], g2 = IQGrids.iq3xxs[Int(x.byte(2 + 8 * ib + 2 * l + 1))]
                    for j in 0..<4 {
                        w1[32 * ib + 8 * l + j] = Float(ls * Int((g1 >> (8 * UInt32(j))) & 0xFF) * sign(signs, j))
                        w1[32 * ib + 8 * l + 4 + j] = Float(ls * Int((g2 >> (8 * UInt32(j))) & 0xFF) * sign(signs, j + 4))
                    }
                }
            }
            return x.loadHalf(at: 0)
        case .iq3S:
            for ib in 0..<8 {
                let sc = x.byte(106 + ib / 2)
                let ls = 2 * Int(ib % 2 == 0 ? sc & 0xF : sc >> 4) + 1
                let qh = Int(x.byte(66 + ib))
                for l in 0..<4 {
                    let signs = x.byte(74 + 4 * ib + l)
                    let g1 = IQGrids.iq3s[Int(x.byte(2 + 8 * ib + 2 * l)) | ((qh << (8 - 2 * l)) & 256)]
                    let g2 = IQGrids.iq3s[Int(x.byte(2 + 8 * ib + 2 * l + 1)) | ((qh << (7 - 2 * l)) & 256)]
                    for j in 0..<4 {
                        w1[32 * ib + 8 * l + j] = Float(ls * Int((g1 >> (8 * UInt32(j))) & 0xFF) * sign(signs, j))
                        w1[32 * ib + 8 * l + 4 + j] = Float(ls * Int((g2 >> (8 * UInt32(j))) & 0xFF) * sign(signs, j + 4))
                    }
                }
            }
            return x.loadHalf(at: 0)
        case .iq2XXS, .iq2XS, .iq2S:
            for ib in 0..<8 {
                for l in 0..<4 {
                    let g: UInt64, signs: UInt8, ls: Int
                    switch iq {
                    case .iq2XXS:
                        let word = u32(2 + 8 * ib + 4)
                        g = IQGrids.iq2xxs[Int(x.byte(2 + 8 * ib + l))]
                        signs = IQGrids.ksigns[Int((word >> (7 * UInt32(l))) & 127)]
                        ls = 2 * Int(word >> 28) + 1
                    case .iq2XS:
                        let q = u16(2 + 2 * (4 * ib + l))
                        g = IQGrids.iq2xs[q & 511]
                        signs = IQGrids.ksigns[q >> 9]
                        let sc = x.byte(66 + ib)
                        ls = 2 * Int(l < 2 ? sc & 0xF : sc >> 4) + 1
                    default:
                        let qh = Int(x.byte(66 + ib))
                        g = IQGrids.iq2s[Int(x.byte(2 + 4 * ib + l)) | ((qh << (8 - 2 * l)) & 0x300)]
                        signs = x.byte(34 + 4 * ib + l)
                        let sc = x.byte(74 + ib)
                        ls = 2 * Int(l < 2 ? sc & 0xF : sc >> 4) + 1
                    }
                    for j in 0..<8 {
                        w1[32 * ib + 8 * l + j] = Float(ls * Int((g >> (8 * UInt64(j))) & 0xFF) * sign(signs, j))
                    }
                }
            }
            return x.loadHalf(at: 0)
        case .iq1S:
            for ib in 0..<8 {
                let qh = u16(34 + 2 * ib)
                let ls = 2 * ((qh >> 12) & 7) + 1
                s32[ib] = Float(qh & 0x8000 != 0 ? -ls : ls)
                for l in 0..<4 {
                    let g = IQGrids.iq1s[Int(x.byte(2 + 4 * ib + l)) | (((qh >> (3 * l)) & 7) << 8)]
                    for j in 0..<8 { w1[32 * ib + 8 * l + j] = Float(ls * Int(Int8(truncatingIfNeeded: g >> (8 * UInt64(j))))) }
                }
            }
            return x.loadHalf(at: 0)
        case .iq1M:
            let bits = (u16(48) >> 12) | ((u16(50) >> 8) & 0x00F0) | ((u16(52) >> 4) & 0x0F00) | (u16(54) & 0xF000)
            for ib in 0..<8 {
                let s = u16(48 + 2 * (ib / 2))
                let ls1 = 2 * ((s >> (6 * (ib % 2))) & 7) + 1, ls2 = 2 * ((s >> (6 * (ib % 2) + 3)) & 7) + 1
                let h0 = Int(x.byte(32 + 2 * ib)), h1 = Int(x.byte(33 + 2 * ib))
                for l in 0..<4 {
                    let h = l < 2 ? h0 : h1
                    let g = IQGrids.iq1s[Int(x.byte(4 * ib + l)) | ((h << (l % 2 == 0 ? 8 : 4)) & 0x700)]
                    let ls = l < 2 ? ls1 : ls2
                    let delta = (h & (l % 2 == 0 ? 0x08 : 0x80)) != 0 ? -ls : ls
                    for j in 0..<8 {
                        w1[32 * ib + 8 * l + j] = Float(ls * Int(Int8(truncatingIfNeeded: g >> (8 * UInt64(j)))))
                        w2[32 * ib + 8 * l + j] = Float(delta)
                    }
                }
            }
            return FP16.toFloat(UInt16(truncatingIfNeeded: bits))
        case .tq2:
            // Byte m of 32-byte group j holds elements 128j + 32l + m in bits 2l.
            for j in 0..<2 {
                for l in 0..<4 {
                    for m in 0..<32 { w1[128 * j + 32 * l + m] = Float((x.byte(32 * j + m) >> UInt8(2 * l)) & 3) }
                }
            }
            return x.loadHalf(at: 64)
        case .tq1:
            @inline(__always) func trit(_ q: UInt8, _ p: UInt8) -> Float { Float((Int(q &* p) * 3) >> 8) }
            var p: UInt8 = 1
            for n in 0..<5 {
                for m in 0..<32 { w1[32 * n + m] = trit(x.byte(m), p) }
                for m in 0..<16 { w1[160 + 16 * n + m] = trit(x.byte(32 + m), p) }
                if n < 4 {
                    for j in 0..<4 { w1[240 + 4 * n + j] = trit(x.byte(48 + j), p) }
                }
                p = p &* 3
            }
            return x.loadHalf(at: 52)
        }
    }

    // MARK: Product

    /// `linear` for weights with an IQ order (`iqOrder(w)` not nil); same contract.
    static func linearIQ(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix, iq: IQLanes,
                         into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, workspace ws: LaneWorkspace,
                         reuseActivations: Bool) {
        let k = w.columns
        precondition(k % 256 == 0, "a \(w.type) row of \(k) is not whole blocks")
        let groups = (m + mr - 1) / mr
        let nb = k / 256
        ws.acts.reserve(groups * mr * (k + nb + k / 16))
        // The packing of the eight-lane K-quant orders (Q8_K, 16-element sums, natural order).
        let key = (pointer: UnsafeRawPointer(a), lda: lda, rows: m, columns: k, block: -(4 * 256 + 2), sums: false)
        if !ws.holdsQuants(key, reuse: reuseActivations) {
            packRepackedActivations(a, lda: lda, rows: m, columns: k, order: .q6KLanes, into: ws.acts.pointer, threads: threads)
            ws.packedQuants(key)
        }
        let panels = (w.rows + nr - 1) / nr
        let perTask = panels >= 16 * panelsPerTask ? panelsPerTask : 1
        let tasks = (panels + perTask - 1) / perTask
        let chunks = Swift.min(tasks, Swift.max(1, threads) * 4)
        let pf = iqPanelFloats(k)
        let stride = perTask * pf + 2 * 256 + 8 + 2 * 8 * mr * nr
        ws.chunk.reserve(chunks * stride)
        nonisolated(unsafe) let cp = c
        nonisolated(unsafe) let acts = UnsafePointer(ws.acts.pointer)
        nonisolated(unsafe) let scratchBase = ws.chunk.pointer
        let weights = w
        parallelFor(chunks: chunks, threads: threads) { ch in
            let base = scratchBase + ch * stride
            let decode = base + perTask * pf
            let lanes = decode + 2 * 256 + 8
            for task in (tasks * ch / chunks)..<(tasks * (ch + 1) / chunks) {
                let p0 = task * perTask, p1 = Swift.min(panels, p0 + perTask)
                for p in p0..<p1 {
                    packIQPanel(weights, iq: iq, row0: p * nr, panel: base + (p - p0) * pf, scratch: decode)
                }
                for g in 0..<groups {
                    let rows = Swift.min(mr, m - g * mr)
                    for p in p0..<p1 {
                        let cols = Swift.min(nr, weights.rows - p * nr)
                        iqLanesTile(group: g, acts: acts, groups: groups, k: k, iq: iq, panel: base + (p - p0) * pf,
                                    lanes: lanes, cp + g * mr * ldc + p * nr, ldc: ldc, rows: rows, cols: cols)
                    }
                }
            }
        }
    }

    /// Floats of one decoded IQ panel: lane weights, scales, IQ1_M delta weights, IQ1_S sub-block terms.
    static func iqPanelFloats(_ k: Int) -> Int { (2 * k + k / 256 + k / 32) * nr }

    /// Decodes weight rows `row0 ..< row0+32` into a panel: `wq[kk·32 + j]` the integer lane
    /// weights, `wd[b·32 + j]` the block scales, `w2[kk·32 + j]` the IQ1_M delta weights,
    /// `s32[i·32 + j]` the IQ1_S sub-block terms. Rows past the end are zero. `scratch`: 520 floats.
    static func packIQPanel(_ w: WeightMatrix, iq: IQLanes, row0: Int, panel: UnsafeMutablePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>) {
        let k = w.columns, nb = k / 256
        let wq = panel, wd = panel + k * nr, w2 = wd + nb * nr, s32 = w2 + k * nr
        let d1 = scratch, d2 = scratch + 256, ds = scratch + 512
        d2.update(repeating: 0, count: 256)
        ds.update(repeating: 0, count: 8)
        for j in 0..<nr {
            let r = row0 + j
            if r >= w.rows {
                for kk in 0..<k { wq[kk * nr + j] = 0; w2[kk * nr + j] = 0 }
                for b in 0..<nb { wd[b * nr + j] = 0 }
                for i in 0..<(k / 32) { s32[i * nr + j] = 0 }
                continue
            }
            let src = w.data + r * w.rowBytes
            for b in 0..<nb {
                wd[b * nr + j] = iqLaneBlock(iq, src + b * w.type.typeSize, d1, d2, ds)
                for e in 0..<256 {
                    wq[(256 * b + e) * nr + j] = d1[e]
                    w2[(256 * b + e) * nr + j] = d2[e]
                }
                for i in 0..<8 { s32[(8 * b + i) * nr + j] = ds[i] }
            }
        }
    }

    /// Lane `lane` of six activation rows (`aq` at the row offset, 12 floats per column; `ad`
    /// their super-block scales, `nb` apart; `as16` their 16-element quant sums, `ns` apart)
    /// against one panel's lane weights `wq` (scales `wd`): `out[r·32 + j]` = that lane's chain,
    /// `fma(d_w·d_a, I, acc)` per super-block (`ternary`: I less the lane's two 16-element sums).
    @inline(__always)
    static func iqLaneChains(_ aq: UnsafePointer<Float>, _ ad: UnsafePointer<Float>, _ as16: UnsafePointer<Float>,
                             nb: Int, ns: Int, _ wq: UnsafePointer<Float>, _ wd: UnsafePointer<Float>, lane: Int,
                             ternary: Bool, _ out: UnsafeMutablePointer<Float>) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        @inline(__always) func v(_ p: UnsafePointer<Float>, _ h: Int) -> SIMD16<Float> {
            UnsafeRawPointer(p + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
        }
        for b in 0..<nb {
            var p00 = SIMD16<Float>(), p01 = SIMD16<Float>(), p10 = SIMD16<Float>(), p11 = SIMD16<Float>()
            var p20 = SIMD16<Float>(), p21 = SIMD16<Float>(), p30 = SIMD16<Float>(), p31 = SIMD16<Float>()
            var p40 = SIMD16<Float>(), p41 = SIMD16<Float>(), p50 = SIMD16<Float>(), p51 = SIMD16<Float>()
            for ch in 0..<8 {
                for t in 0..<4 {
                    let kk = 256 * b + 32 * ch + 4 * lane + t
                    let w0 = v(wq + kk * nr, 0), w1 = v(wq + kk * nr, 1)
                    let at = aq + kk * mr
                    var x = SIMD16<Float>(repeating: at[0]); p00.addProduct(x, w0); p01.addProduct(x, w1)
                    x = SIMD16<Float>(repeating: at[1]); p10.addProduct(x, w0); p11.addProduct(x, w1)
                    x = SIMD16<Float>(repeating: at[2]); p20.addProduct(x, w0); p21.addProduct(x, w1)
                    x = SIMD16<Float>(repeating: at[3]); p30.addProduct(x, w0); p31.addProduct(x, w1)
                    x = SIMD16<Float>(repeating: at[4]); p40.addProduct(x, w0); p41.addProduct(x, w1)
                    x = SIMD16<Float>(repeating: at[5]); p50.addProduct(x, w0); p51.addProduct(x, w1)
                }
            }
            if ternary {
                // Exact: integers below 2^24.
                let s0 = 16 * b + 2 * lane
                @inline(__always) func off(_ r: Int) -> SIMD16<Float> { SIMD16(repeating: as16[r * ns + s0] + as16[r * ns + s0 + 1]) }
                var o = off(0); p00 -= o; p01 -= o
                o = off(1); p10 -= o; p11 -= o
                o = off(2); p20 -= o; p21 -= o
                o = off(3); p30 -= o; p31 -= o
                o = off(4); p40 -= o; p41 -= o
                o = off(5); p50 -= o; p51 -= o
            }
            let d0 = v(wd + b * nr, 0), d1 = v(wd + b * nr, 1)
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

    /// One group (12 rows) against one IQ panel, written to `c` (`rows × cols` valid). `lanes` is
    /// scratch for 2 × 8 × 12 × 32 floats.
    static func iqLanesTile(group g: Int, acts: UnsafePointer<Float>, groups: Int, k: Int, iq: IQLanes,
                            panel: UnsafePointer<Float>, lanes: UnsafeMutablePointer<Float>,
                            _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
        let nb = k / 256, ns = k / 16
        let aq = acts + g * mr * k
        let ad = acts + groups * mr * k + g * mr * nb
        let as16 = acts + groups * mr * (k + nb) + g * mr * ns
        let wq = panel, wd = panel + k * nr, w2 = wd + nb * nr, s32 = w2 + k * nr
        let tileSize = mr * nr
        let lanes2 = lanes + 8 * tileSize
        for lane in 0..<8 {
            let o = lanes + lane * tileSize
            iqLaneChains(aq, ad, as16, nb: nb, ns: ns, wq, wd, lane: lane, ternary: iq.ternary, o)
            if rows > 6 {
                iqLaneChains(aq + 6, ad + 6 * nb, as16 + 6 * ns, nb: nb, ns: ns, wq, wd, lane: lane, ternary: iq.ternary, o + 6 * nr)
            }
            if iq == .iq1M {
                let o2 = lanes2 + lane * tileSize
                iqLaneChains(aq, ad, as16, nb: nb, ns: ns, w2, wd, lane: lane, ternary: false, o2)
                if rows > 6 {
                    iqLaneChains(aq + 6, ad + 6 * nb, as16 + 6 * ns, nb: nb, ns: ns, w2, wd, lane: lane, ternary: false, o2 + 6 * nr)
                }
            }
        }
        let post = SIMD16<Float>(repeating: iq.post)
        for i in 0..<rows {
            let l = UnsafeRawPointer(lanes + i * nr), l2 = UnsafeRawPointer(lanes2 + i * nr)
            let ci = c + i * ldc
            for h in 0..<2 {
                var sum = VectorMath.laneTree { l.loadUnaligned(fromByteOffset: 4 * ($0 * tileSize + 16 * h), as: SIMD16<Float>.self) }
                switch iq {
                case .iq1M:
                    let second = VectorMath.laneTree { l2.loadUnaligned(fromByteOffset: 4 * ($0 * tileSize + 16 * h), as: SIMD16<Float>.self) }
                    sum += second * 0.125
                case .iq1S:
                    // The delta chain: one fused step per super-block.
                    var acc1 = SIMD16<Float>()
                    for b in 0..<nb {
                        var sumi = SIMD16<Float>()
                        for ib in 0..<8 {
                            let s0: Int = i * ns + 16 * b + 2 * ib
                            let pair: Float = as16[s0] + as16[s0 + 1]
                            let at: UnsafePointer<Float> = s32 + ((8 * b + ib) * nr + 16 * h)
                            let term: SIMD16<Float> = UnsafeRawPointer(at).loadUnaligned(as: SIMD16<Float>.self)
                            sumi += term * SIMD16<Float>(repeating: pair)
                        }
                        let d = UnsafeRawPointer(wd + b * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                            * SIMD16<Float>(repeating: ad[i * nb + b])
                        acc1.addProduct(d, sumi)
                    }
                    sum += acc1 * 0.125
                default:
                    sum = sum * post
                }
                VectorMath.store(sum, ci + 16 * h, width: cols - 16 * h)
            }
        }
    }

    // MARK: Scalar twin

    /// The scalar twin of `linearIQ`: each activation row quantized to Q8_K block bytes, each
    /// weight block decoded from its bytes, one output at a time with integer lane sums and the
    /// float steps of ggml's AVX2 dot product, written out.
    static func linearIQReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix, iq: IQLanes,
                                  into c: UnsafeMutablePointer<Float>, ldc: Int) {
        let k = w.columns, nb = k / 256
        let aBytes = UnsafeMutableRawPointer.allocate(byteCount: nb * GGMLType.q8_K.typeSize, alignment: 16)
        let dec = UnsafeMutablePointer<Float>.allocate(capacity: 520)
        defer { aBytes.deallocate(); dec.deallocate() }
        var q8 = [Int](repeating: 0, count: k), bsums = [Int](repeating: 0, count: k / 16)
        var da = [Float](repeating: 0, count: nb)
        for r in 0..<m {
            Quantizer.quantize(.q8_K, a + r * lda, aBytes, rows: 1, rowLength: k)
            for b in 0..<nb {
                let blk = aBytes + GGMLType.q8_K.typeSize * b
                da[b] = blk.loadUnaligned(as: Float.self)
                for j in 0..<256 { q8[256 * b + j] = Int(blk.load(fromByteOffset: 4 + j, as: Int8.self)) }
                for s in 0..<16 { bsums[16 * b + s] = Int(blk.loadUnaligned(fromByteOffset: 260 + 2 * s, as: Int16.self)) }
            }
            for n in 0..<w.rows {
                let src = w.data + n * w.rowBytes
                var acc = [Float](repeating: 0, count: 8), acc2 = acc
                var acc1: Float = 0
                for b in 0..<nb {
                    dec.update(repeating: 0, count: 520)
                    let dw = iqLaneBlock(iq, src + b * w.type.typeSize, dec, dec + 256, dec + 512)
                    let d = dw * da[b]
                    for lane in 0..<8 {
                        var sumi = 0, sumi2 = 0
                        for ch in 0..<8 {
                            for t in 0..<4 {
                                let e = 32 * ch + 4 * lane + t
                                sumi += Int(dec[e]) * q8[256 * b + e]
                                sumi2 += Int(dec[256 + e]) * q8[256 * b + e]
                            }
                        }
                        if iq.ternary { sumi -= bsums[16 * b + 2 * lane] + bsums[16 * b + 2 * lane + 1] }
                        acc[lane] = acc[lane].addingProduct(d, Float(sumi))
                        acc2[lane] = acc2[lane].addingProduct(d, Float(sumi2))
                    }
                    var sumi1 = 0
                    for ib in 0..<8 { sumi1 += (bsums[16 * b + 2 * ib] + bsums[16 * b + 2 * ib + 1]) * Int(dec[512 + ib]) }
                    acc1 = acc1.addingProduct(d, Float(sumi1))
                }
                let tree = VectorMath.laneTree { acc[$0] }
                switch iq {
                case .iq1S: c[r * ldc + n] = tree + 0.125 * acc1
                case .iq1M: c[r * ldc + n] = tree + 0.125 * VectorMath.laneTree { acc2[$0] }
                default: c[r * ldc + n] = iq.post * tree
                }
            }
        }
    }
}
