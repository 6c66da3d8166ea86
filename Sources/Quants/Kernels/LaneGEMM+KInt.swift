import GGUF
import IntDot

// The integer form of the K-quant products (repacked Q4_K GEMM and GEMV rows; the eight-lane Q6_K
// and Q2_K orders), taken where `IntDot.vnni` (AVX-512 VNNI, native build).
//
// Inside a super-block ggml's K-quant products are exact integer arithmetic; only the integer of a
// step enters the float chains. Here that integer is computed in int32 lanes, and from there on the
// float operations are the float kernels' (LaneGEMM+Repack.swift, LaneGEMM+KLanes.swift), in the
// same order, so the outputs are the same bits:
//
// - The weights are their unsigned quants (Q4_K 0…15, Q6_K 0…63, Q2_K 0…3), four consecutive
//   columns of one weight row as the four bytes of an int32; the activations (Q8_K, −127…127) the
//   same four columns of one row as four signed bytes, broadcast. One `vpdpbusd` adds the dot
//   product of the four columns to each of sixteen weight rows' int32 lanes.
// - Q4_K: the eight quads of a 32-element sub-block are summed (|Σ| ≤ 32·15·127) and multiplied by
//   the sub-block's 6-bit scale (`vpmulld`); a GEMM step adds two sub-blocks (one pair), a GEMV
//   step four (one half super-block; the two halves are converted to f32 and added in f32, as the
//   float kernel's rounding of a super-block sum). The minimum chain stays in the float code.
// - Q6_K / Q2_K: lane L's quad of chunk c is one `vpdpbusd` from zero (|Σ| ≤ 4·63·127 < 2^15), so
//   its scale product is a `vpdpwssd` against the scale in the low 16 bits (the high half of the
//   scale is 0, so the sign-extension half of the quad sum drops out). Q6_K's offset 32 is removed
//   with one more `vpdpwssd` of the pair (−32·sc_2L, −32·sc_2L+1) against the activation sums
//   (s_2L, s_2L+1). The Q2_K minimum terms stay in the float code. The lane integer is converted to
//   f32 once (`vcvtdq2ps`, nearest even), as the float kernel's `exactSum`.

extension LaneGEMM {
    /// Whether `linearRepacked` runs `order` on integer dot products.
    static func kIntegerKernel(_ order: RepackOrder) -> Bool {
        IntDot.vnni && (order == .q4K || order.isLanes)
    }

    /// Int32s of one integer K-quant panel: the quads `[q·32 + j]` (k/4 of them), the scales
    /// `[s·32 + j]` (k/32 Q4_K sub-blocks or k/16 Q6_K / Q2_K sub-blocks), and the Q6_K offset pairs
    /// `[(8b + L)·32 + j]` (8 per super-block).
    static func kIntPanelInt32s(columns k: Int) -> Int { (k / 4 + k / 16 + k / 32) * nr }

    /// Int32s of the integer activations of `groups` groups: the quads `[g·12(k/4) + q·12 + i]`,
    /// then (from `groups·12(k/4)` on) the Q6_K sum pairs `[g·12(k/32) + (8b + L)·12 + i]`.
    static func kIntActivationCount(groups: Int, columns k: Int) -> Int { groups * mr * (k / 4 + k / 32) }

    /// The integer activations from the packed float quants (`packRepackedActivations` layout,
    /// `acts[g·12k + kk·12 + i]`): quad q of row 12g + i holds the signed bytes of columns 4q…4q+3.
    /// With `sums16` (the 16-element quant sums of the lane orders, `k/16` per row) also the pairs
    /// (s_2L, s_2L+1) of every super-block b and lane L as the two 16-bit halves of an int32.
    static func packKIntActivations(_ acts: UnsafePointer<Float>, groups: Int, columns k: Int,
                                    sums16: UnsafePointer<Float>?, into ia: UnsafeMutablePointer<Int32>, threads: Int = 1) {
        nonisolated(unsafe) let acts = acts, ia = ia, s16 = sums16
        let tasks = Swift.min(groups, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { task in
            for g in (groups * task / tasks)..<(groups * (task + 1) / tasks) {
                packKIntGroup(acts, group: g, groups: groups, columns: k, sums16: s16, into: ia)
            }
        }
    }

    /// `packKIntActivations` of group `g`: its Q6_K sum pairs (with `sums16`) and its quads.
    private static func packKIntGroup(_ acts: UnsafePointer<Float>, group g: Int, groups: Int, columns k: Int,
                                      sums16: UnsafePointer<Float>?, into ia: UnsafeMutablePointer<Int32>) {
        let quads = k / 4
        if let s16 = sums16 {
            let pairs = ia + groups * mr * quads
            for p in 0..<(k / 32) {
                for i in 0..<mr {
                    let row = s16 + (g * mr + i) * (k / 16)
                    let lo = UInt32(UInt16(truncatingIfNeeded: Int32(row[2 * p])))
                    let hi = UInt32(UInt16(truncatingIfNeeded: Int32(row[2 * p + 1])))
                    pairs[(g * (k / 32) + p) * mr + i] = Int32(bitPattern: lo | (hi << 16))
                }
            }
        }
        // Four rows at a time, each quant's byte the low byte of its bits plus 1.5·2^23 (packIntGroup).
        let s = UnsafeRawPointer(acts + g * mr * k)
        let d = UnsafeMutableRawPointer(ia + g * mr * quads)
        let magic = SIMD4<Float>(repeating: magicFloat), low = SIMD4<UInt32>(repeating: 0xFF)
        for q in 0..<quads {
            for i in stride(from: 0, to: mr, by: 4) {
                @inline(__always) func byte(_ t: Int) -> SIMD4<UInt32> {
                    let v = s.loadUnaligned(fromByteOffset: 4 * ((4 * q + t) * mr + i), as: SIMD4<Float>.self)
                    return unsafeBitCast(v + magic, to: SIMD4<UInt32>.self) & low
                }
                let bits = byte(0) | (byte(1) &<< 8) | (byte(2) &<< 16) | (byte(3) &<< 24)
                d.storeBytes(of: bits, toByteOffset: 4 * (q * mr + i), as: SIMD4<UInt32>.self)
            }
        }
    }

    /// Decodes weight rows `row0 ..< row0+32` of a Q4_K, Q6_K or Q2_K matrix for the integer
    /// kernels: the integer panel `ip` (`kIntPanelInt32s` layout: quant bytes, scales, Q6_K offset
    /// pairs) and of the float panel (`packRepackedPanel` layout) the parts the float code still
    /// reads: `wd`, and for Q4_K / Q2_K `wdm` and the minimums `wm`. Rows past the end are zero.
    static func packKIntPanel(_ w: WeightMatrix, order: RepackOrder, row0: Int, panel: UnsafeMutablePointer<Float>,
                              _ ip: UnsafeMutablePointer<Int32>) {
        let k = w.columns, nb = k / 256
        let ts = w.type.typeSize
        let wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        let scales = ip + (k / 4) * nr
        let offsets = scales + (k / 16) * nr
        // Four consecutive quants (columns kk…kk+3, kk a multiple of 4) as the bytes of one int32,
        // built four at a time from the block's bytes (byte t of a little-endian word is column kk+t).
        @inline(__always) func putQuad(_ kk: Int, _ j: Int, _ v: UInt32) { ip[(kk >> 2) * nr + j] = Int32(bitPattern: v) }
        @inline(__always) func word(_ blk: UnsafeRawPointer, _ offset: Int) -> UInt32 {
            UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        }
        for j in 0..<nr {
            let r = row0 + j
            if r >= w.rows {
                for q in 0..<(k / 4) { ip[q * nr + j] = 0 }
                for s in 0..<(k / 16 + k / 32) { scales[s * nr + j] = 0 }
                for b in 0..<nb { wd[b * nr + j] = 0; wdm[b * nr + j] = 0 }
                for s in 0..<(k / 16) { wm[s * nr + j] = 0 }
                continue
            }
            let src = UnsafeRawPointer(w.data + r * w.rowBytes)
            for b in 0..<nb {
                let blk = src + b * ts
                let e0 = 256 * b
                switch order {
                case .q4K:
                    // d, dmin, 12 bytes of 6-bit scales and minimums, 128 bytes of nibbles.
                    wd[b * nr + j] = blk.loadHalf(at: 0)
                    wdm[b * nr + j] = blk.loadHalf(at: 2)
                    let sm = (blk + 4).assumingMemoryBound(to: UInt8.self)
                    for sb in 0..<8 {
                        let (sc, m) = scaleMinK4(sb, sm)
                        scales[(8 * b + sb) * nr + j] = Int32(sc)
                        wm[(8 * b + sb) * nr + j] = Float(m)
                    }
                    for c in 0..<4 {
                        for l in stride(from: 0, to: 32, by: 4) {
                            let v = word(blk, 16 + 32 * c + l)
                            putQuad(e0 + 64 * c + l, j, v & 0x0F0F_0F0F)
                            putQuad(e0 + 64 * c + 32 + l, j, (v >> 4) & 0x0F0F_0F0F)
                        }
                    }
                case .q6KLanes:
                    // 128 bytes of low nibbles, 64 of high bit pairs, 16 signed scales, d.
                    wd[b * nr + j] = blk.loadHalf(at: 208)
                    for h in 0..<2 {
                        for l in stride(from: 0, to: 32, by: 4) {
                            let ql0 = word(blk, 64 * h + l), ql1 = word(blk, 64 * h + l + 32), qh = word(blk, 128 + 32 * h + l)
                            putQuad(e0 + 128 * h + l, j, (ql0 & 0x0F0F_0F0F) | ((qh & 0x0303_0303) << 4))
                            putQuad(e0 + 128 * h + l + 32, j, (ql1 & 0x0F0F_0F0F) | (((qh >> 2) & 0x0303_0303) << 4))
                            putQuad(e0 + 128 * h + l + 64, j, ((ql0 >> 4) & 0x0F0F_0F0F) | (((qh >> 4) & 0x0303_0303) << 4))
                            putQuad(e0 + 128 * h + l + 96, j, ((ql1 >> 4) & 0x0F0F_0F0F) | (((qh >> 6) & 0x0303_0303) << 4))
                        }
                    }
                    @inline(__always) func sc(_ s: Int) -> Int32 { Int32(blk.load(fromByteOffset: 192 + s, as: Int8.self)) }
                    @inline(__always) func low16(_ v: Int32) -> UInt32 { UInt32(UInt16(truncatingIfNeeded: v)) }
                    for s in 0..<16 { scales[(16 * b + s) * nr + j] = Int32(bitPattern: low16(sc(s))) }
                    for lane in 0..<8 {
                        let pair = low16(-32 * sc(2 * lane)) | (low16(-32 * sc(2 * lane + 1)) << 16)
                        offsets[(8 * b + lane) * nr + j] = Int32(bitPattern: pair)
                    }
                case .q2KLanes:
                    // 16 bytes of 4-bit scale | 4-bit minimum, 64 bytes of 2-bit quants, d, dmin.
                    wd[b * nr + j] = blk.loadHalf(at: 80)
                    wdm[b * nr + j] = blk.loadHalf(at: 82)
                    for s in 0..<16 {
                        let v = blk.byte(s)
                        scales[(16 * b + s) * nr + j] = Int32(v & 0xF)
                        wm[(16 * b + s) * nr + j] = Float(v >> 4)
                    }
                    for h in 0..<2 {
                        for l in stride(from: 0, to: 32, by: 4) {
                            let v = word(blk, 16 + 32 * h + l)
                            for jj in 0..<4 {
                                putQuad(e0 + 128 * h + 32 * jj + l, j, (v >> UInt32(2 * jj)) & 0x0303_0303)
                            }
                        }
                    }
                case .blocks32:
                    preconditionFailure("no integer K-quant kernel for \(order)")
                }
            }
        }
    }

    /// Twelve int32 vectors: six activation rows × two halves of a 32-row panel.
    struct IntTile {
        var a0 = SIMD16<Int32>(), b0 = SIMD16<Int32>(), a1 = SIMD16<Int32>(), b1 = SIMD16<Int32>()
        var a2 = SIMD16<Int32>(), b2 = SIMD16<Int32>(), a3 = SIMD16<Int32>(), b3 = SIMD16<Int32>()
        var a4 = SIMD16<Int32>(), b4 = SIMD16<Int32>(), a5 = SIMD16<Int32>(), b5 = SIMD16<Int32>()
    }

    /// `x += sc · Σ` over the eight quads of Q4_K sub-block `sb` (quads 8sb…8sb+7), for six rows.
    @inline(__always)
    static func addQ4KSubBlock(_ aq: UnsafePointer<Int32>, _ wi: UnsafeRawPointer, _ wsc: UnsafeRawPointer, sb: Int,
                               _ x: inout IntTile) {
        var s = IntTile()
        var w = wi + 8 * sb * nr * 4
        var a = aq + 8 * sb * mr
        for _ in 0..<8 {
            let w0 = w.loadUnaligned(as: SIMD16<Int32>.self)
            let w1 = w.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int32>.self)
            var v = SIMD16<Int32>(repeating: a[0]); s.a0 = IntDot.dpbusd(s.a0, w0, v); s.b0 = IntDot.dpbusd(s.b0, w1, v)
            v = SIMD16<Int32>(repeating: a[1]); s.a1 = IntDot.dpbusd(s.a1, w0, v); s.b1 = IntDot.dpbusd(s.b1, w1, v)
            v = SIMD16<Int32>(repeating: a[2]); s.a2 = IntDot.dpbusd(s.a2, w0, v); s.b2 = IntDot.dpbusd(s.b2, w1, v)
            v = SIMD16<Int32>(repeating: a[3]); s.a3 = IntDot.dpbusd(s.a3, w0, v); s.b3 = IntDot.dpbusd(s.b3, w1, v)
            v = SIMD16<Int32>(repeating: a[4]); s.a4 = IntDot.dpbusd(s.a4, w0, v); s.b4 = IntDot.dpbusd(s.b4, w1, v)
            v = SIMD16<Int32>(repeating: a[5]); s.a5 = IntDot.dpbusd(s.a5, w0, v); s.b5 = IntDot.dpbusd(s.b5, w1, v)
            w += nr * 4
            a += mr
        }
        let sc0 = wsc.loadUnaligned(fromByteOffset: sb * nr * 4, as: SIMD16<Int32>.self)
        let sc1 = wsc.loadUnaligned(fromByteOffset: sb * nr * 4 + 64, as: SIMD16<Int32>.self)
        x.a0 &+= s.a0 &* sc0; x.b0 &+= s.b0 &* sc1; x.a1 &+= s.a1 &* sc0; x.b1 &+= s.b1 &* sc1
        x.a2 &+= s.a2 &* sc0; x.b2 &+= s.b2 &* sc1; x.a3 &+= s.a3 &* sc0; x.b3 &+= s.b3 &* sc1
        x.a4 &+= s.a4 &* sc0; x.b4 &+= s.b4 &* sc1; x.a5 &+= s.a5 &* sc0; x.b5 &+= s.b5 &* sc1
    }

    /// The repacked Q4_K chains of six activation rows (`aq` the group's integer quads at the row
    /// offset; `ad` their super-block scales, `nb` apart) against one integer panel (`wi` quads,
    /// `wsc` sub-block scales; `wd` the float panel's super-block scales), without the minimum
    /// chain: GEMM order (`gemv` false: `acc = fma(d_w·d_a, f32(pair), acc)` per sub-block pair) or
    /// GEMV order (`acc = fma(f32(lo) + f32(hi), d_w·d_a, acc)` per super-block). `out[r·32 + j]`.
    @inline(__always)
    static func q4KIntChains(_ aq: UnsafePointer<Int32>, _ ad: UnsafePointer<Float>, nb: Int, _ wi: UnsafeRawPointer,
                             _ wsc: UnsafeRawPointer, _ wd: UnsafePointer<Float>, gemv: Bool, _ out: UnsafeMutablePointer<Float>) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        for b in 0..<nb {
            let d = UnsafeRawPointer(wd + b * nr)
            let d0 = d.loadUnaligned(as: SIMD16<Float>.self), d1 = d.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            if gemv {
                var lo = IntTile(), hi = IntTile()
                for sb in (8 * b)..<(8 * b + 4) { addQ4KSubBlock(aq, wi, wsc, sb: sb, &lo) }
                for sb in (8 * b + 4)..<(8 * b + 8) { addQ4KSubBlock(aq, wi, wsc, sb: sb, &hi) }
                @inline(__always) func f(_ l: SIMD16<Int32>, _ h: SIMD16<Int32>) -> SIMD16<Float> {
                    IntDot.toFloat(l) + IntDot.toFloat(h)
                }
                // The float kernel's `acc.addProduct(lo + hi, dw * da)`.
                var da = SIMD16<Float>(repeating: ad[b]); c00.addProduct(f(lo.a0, hi.a0), d0 * da); c01.addProduct(f(lo.b0, hi.b0), d1 * da)
                da = SIMD16<Float>(repeating: ad[nb + b]); c10.addProduct(f(lo.a1, hi.a1), d0 * da); c11.addProduct(f(lo.b1, hi.b1), d1 * da)
                da = SIMD16<Float>(repeating: ad[2 * nb + b]); c20.addProduct(f(lo.a2, hi.a2), d0 * da); c21.addProduct(f(lo.b2, hi.b2), d1 * da)
                da = SIMD16<Float>(repeating: ad[3 * nb + b]); c30.addProduct(f(lo.a3, hi.a3), d0 * da); c31.addProduct(f(lo.b3, hi.b3), d1 * da)
                da = SIMD16<Float>(repeating: ad[4 * nb + b]); c40.addProduct(f(lo.a4, hi.a4), d0 * da); c41.addProduct(f(lo.b4, hi.b4), d1 * da)
                da = SIMD16<Float>(repeating: ad[5 * nb + b]); c50.addProduct(f(lo.a5, hi.a5), d0 * da); c51.addProduct(f(lo.b5, hi.b5), d1 * da)
                continue
            }
            for pair in 0..<4 {
                var p = IntTile()
                addQ4KSubBlock(aq, wi, wsc, sb: 8 * b + 2 * pair, &p)
                addQ4KSubBlock(aq, wi, wsc, sb: 8 * b + 2 * pair + 1, &p)
                // The float kernel's `c.addProduct(d_w * d_a, pair)`.
                var da = SIMD16<Float>(repeating: ad[b])
                c00.addProduct(d0 * da, IntDot.toFloat(p.a0)); c01.addProduct(d1 * da, IntDot.toFloat(p.b0))
                da = SIMD16<Float>(repeating: ad[nb + b])
                c10.addProduct(d0 * da, IntDot.toFloat(p.a1)); c11.addProduct(d1 * da, IntDot.toFloat(p.b1))
                da = SIMD16<Float>(repeating: ad[2 * nb + b])
                c20.addProduct(d0 * da, IntDot.toFloat(p.a2)); c21.addProduct(d1 * da, IntDot.toFloat(p.b2))
                da = SIMD16<Float>(repeating: ad[3 * nb + b])
                c30.addProduct(d0 * da, IntDot.toFloat(p.a3)); c31.addProduct(d1 * da, IntDot.toFloat(p.b3))
                da = SIMD16<Float>(repeating: ad[4 * nb + b])
                c40.addProduct(d0 * da, IntDot.toFloat(p.a4)); c41.addProduct(d1 * da, IntDot.toFloat(p.b4))
                da = SIMD16<Float>(repeating: ad[5 * nb + b])
                c50.addProduct(d0 * da, IntDot.toFloat(p.a5)); c51.addProduct(d1 * da, IntDot.toFloat(p.b5))
            }
        }
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 128 * r, as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 128 * r + 64, as: SIMD16<Float>.self)
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }

    /// `kLaneChains` on integer dot products: lane `lane` of six activation rows (`aq` the group's
    /// integer quads at the row offset; `ad`, `as16` as in `kLaneChains`) against one integer Q6_K
    /// (`q6`) or Q2_K panel (`ip`, `kIntPanelInt32s` layout) and the float panel's `wd` (and for
    /// Q2_K `wdm`, `wm`); `pairs` the group's Q6_K sum pairs at the row offset. `out[r·32 + j]` =
    /// that lane's chain.
    @inline(__always)
    static func kLaneIntChains(_ aq: UnsafePointer<Int32>, _ pairs: UnsafePointer<Int32>, _ ad: UnsafePointer<Float>,
                               _ as16: UnsafePointer<Float>,
                               nb: Int, ns: Int, k: Int, _ ip: UnsafePointer<Int32>, _ wd: UnsafePointer<Float>,
                               _ wdm: UnsafePointer<Float>, _ wm: UnsafePointer<Float>, lane: Int, q6: Bool,
                               _ out: UnsafeMutablePointer<Float>) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        @inline(__always) func v(_ p: UnsafePointer<Float>, _ h: Int) -> SIMD16<Float> {
            UnsafeRawPointer(p + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
        }
        @inline(__always) func iv(_ p: UnsafePointer<Int32>, _ h: Int) -> SIMD16<Int32> {
            UnsafeRawPointer(p + 16 * h).loadUnaligned(as: SIMD16<Int32>.self)
        }
        let scales = ip + (k / 4) * nr
        let offsets = scales + (k / 16) * nr
        let zero = SIMD16<Int32>()
        for b in 0..<nb {
            let s0 = 16 * b + 2 * lane
            if !q6 {
                // The Q2_K minimum terms of sub-blocks 2L and 2L+1, as `kLaneChains`.
                let ma0 = v(wm + s0 * nr, 0), ma1 = v(wm + s0 * nr, 1)
                let mb0 = v(wm + (s0 + 1) * nr, 0), mb1 = v(wm + (s0 + 1) * nr, 1)
                let dm0 = v(wdm + b * nr, 0), dm1 = v(wdm + b * nr, 1)
                @inline(__always) func mins(_ r: Int, _ x0: inout SIMD16<Float>, _ x1: inout SIMD16<Float>) {
                    let sa = as16[r * ns + s0], sb = as16[r * ns + s0 + 1]
                    let nda = SIMD16<Float>(repeating: -ad[r * nb + b])
                    x0.addProduct(dm0 * nda, ma0 * sa + mb0 * sb)
                    x1.addProduct(dm1 * nda, ma1 * sa + mb1 * sb)
                }
                mins(0, &c00, &c01); mins(1, &c10, &c11); mins(2, &c20, &c21)
                mins(3, &c30, &c31); mins(4, &c40, &c41); mins(5, &c50, &c51)
            }
            var x = IntTile()
            for ch in 0..<8 {
                let q = 64 * b + 8 * ch + lane
                let wq = UnsafeRawPointer(ip + q * nr)
                let w0 = wq.loadUnaligned(as: SIMD16<Int32>.self)
                let w1 = wq.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int32>.self)
                // Chunk ch, lane L: sub-block 2ch + L/4 of the super-block.
                let sp = scales + (16 * b + 2 * ch + lane / 4) * nr
                let sc0 = iv(sp, 0), sc1 = iv(sp, 1)
                let a = aq + q * mr
                @inline(__always) func step(_ r: Int, _ x0: inout SIMD16<Int32>, _ x1: inout SIMD16<Int32>) {
                    let av = SIMD16<Int32>(repeating: a[r])
                    x0 = IntDot.dpwssd(x0, IntDot.dpbusd(zero, w0, av), sc0)
                    x1 = IntDot.dpwssd(x1, IntDot.dpbusd(zero, w1, av), sc1)
                }
                step(0, &x.a0, &x.b0); step(1, &x.a1, &x.b1); step(2, &x.a2, &x.b2)
                step(3, &x.a3, &x.b3); step(4, &x.a4, &x.b4); step(5, &x.a5, &x.b5)
            }
            if q6 {
                // − 32·(sc_2L·s_2L + sc_2L+1·s_2L+1).
                let op = offsets + (8 * b + lane) * nr
                let o0 = iv(op, 0), o1 = iv(op, 1)
                let pp = pairs + (8 * b + lane) * mr
                @inline(__always) func offset(_ r: Int, _ x0: inout SIMD16<Int32>, _ x1: inout SIMD16<Int32>) {
                    let pair = SIMD16<Int32>(repeating: pp[r])
                    x0 = IntDot.dpwssd(x0, o0, pair)
                    x1 = IntDot.dpwssd(x1, o1, pair)
                }
                offset(0, &x.a0, &x.b0); offset(1, &x.a1, &x.b1); offset(2, &x.a2, &x.b2)
                offset(3, &x.a3, &x.b3); offset(4, &x.a4, &x.b4); offset(5, &x.a5, &x.b5)
            }
            let d0 = v(wd + b * nr, 0), d1 = v(wd + b * nr, 1)
            var da = SIMD16<Float>(repeating: ad[b]); c00.addProduct(d0 * da, IntDot.toFloat(x.a0)); c01.addProduct(d1 * da, IntDot.toFloat(x.b0))
            da = SIMD16<Float>(repeating: ad[nb + b]); c10.addProduct(d0 * da, IntDot.toFloat(x.a1)); c11.addProduct(d1 * da, IntDot.toFloat(x.b1))
            da = SIMD16<Float>(repeating: ad[2 * nb + b]); c20.addProduct(d0 * da, IntDot.toFloat(x.a2)); c21.addProduct(d1 * da, IntDot.toFloat(x.b2))
            da = SIMD16<Float>(repeating: ad[3 * nb + b]); c30.addProduct(d0 * da, IntDot.toFloat(x.a3)); c31.addProduct(d1 * da, IntDot.toFloat(x.b3))
            da = SIMD16<Float>(repeating: ad[4 * nb + b]); c40.addProduct(d0 * da, IntDot.toFloat(x.a4)); c41.addProduct(d1 * da, IntDot.toFloat(x.b4))
            da = SIMD16<Float>(repeating: ad[5 * nb + b]); c50.addProduct(d0 * da, IntDot.toFloat(x.a5)); c51.addProduct(d1 * da, IntDot.toFloat(x.b5))
        }
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 128 * r, as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 128 * r + 64, as: SIMD16<Float>.self)
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }
}
