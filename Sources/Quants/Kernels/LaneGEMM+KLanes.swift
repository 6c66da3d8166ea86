import GGUF

// Q2_K and Q6_K products in the order of b10572's `ggml_vec_dot_q2_K_q8_K` / `_q6_K_q8_K` (x86
// AVX2; b10572 repacks neither on an AVX2 build). Eight lanes per output; lane L takes the
// elements at offsets 4L..<4L+4 of every 32-element chunk of a super-block, times their 16-element
// sub-block scale, and the output is the eight-lane tree. Activations: quantize_row_q8_K.
//
// - Q2_K: per super-block each lane first adds its minimum terms,
//   `acc_L = fma(−d_a·dmin_w, m_2L·s_2L + m_2L+1·s_2L+1, acc_L)` (m the 4-bit minimum and s the
//   activation quant sum of 16-element sub-block 2L or 2L+1), then its quants,
//   `acc_L = fma(d_a·d_w, Σ sc·q·q_a, acc_L)`.
// - Q6_K: the quants are taken unsigned (0…63) and the offset 32 is removed per lane from the
//   integer, `I_L = Σ sc·q·q_a − 32·(sc_2L·s_2L + sc_2L+1·s_2L+1)`, then
//   `acc_L = fma(d_a·d_w, f32(I_L), acc_L)` (b4748 subtracted 32 from every quant instead, which
//   spreads the same total differently over the lanes). The integer is assembled exactly from
//   parts below 2^24 and rounded once.

extension LaneGEMM {
    /// Lane `lane` of six activation rows of a group (`aq` at the row offset, 12 floats per
    /// column; `ad` their super-block scales, `nb` apart; `as16` their 16-element quant sums, `ns`
    /// apart) against one Q2_K (or with `q6` Q6_K) panel of 32 weight rows: `out[r·32 + j]` = that
    /// lane's chain. The panel's `wm` holds the Q2_K minimums or the Q6_K scales per 16 elements.
    @inline(__always)
    static func kLaneChains(_ aq: UnsafePointer<Float>, _ ad: UnsafePointer<Float>, _ as16: UnsafePointer<Float>,
                              nb: Int, ns: Int, _ wq: UnsafePointer<Float>, _ wd: UnsafePointer<Float>,
                              _ wdm: UnsafePointer<Float>, _ wm: UnsafePointer<Float>, lane: Int, q6: Bool,
                              _ out: UnsafeMutablePointer<Float>) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        @inline(__always) func v(_ p: UnsafePointer<Float>, _ h: Int) -> SIMD16<Float> {
            UnsafeRawPointer(p + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
        }
        for b in 0..<nb {
            // The minimum terms of sub-blocks 2L and 2L+1.
            let s0 = 16 * b + 2 * lane
            let ma0 = v(wm + s0 * nr, 0), ma1 = v(wm + s0 * nr, 1)
            let mb0 = v(wm + (s0 + 1) * nr, 0), mb1 = v(wm + (s0 + 1) * nr, 1)
            let dm0 = v(wdm + b * nr, 0), dm1 = v(wdm + b * nr, 1)
            @inline(__always) func mins(_ r: Int, _ x0: inout SIMD16<Float>, _ x1: inout SIMD16<Float>) {
                let sa = as16[r * ns + s0], sb = as16[r * ns + s0 + 1]
                let nda = SIMD16<Float>(repeating: -ad[r * nb + b])
                x0.addProduct(dm0 * nda, ma0 * sa + mb0 * sb)
                x1.addProduct(dm1 * nda, ma1 * sa + mb1 * sb)
            }
            if !q6 {
                mins(0, &c00, &c01); mins(1, &c10, &c11); mins(2, &c20, &c21)
                mins(3, &c30, &c31); mins(4, &c40, &c41); mins(5, &c50, &c51)
            }
            // The lane's quants: 4 columns of each of the 8 chunks.
            var p00 = SIMD16<Float>(), p01 = SIMD16<Float>(), p10 = SIMD16<Float>(), p11 = SIMD16<Float>()
            var p20 = SIMD16<Float>(), p21 = SIMD16<Float>(), p30 = SIMD16<Float>(), p31 = SIMD16<Float>()
            var p40 = SIMD16<Float>(), p41 = SIMD16<Float>(), p50 = SIMD16<Float>(), p51 = SIMD16<Float>()
            // Q6_K: the first four chunks' sums (exact), kept apart so that the lane integer can be
            // assembled exactly.
            var f00 = SIMD16<Float>(), f01 = SIMD16<Float>(), f10 = SIMD16<Float>(), f11 = SIMD16<Float>()
            var f20 = SIMD16<Float>(), f21 = SIMD16<Float>(), f30 = SIMD16<Float>(), f31 = SIMD16<Float>()
            var f40 = SIMD16<Float>(), f41 = SIMD16<Float>(), f50 = SIMD16<Float>(), f51 = SIMD16<Float>()
            for ch in 0..<8 {
                if q6 && ch == 4 {
                    f00 = p00; f01 = p01; f10 = p10; f11 = p11; f20 = p20; f21 = p21
                    f30 = p30; f31 = p31; f40 = p40; f41 = p41; f50 = p50; f51 = p51
                    p00 = .zero; p01 = .zero; p10 = .zero; p11 = .zero; p20 = .zero; p21 = .zero
                    p30 = .zero; p31 = .zero; p40 = .zero; p41 = .zero; p50 = .zero; p51 = .zero
                }
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
            if q6 {
                // I = first + second − 32·(sc_2L·s_2L + sc_2L+1·s_2L+1), in integers.
                @inline(__always) func assemble(_ r: Int, _ f0: SIMD16<Float>, _ f1: SIMD16<Float>,
                                            _ x0: inout SIMD16<Float>, _ x1: inout SIMD16<Float>) {
                    let sa = as16[r * ns + s0], sb = as16[r * ns + s0 + 1]
                    let o0 = (ma0 * sa + mb0 * sb) * 32, o1 = (ma1 * sa + mb1 * sb) * 32
                    x0 = exactSum(f0, x0, o0)
                    x1 = exactSum(f1, x1, o1)
                }
                assemble(0, f00, f01, &p00, &p01); assemble(1, f10, f11, &p10, &p11); assemble(2, f20, f21, &p20, &p21)
                assemble(3, f30, f31, &p30, &p31); assemble(4, f40, f41, &p40, &p41); assemble(5, f50, f51, &p50, &p51)
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

    /// `a + b − c` of integer-valued vectors (each below 2^24 in magnitude), rounded once to f32.
    @inline(__always)
    static func exactSum(_ a: SIMD16<Float>, _ b: SIMD16<Float>, _ c: SIMD16<Float>) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        for j in 0..<16 { r[j] = Float(Int32(a[j]) + Int32(b[j]) - Int32(c[j])) }
        return r
    }

    /// One group (12 rows) against one Q2_K / Q6_K panel, written to `c` (`rows × cols` valid).
    /// `lanes` is scratch for 8 × 12 × 32 floats. With `intPanel` and `intActs` (VNNI) the lanes run
    /// on integer dot products (LaneGEMM+KInt.swift).
    @inline(__always)
    static func kLanesTile(group g: Int, acts: UnsafePointer<Float>, groups: Int, k: Int, q6: Bool, panel: UnsafePointer<Float>,
                        lanes: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                        intPanel: UnsafePointer<Int32>? = nil, intActs: UnsafePointer<Int32>? = nil) {
        let nb = k / 256, ns = k / 16
        let aq = acts + g * mr * k
        let ad = acts + groups * mr * k + g * mr * nb
        let as16 = acts + groups * mr * (k + nb) + g * mr * ns
        let wq = panel, wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        for lane in 0..<8 {
            let o = lanes + lane * mr * nr
            if let ip = intPanel, let ia = intActs {
                let aqI = ia + g * mr * (k / 4), pairs = ia + groups * mr * (k / 4) + g * mr * (k / 32)
                kLaneIntChains(aqI, pairs, ad, as16, nb: nb, ns: ns, k: k, ip, wd, wdm, wm, lane: lane, q6: q6, o)
                if rows > 6 {
                    kLaneIntChains(aqI + 6, pairs + 6, ad + 6 * nb, as16 + 6 * ns, nb: nb, ns: ns, k: k, ip, wd, wdm, wm,
                                   lane: lane, q6: q6, o + 6 * nr)
                }
                continue
            }
            kLaneChains(aq, ad, as16, nb: nb, ns: ns, wq, wd, wdm, wm, lane: lane, q6: q6, o)
            if rows > 6 {
                kLaneChains(aq + 6, ad + 6 * nb, as16 + 6 * ns, nb: nb, ns: ns, wq, wd, wdm, wm, lane: lane, q6: q6, o + 6 * nr)
            }
        }
        let tileSize = mr * nr
        for i in 0..<rows {
            let l = UnsafeRawPointer(lanes + i * nr)
            let ci = c + i * ldc
            for h in 0..<2 {
                let sum = VectorMath.laneTree { l.loadUnaligned(fromByteOffset: 4 * ($0 * tileSize + 16 * h), as: SIMD16<Float>.self) }
                VectorMath.store(sum, ci + 16 * h, width: cols - 16 * h)
            }
        }
    }

    /// The scalar twin of the Q6_K product: the activation row quantized by `quantize_row_q8_K`,
    /// each weight block (`ql: [128], qh: [64], scales: [16] i8, d: f16`) read from its bytes.
    static func q6KOutputReference(_ blocks: UnsafeRawPointer, nb: Int, q8: [Int], d: [Float], bsums: [Int]) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        var v = [Int](repeating: 0, count: 256)
        for b in 0..<nb {
            let blk = blocks + 210 * b
            let dw = blk.loadHalf(at: 208)
            for h in 0..<2 {
                for l in 0..<32 {
                    let ql0 = Int(blk.byte(64 * h + l)), ql1 = Int(blk.byte(64 * h + l + 32)), qh = Int(blk.byte(128 + 32 * h + l))
                    v[128 * h + l] = (ql0 & 0xF) | ((qh & 3) << 4)
                    v[128 * h + l + 32] = (ql1 & 0xF) | (((qh >> 2) & 3) << 4)
                    v[128 * h + l + 64] = (ql0 >> 4) | (((qh >> 4) & 3) << 4)
                    v[128 * h + l + 96] = (ql1 >> 4) | (((qh >> 6) & 3) << 4)
                }
            }
            @inline(__always) func sc(_ s: Int) -> Int { Int(blk.load(fromByteOffset: 192 + s, as: Int8.self)) }
            for lane in 0..<8 {
                var sumi = 0
                for ch in 0..<8 {
                    for t in 0..<4 {
                        let e = 32 * ch + 4 * lane + t
                        sumi += sc(e / 16) * v[e] * q8[256 * b + e]
                    }
                }
                sumi -= 32 * (sc(2 * lane) * bsums[16 * b + 2 * lane] + sc(2 * lane + 1) * bsums[16 * b + 2 * lane + 1])
                acc[lane] = acc[lane].addingProduct(d[b] * dw, Float(sumi))
            }
        }
        return VectorMath.laneTree { acc[$0] }
    }

    /// The scalar twin of the Q2_K product: the activation row quantized by `quantize_row_q8_K`
    /// (`q8` quants, `d` scales, `bsums` 16-element sums), each weight block read from its bytes.
    static func q2KOutputReference(_ blocks: UnsafeRawPointer, nb: Int, q8: [Int], d: [Float], bsums: [Int]) -> Float {
        var acc = [Float](repeating: 0, count: 8)
        var v = [Int](repeating: 0, count: 256)
        for b in 0..<nb {
            let blk = blocks + 84 * b
            let dw = blk.loadHalf(at: 80), dmin = blk.loadHalf(at: 82)
            // Element 128h + 32j + l: bits 2j of byte 32h + l; sub-block 8h + 2j + l/16.
            for h in 0..<2 {
                for j in 0..<4 {
                    for l in 0..<32 { v[128 * h + 32 * j + l] = Int((blk.byte(16 + 32 * h + l) >> UInt8(2 * j)) & 3) }
                }
            }
            for lane in 0..<8 {
                let s0 = 2 * lane
                let prod = Int(blk.byte(s0) >> 4) * bsums[16 * b + s0] + Int(blk.byte(s0 + 1) >> 4) * bsums[16 * b + s0 + 1]
                acc[lane] = acc[lane].addingProduct(-d[b] * dmin, Float(prod))
                var sumi = 0
                for ch in 0..<8 {
                    for t in 0..<4 {
                        let e = 32 * ch + 4 * lane + t
                        sumi += Int(blk.byte(e / 16) & 0xF) * v[e] * q8[256 * b + e]
                    }
                }
                acc[lane] = acc[lane].addingProduct(d[b] * dw, Float(sumi))
            }
        }
        return VectorMath.laneTree { acc[$0] }
    }
}
