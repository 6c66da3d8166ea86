import GGUF

// Products with the 1- and 2-bit Q8_0-paired types in the order of b10572's x86 AVX2 build. Both
// take Q8_0 activations (`quantize_row_q8_0`); ggml repacks neither, so every row count takes the
// vec_dot:
//
// - Q1_0 (`ggml_vec_dot_q1_0_q8_0`, arch/x86/quants.c, AVX2 branch): a 128-weight block meets four
//   Q8_0 blocks. For activation block K and lane L (0..<8) the integer `I_KL = Σ_{t<4} ±q_a[32K+4L+t]`
//   (+ where the weight bit is set); then per lane `blk_L = d_a0·f32(I_0L)` and
//   `blk_L = fma(d_aK, f32(I_KL), blk_L)` for K = 1, 2, 3; `acc_L = fma(d_w, blk_L, acc_L)` block
//   after block, and the output is the eight-lane tree (`hsum_float_8`).
// - Q2_0: x86 has no kernel of its own and takes `ggml_vec_dot_q2_0_q8_0_generic` (quants.c), a
//   64-weight block meeting two Q8_0 blocks: `I_K = Σ_{32} (q_w − 1)·q_a`,
//   `sumi = fma(f32(I_K), d_aK, sumi)` from `sumi = 0`, then `sumf = fma(sumi, d_w, sumf)` block after
//   block (GCC -O3 contracts the C's multiply-adds; the disassembly of the oracle shows the two
//   `vfmadd231ss`). One chain, no lanes.
//
// - NVFP4 (`ggml_vec_dot_nvfp4_q8_0`, AVX2 branch): a 64-weight block meets two Q8_0 blocks; for
//   activation block c, lanes 0–3 cover its first 16 elements (weight sub-block 2c) and lanes 4–7 the
//   other 16 (sub-block 2c+1). `I_cL = Σ_{t<4} v[q_w]·q_a` (v the doubled fp4 values, −12…12) and
//   `acc_L = fma(s, f32(I_cL), acc_L)` with `s = ue4m3(d_sub)·d_ac` (one rounded product), chunk after
//   chunk, as tinyBLAS does for Q8_0 but with the scale of the lane's half; the output is the lane tree.
//
// Every integer part is below 2^24, so it is computed exactly in f32 in whatever order. Weights and
// activations are packed as for the other Q8_0-paired types (`packPanel`, `packActivations`, lane
// order), so activations quantized for Q4_0/Q5_0/Q8_0 weights are reused. A tile is four
// activation rows against a 32-row panel (two 16-wide halves): 24 vector accumulators.

extension LaneGEMM {
    /// A type whose product follows one of the orders above (`Layout.bits`).
    enum BitLanes: Sendable, Equatable {
        case q1_0, q2_0, nvfp4

        /// Q8_0 blocks (32 weights) per weight block.
        var chunks: Int { self == .q1_0 ? 4 : 2 }
    }

    /// `linear` for weights with a bit order (`layout(w.type)?.bits` not nil); same contract.
    static func linearBits(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix, order: BitLanes,
                           into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, workspace ws: LaneWorkspace,
                           reuseActivations: Bool) {
        let k = w.columns
        let block = 32 * order.chunks
        precondition(k % block == 0, "a \(w.type) row of \(k) is not whole blocks")
        let groups = (m + mr - 1) / mr
        let nb32 = k / 32
        ws.acts.reserve(groups * mr * (k + 2 * nb32))
        // The packing of Q8_0 weights (same key, so either reuses the other's activations).
        let key = (pointer: UnsafeRawPointer(a), lda: lda, rows: m, columns: k, block: 32, sums: false)
        if !ws.holdsQuants(key, reuse: reuseActivations) {
            packActivations(a, lda: lda, rows: m, columns: k, weight: .q8_0, into: ws.acts.pointer, threads: threads)
            ws.packedQuants(key)
        }
        let panels = (w.rows + nr - 1) / nr
        let perTask = panels >= 16 * panelsPerTask ? panelsPerTask : 1
        let tasks = (panels + perTask - 1) / perTask
        let chunks = Swift.min(tasks, Swift.max(1, threads) * 4)
        let pf = panelFloats(w)
        let tile = 4 * nr
        let stride = perTask * pf + k + 256 + 8 * tile
        ws.chunk.reserve(chunks * stride)
        nonisolated(unsafe) let cp = c
        nonisolated(unsafe) let acts = UnsafePointer(ws.acts.pointer)
        nonisolated(unsafe) let scratchBase = ws.chunk.pointer
        let weights = w
        let rows12 = groups * mr
        parallelFor(chunks: chunks, threads: threads) { ch in
            let base = scratchBase + ch * stride
            let rowScratch = base + perTask * pf
            let lanes = rowScratch + k + 256
            for task in (tasks * ch / chunks)..<(tasks * (ch + 1) / chunks) {
                let p0 = task * perTask, p1 = Swift.min(panels, p0 + perTask)
                for p in p0..<p1 {
                    if order == .nvfp4 {
                        packNVFP4Panel(weights, row0: p * nr, panel: base + (p - p0) * pf)
                    } else {
                        packPanel(weights, row0: p * nr, panel: base + (p - p0) * pf, row: rowScratch)
                    }
                }
                for g in 0..<groups {
                    for p in p0..<p1 {
                        let cols = Swift.min(nr, weights.rows - p * nr)
                        var r0 = 0
                        while r0 < Swift.min(mr, m - g * mr) {
                            let rows = Swift.min(4, m - g * mr - r0)
                            let aq = acts + g * mr * k + r0
                            let ad = acts + rows12 * k + (g * mr + r0) * nb32
                            bitsTile(order, aq, ad, k: k, panel: base + (p - p0) * pf, lanes: lanes,
                                     cp + (g * mr + r0) * ldc + p * nr, ldc: ldc, rows: rows, cols: cols)
                            r0 += 4
                        }
                    }
                }
            }
        }
    }

    /// Four activation rows (`aq`: quants at the row offset within their group, 12 floats per
    /// packed column; `ad`: their Q8_0 scales, `k/32` per row) against one panel, written to `c`
    /// (`rows × cols` valid; rows past `rows` are read but not written). `lanes`: 8 × 4 × 32 floats.
    static func bitsTile(_ order: BitLanes, _ aq: UnsafePointer<Float>, _ ad: UnsafePointer<Float>, k: Int,
                         panel: UnsafePointer<Float>, lanes: UnsafeMutablePointer<Float>,
                         _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
        let nb32 = k / 32, lk = k / 8
        let nb = nb32 / order.chunks
        let wq = panel, wd = panel + k * nr
        @inline(__always) func v(_ p: UnsafePointer<Float>, _ h: Int) -> SIMD16<Float> {
            UnsafeRawPointer(p + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
        }
        @inline(__always) func s(_ x: Float) -> SIMD16<Float> { SIMD16(repeating: x) }
        /// Σ_{t<4} a·w over the four packed columns from `pos` (lane order), for the four rows.
        @inline(__always)
        func quad(_ pos: Int, _ q00: inout SIMD16<Float>, _ q01: inout SIMD16<Float>, _ q10: inout SIMD16<Float>,
                  _ q11: inout SIMD16<Float>, _ q20: inout SIMD16<Float>, _ q21: inout SIMD16<Float>,
                  _ q30: inout SIMD16<Float>, _ q31: inout SIMD16<Float>) {
            for t in 0..<4 {
                let w0 = v(wq + (pos + t) * nr, 0), w1 = v(wq + (pos + t) * nr, 1)
                let at = aq + (pos + t) * mr
                var x = s(at[0]); q00.addProduct(x, w0); q01.addProduct(x, w1)
                x = s(at[1]); q10.addProduct(x, w0); q11.addProduct(x, w1)
                x = s(at[2]); q20.addProduct(x, w0); q21.addProduct(x, w1)
                x = s(at[3]); q30.addProduct(x, w0); q31.addProduct(x, w1)
            }
        }
        let o = UnsafeMutableRawPointer(lanes)
        @inline(__always) func put(_ slot: Int, _ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 4 * (slot * 4 * nr + r * nr), as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 4 * (slot * 4 * nr + r * nr) + 64, as: SIMD16<Float>.self)
        }
        /// Each row's output: the eight-lane tree of its lane slots, for both halves of the panel.
        @inline(__always) func storeLaneTrees() {
            for i in 0..<rows {
                let l = UnsafeRawPointer(lanes + i * nr)
                for h in 0..<2 {
                    let sum = VectorMath.laneTree { l.loadUnaligned(fromByteOffset: 4 * ($0 * 4 * nr + 16 * h), as: SIMD16<Float>.self) }
                    VectorMath.store(sum, c + i * ldc + 16 * h, width: cols - 16 * h)
                }
            }
        }
        switch order {
        case .q1_0:
            for lane in 0..<8 {
                var c00 = SIMD16<Float>(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00
                for b in 0..<nb {
                    var b00 = SIMD16<Float>(), b01 = b00, b10 = b00, b11 = b00, b20 = b00, b21 = b00, b30 = b00, b31 = b00
                    for kq in 0..<4 {
                        let chunk = 4 * b + kq
                        var q00 = SIMD16<Float>(), q01 = q00, q10 = q00, q11 = q00, q20 = q00, q21 = q00, q30 = q00, q31 = q00
                        quad(lane * lk + 4 * chunk, &q00, &q01, &q10, &q11, &q20, &q21, &q30, &q31)
                        let d0 = s(ad[chunk]), d1 = s(ad[nb32 + chunk]), d2 = s(ad[2 * nb32 + chunk]), d3 = s(ad[3 * nb32 + chunk])
                        if kq == 0 {
                            b00 = d0 * q00; b01 = d0 * q01; b10 = d1 * q10; b11 = d1 * q11
                            b20 = d2 * q20; b21 = d2 * q21; b30 = d3 * q30; b31 = d3 * q31
                        } else {
                            b00.addProduct(d0, q00); b01.addProduct(d0, q01); b10.addProduct(d1, q10); b11.addProduct(d1, q11)
                            b20.addProduct(d2, q20); b21.addProduct(d2, q21); b30.addProduct(d3, q30); b31.addProduct(d3, q31)
                        }
                    }
                    let w0 = v(wd + b * nr, 0), w1 = v(wd + b * nr, 1)
                    c00.addProduct(w0, b00); c01.addProduct(w1, b01); c10.addProduct(w0, b10); c11.addProduct(w1, b11)
                    c20.addProduct(w0, b20); c21.addProduct(w1, b21); c30.addProduct(w0, b30); c31.addProduct(w1, b31)
                }
                put(lane, 0, c00, c01); put(lane, 1, c10, c11); put(lane, 2, c20, c21); put(lane, 3, c30, c31)
            }
            storeLaneTrees()
        case .nvfp4:
            let ws = wd  // sub-block scales, `ws[s·32 + j]` for 16-element sub-block s
            for lane in 0..<8 {
                var c00 = SIMD16<Float>(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00
                for chunk in 0..<nb32 {
                    var q00 = SIMD16<Float>(), q01 = q00, q10 = q00, q11 = q00, q20 = q00, q21 = q00, q30 = q00, q31 = q00
                    quad(lane * lk + 4 * chunk, &q00, &q01, &q10, &q11, &q20, &q21, &q30, &q31)
                    let sw = ws + (2 * chunk + lane / 4) * nr
                    let w0 = v(sw, 0), w1 = v(sw, 1)
                    var d = s(ad[chunk]); c00.addProduct(w0 * d, q00); c01.addProduct(w1 * d, q01)
                    d = s(ad[nb32 + chunk]); c10.addProduct(w0 * d, q10); c11.addProduct(w1 * d, q11)
                    d = s(ad[2 * nb32 + chunk]); c20.addProduct(w0 * d, q20); c21.addProduct(w1 * d, q21)
                    d = s(ad[3 * nb32 + chunk]); c30.addProduct(w0 * d, q30); c31.addProduct(w1 * d, q31)
                }
                put(lane, 0, c00, c01); put(lane, 1, c10, c11); put(lane, 2, c20, c21); put(lane, 3, c30, c31)
            }
            storeLaneTrees()
        case .q2_0:
            var f00 = SIMD16<Float>(), f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00, f30 = f00, f31 = f00
            for b in 0..<nb {
                var s00 = SIMD16<Float>(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00
                for kq in 0..<2 {
                    let chunk = 2 * b + kq
                    var q00 = SIMD16<Float>(), q01 = q00, q10 = q00, q11 = q00, q20 = q00, q21 = q00, q30 = q00, q31 = q00
                    for lane in 0..<8 { quad(lane * lk + 4 * chunk, &q00, &q01, &q10, &q11, &q20, &q21, &q30, &q31) }
                    let d0 = s(ad[chunk]), d1 = s(ad[nb32 + chunk]), d2 = s(ad[2 * nb32 + chunk]), d3 = s(ad[3 * nb32 + chunk])
                    s00.addProduct(q00, d0); s01.addProduct(q01, d0); s10.addProduct(q10, d1); s11.addProduct(q11, d1)
                    s20.addProduct(q20, d2); s21.addProduct(q21, d2); s30.addProduct(q30, d3); s31.addProduct(q31, d3)
                }
                let w0 = v(wd + b * nr, 0), w1 = v(wd + b * nr, 1)
                f00.addProduct(s00, w0); f01.addProduct(s01, w1); f10.addProduct(s10, w0); f11.addProduct(s11, w1)
                f20.addProduct(s20, w0); f21.addProduct(s21, w1); f30.addProduct(s30, w0); f31.addProduct(s31, w1)
            }
            put(0, 0, f00, f01); put(0, 1, f10, f11); put(0, 2, f20, f21); put(0, 3, f30, f31)
            for i in 0..<rows {
                let l = UnsafeRawPointer(lanes + i * nr)
                for h in 0..<2 {
                    VectorMath.store(l.loadUnaligned(fromByteOffset: 64 * h, as: SIMD16<Float>.self), c + i * ldc + 16 * h,
                                     width: cols - 16 * h)
                }
            }
        }
    }

    /// Decodes NVFP4 weight rows `row0 ..< row0+32` into a panel: the doubled fp4 values
    /// `wq[lanePosition(kk)·32 + j]` and the sub-block scales `ws[s·32 + j]` (ue4m3, halved as
    /// ggml's `GGML_CPU_UE4M3_TO_FP32`). Rows past the end are zero.
    static func packNVFP4Panel(_ w: WeightMatrix, row0: Int, panel: UnsafeMutablePointer<Float>) {
        let k = w.columns, wq = panel, ws = panel + k * nr
        for j in 0..<nr {
            let r = row0 + j
            if r >= w.rows {
                for kk in 0..<k { wq[kk * nr + j] = 0 }
                for sb in 0..<(k / 16) { ws[sb * nr + j] = 0 }
                continue
            }
            let src = w.data + r * w.rowBytes
            for b in 0..<(k / 64) {
                let blk = src + 36 * b
                for sb in 0..<4 {
                    ws[(4 * b + sb) * nr + j] = ue4m3ToFloat(blk.load(fromByteOffset: sb, as: UInt8.self))
                    for e in 0..<8 {
                        let q = blk.load(fromByteOffset: 4 + 8 * sb + e, as: UInt8.self)
                        let kk = 64 * b + 16 * sb + e
                        wq[lanePosition(kk, k) * nr + j] = Float(fp4Values[Int(q & 0x0F)])
                        wq[lanePosition(kk + 8, k) * nr + j] = Float(fp4Values[Int(q >> 4)])
                    }
                }
            }
        }
    }

    /// The first `width` (at most 16) lanes of `v` to `p`.
    @inline(__always)

    // MARK: Scalar twin

    /// The scalar twin of `linearBits`: each activation row quantized to Q8_0 block bytes
    /// (`ActivationRounding.quantizeQ8_0Reference`), each weight block read bit by bit from its
    /// bytes, one output at a time with integer sums and ggml's float steps written out.
    static func linearBitsReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix, order: BitLanes,
                                    into c: UnsafeMutablePointer<Float>, ldc: Int) {
        let k = w.columns, nb32 = k / 32, nb = nb32 / order.chunks
        let aBytes = UnsafeMutableRawPointer.allocate(byteCount: nb32 * 34, alignment: 16)
        defer { aBytes.deallocate() }
        var q8 = [Int](repeating: 0, count: k), da = [Float](repeating: 0, count: nb32)
        for r in 0..<m {
            ActivationRounding.quantizeQ8_0Reference(a + r * lda, aBytes, count: k)
            for b in 0..<nb32 {
                da[b] = FP16.toFloat(aBytes.loadUnaligned(fromByteOffset: 34 * b, as: UInt16.self))
                for j in 0..<32 { q8[32 * b + j] = Int(aBytes.load(fromByteOffset: 34 * b + 2 + j, as: Int8.self)) }
            }
            for n in 0..<w.rows {
                let row = w.data + n * w.rowBytes
                switch order {
                case .q1_0:
                    var acc = [Float](repeating: 0, count: 8)
                    for b in 0..<nb {
                        let blk = row + 18 * b
                        let dw = FP16.toFloat(blk.loadUnaligned(as: UInt16.self))
                        var part = [Float](repeating: 0, count: 8)
                        for kq in 0..<4 {
                            for lane in 0..<8 {
                                var sumi = 0
                                for t in 0..<4 {
                                    let e = 32 * kq + 4 * lane + t
                                    let set = (blk.load(fromByteOffset: 2 + e / 8, as: UInt8.self) >> UInt8(e % 8)) & 1 == 1
                                    sumi += set ? q8[128 * b + e] : -q8[128 * b + e]
                                }
                                let d = da[4 * b + kq]
                                part[lane] = kq == 0 ? d * Float(sumi) : part[lane].addingProduct(d, Float(sumi))
                            }
                        }
                        for lane in 0..<8 { acc[lane] = acc[lane].addingProduct(dw, part[lane]) }
                    }
                    c[r * ldc + n] = VectorMath.laneTree { acc[$0] }
                case .nvfp4:
                    var acc = [Float](repeating: 0, count: 8)
                    for chunk in 0..<nb32 {
                        let blk = row + 36 * (chunk / 2)
                        for lane in 0..<8 {
                            let sb = 2 * (chunk % 2) + lane / 4
                            var sumi = 0
                            for t in 0..<4 {
                                let es = (4 * lane + t) % 16  // element within sub-block sb
                                let byte = blk.load(fromByteOffset: 4 + 8 * sb + es % 8, as: UInt8.self)
                                let q = es < 8 ? byte & 0x0F : byte >> 4
                                sumi += Int(fp4Values[Int(q)]) * q8[32 * chunk + 4 * lane + t]
                            }
                            let scale = ue4m3ToFloat(blk.load(fromByteOffset: sb, as: UInt8.self)) * da[chunk]
                            acc[lane] = acc[lane].addingProduct(scale, Float(sumi))
                        }
                    }
                    c[r * ldc + n] = VectorMath.laneTree { acc[$0] }
                case .q2_0:
                    var sumf: Float = 0
                    for b in 0..<nb {
                        let blk = row + 18 * b
                        let dw = FP16.toFloat(blk.loadUnaligned(as: UInt16.self))
                        var sumi: Float = 0
                        for kq in 0..<2 {
                            var isum = 0
                            for j in 0..<32 {
                                let e = 32 * kq + j
                                let q = Int((blk.load(fromByteOffset: 2 + e / 4, as: UInt8.self) >> UInt8(2 * (e % 4))) & 3)
                                isum += (q - 1) * q8[64 * b + e]
                            }
                            sumi = sumi.addingProduct(Float(isum), da[2 * b + kq])
                        }
                        sumf = sumf.addingProduct(sumi, dw)
                    }
                    c[r * ldc + n] = sumf
                }
            }
        }
    }
}
