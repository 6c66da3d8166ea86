import GGUF

// The LaneGEMM kernels: the fused lane chains of one group of activation rows against one weight
// panel, and the lane tree plus minimum terms that finish each output.

extension LaneGEMM {
    // MARK: Kernel

    /// Lane `lane` of six activation rows (`aq` at the group's row offset, stride 12) against
    /// one panel of 32 weight rows: `out[r·32 + j]` = the fused chain of that lane over every block.
    /// `dd[(b·12 + r)·32 + j]` holds the scale products `f32(d_a)·f32(d_w)` (at the row offset).
    /// `chunks` is the number of 32-element chunks per block (1 for Q8_0-style blocks, 8 for
    /// super-blocks).
    @inline(__always)
    static func laneChains(_ aq: UnsafePointer<Float>, _ dd: UnsafePointer<Float>, _ wq: UnsafePointer<Float>,
                           blocks nb: Int, chunks: Int, lane: Int, lanesPerChain: Int = 1,
                           _ out: UnsafeMutablePointer<Float>) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        let bl = 32 * chunks
        for b in 0..<nb {
            var p00 = SIMD16<Float>(), p01 = SIMD16<Float>(), p10 = SIMD16<Float>(), p11 = SIMD16<Float>()
            var p20 = SIMD16<Float>(), p21 = SIMD16<Float>(), p30 = SIMD16<Float>(), p31 = SIMD16<Float>()
            var p40 = SIMD16<Float>(), p41 = SIMD16<Float>(), p50 = SIMD16<Float>(), p51 = SIMD16<Float>()
            for l in lane..<(lane + lanesPerChain) {
            var k0 = l * (nb * bl / 8) + b * 4 * chunks
            for _ in 0..<chunks {
                let w = UnsafeRawPointer(wq + k0 * nr)
                for t in 0..<4 {
                    let w0 = w.loadUnaligned(fromByteOffset: 128 * t, as: SIMD16<Float>.self)
                    let w1 = w.loadUnaligned(fromByteOffset: 128 * t + 64, as: SIMD16<Float>.self)
                    let at = aq + (k0 + t) * mr
                    var s = SIMD16<Float>(repeating: at[0]); p00.addProduct(s, w0); p01.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: at[1]); p10.addProduct(s, w0); p11.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: at[2]); p20.addProduct(s, w0); p21.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: at[3]); p30.addProduct(s, w0); p31.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: at[4]); p40.addProduct(s, w0); p41.addProduct(s, w1)
                    s = SIMD16<Float>(repeating: at[5]); p50.addProduct(s, w0); p51.addProduct(s, w1)
                }
                k0 += 4
            }
            }
            let d = UnsafeRawPointer(dd + b * mr * nr)
            @inline(__always) func dv(_ r: Int, _ h: Int) -> SIMD16<Float> {
                d.loadUnaligned(fromByteOffset: 128 * r + 64 * h, as: SIMD16<Float>.self)
            }
            c00.addProduct(dv(0, 0), p00); c01.addProduct(dv(0, 1), p01)
            c10.addProduct(dv(1, 0), p10); c11.addProduct(dv(1, 1), p11)
            c20.addProduct(dv(2, 0), p20); c21.addProduct(dv(2, 1), p21)
            c30.addProduct(dv(3, 0), p30); c31.addProduct(dv(3, 1), p31)
            c40.addProduct(dv(4, 0), p40); c41.addProduct(dv(4, 1), p41)
            c50.addProduct(dv(5, 0), p50); c51.addProduct(dv(5, 1), p51)
        }
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 128 * r, as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 128 * r + 64, as: SIMD16<Float>.self)
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }

    /// `laneChains` for 32-element blocks (one chunk per block): lane L's columns of successive
    /// blocks follow each other in the lane-ordered packing, so the pointers just advance.
    /// Runs blocks `first ..< first+count` of `nb`; with `resume` the chains continue from the
    /// values in `out` (the same bits as one uninterrupted chain). `dd` holds the scale products of
    /// those blocks only.
    @inline(__always)
    static func laneChainsQ0(_ aq: UnsafePointer<Float>, _ dd: UnsafePointer<Float>, _ wq: UnsafePointer<Float>,
                             blocks nb: Int, first: Int, count: Int, resume: Bool, lane: Int,
                             _ out: UnsafeMutablePointer<Float>) {
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func get(_ r: Int, _ h: Int) -> SIMD16<Float> {
            resume ? o.loadUnaligned(fromByteOffset: 128 * r + 64 * h, as: SIMD16<Float>.self) : SIMD16<Float>()
        }
        var c00 = get(0, 0), c01 = get(0, 1), c10 = get(1, 0), c11 = get(1, 1)
        var c20 = get(2, 0), c21 = get(2, 1), c30 = get(3, 0), c31 = get(3, 1)
        var c40 = get(4, 0), c41 = get(4, 1), c50 = get(5, 0), c51 = get(5, 1)
        var w = UnsafeRawPointer(wq + (lane * nb + first) * 4 * nr)
        var a = aq + (lane * nb + first) * 4 * mr
        var d = UnsafeRawPointer(dd)
        for _ in 0..<count {
            var w0 = w.loadUnaligned(as: SIMD16<Float>.self)
            var w1 = w.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            var s = SIMD16<Float>(repeating: a[0])
            var p00 = s * w0, p01 = s * w1
            s = SIMD16<Float>(repeating: a[1]); var p10 = s * w0, p11 = s * w1
            s = SIMD16<Float>(repeating: a[2]); var p20 = s * w0, p21 = s * w1
            s = SIMD16<Float>(repeating: a[3]); var p30 = s * w0, p31 = s * w1
            s = SIMD16<Float>(repeating: a[4]); var p40 = s * w0, p41 = s * w1
            s = SIMD16<Float>(repeating: a[5]); var p50 = s * w0, p51 = s * w1
            for t in 1..<4 {
                w0 = w.loadUnaligned(fromByteOffset: 128 * t, as: SIMD16<Float>.self)
                w1 = w.loadUnaligned(fromByteOffset: 128 * t + 64, as: SIMD16<Float>.self)
                let at = a + t * mr
                s = SIMD16<Float>(repeating: at[0]); p00.addProduct(s, w0); p01.addProduct(s, w1)
                s = SIMD16<Float>(repeating: at[1]); p10.addProduct(s, w0); p11.addProduct(s, w1)
                s = SIMD16<Float>(repeating: at[2]); p20.addProduct(s, w0); p21.addProduct(s, w1)
                s = SIMD16<Float>(repeating: at[3]); p30.addProduct(s, w0); p31.addProduct(s, w1)
                s = SIMD16<Float>(repeating: at[4]); p40.addProduct(s, w0); p41.addProduct(s, w1)
                s = SIMD16<Float>(repeating: at[5]); p50.addProduct(s, w0); p51.addProduct(s, w1)
            }
            @inline(__always) func dv(_ r: Int, _ h: Int) -> SIMD16<Float> {
                d.loadUnaligned(fromByteOffset: 128 * r + 64 * h, as: SIMD16<Float>.self)
            }
            c00.addProduct(dv(0, 0), p00); c01.addProduct(dv(0, 1), p01)
            c10.addProduct(dv(1, 0), p10); c11.addProduct(dv(1, 1), p11)
            c20.addProduct(dv(2, 0), p20); c21.addProduct(dv(2, 1), p21)
            c30.addProduct(dv(3, 0), p30); c31.addProduct(dv(3, 1), p31)
            c40.addProduct(dv(4, 0), p40); c41.addProduct(dv(4, 1), p41)
            c50.addProduct(dv(5, 0), p50); c51.addProduct(dv(5, 1), p51)
            w += 4 * nr * 4
            a += 4 * mr
            d += mr * nr * 4
        }
        @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 128 * r, as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 128 * r + 64, as: SIMD16<Float>.self)
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }

    /// One group (12 rows) against one panel (32 weight rows), written to `c` (rows `ldc` apart,
    /// `rows × cols` valid). `lanes` is scratch for 8 × 12 × 32 + nb × 12 × 32 floats.
    @inline(__always)
    static func tile(group g: Int, acts: UnsafePointer<Float>, groups: Int, k: Int, layout lay: Layout, single: Bool,
                     panel: UnsafePointer<Float>, lanes: UnsafeMutablePointer<Float>,
                     _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int,
                     intPanel: UnsafeRawPointer? = nil, intActs: UnsafePointer<Int32>? = nil) {
        let nb = k / lay.block
        let aq = acts + g * mr * k
        let ad = acts + groups * mr * k + g * mr * nb
        let asums = acts + groups * mr * (k + nb) + g * mr * (k / 32)
        let wq = panel, wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        // Scale products `f32(d_a)·f32(d_w)` of every (row, block), once for the eight lanes:
        // `dd[((b − first)·12 + i)·32 + j]` for the blocks `b` of the range.
        let dd = lanes + 8 * mr * nr
        @inline(__always) func scaleProducts(blocks: Range<Int>) {
            // Written in order, 32 floats per (block, row); pointers stepped (no index arithmetic).
            var o = UnsafeMutableRawPointer(dd)
            var w = UnsafeRawPointer(wd + blocks.lowerBound * nr)
            for b in blocks {
                let dw0 = w.loadUnaligned(as: SIMD16<Float>.self)
                let dw1 = w.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                var a = ad + b
                for _ in 0..<mr {
                    let da = SIMD16<Float>(repeating: a.pointee)
                    o.storeBytes(of: da * dw0, as: SIMD16<Float>.self)
                    o.storeBytes(of: da * dw1, toByteOffset: 64, as: SIMD16<Float>.self)
                    o += 128
                    a += nb
                }
                w += 4 * nr
            }
        }
        let chunks = lay.block / 32
        if chunks == 1 && !single {
            // Eight blocks at a time, so that their scale products stay in L1 beside the lane slices.
            var b0 = 0
            while b0 < nb {
                let count = Swift.min(8, nb - b0)
                scaleProducts(blocks: b0..<(b0 + count))
                if let wi = intPanel, let ia = intActs {
                    // The integer kernel (LaneGEMM+Int8.swift): the same chains, the same bits.
                    let quads = k / 4
                    let aqI = ia + g * intGroupCount(columns: k), start = aqI + mr * quads
                    for lane in 0..<8 {
                        let o = lanes + lane * mr * nr
                        laneChainsInt8(aqI, start, dd, wi, blocks: nb, first: b0, count: count, resume: b0 > 0, lane: lane, o)
                        laneChainsInt8(aqI + 6, start + 6, dd + 6 * nr, wi, blocks: nb, first: b0, count: count, resume: b0 > 0,
                                       lane: lane, o + 6 * nr)
                    }
                    b0 += count
                    continue
                }
                for lane in 0..<8 {
                    let o = lanes + lane * mr * nr
                    laneChainsQ0(aq, dd, wq, blocks: nb, first: b0, count: count, resume: b0 > 0, lane: lane, o)
                    laneChainsQ0(aq + 6, dd + 6 * nr, wq, blocks: nb, first: b0, count: count, resume: b0 > 0, lane: lane,
                                 o + 6 * nr)
                }
                b0 += count
            }
        } else {
        scaleProducts(blocks: 0..<nb)
        if single, let wi = intPanel, let ia = intActs {
            // One chain per output on integer dot products (LaneGEMM+Int8.swift).
            let aqI = ia + g * intGroupCount(columns: k), blockStart = aqI + 2 * mr * (k / 4)
            singleChainsInt8(aqI, blockStart, dd, wi, blocks: nb, lanes)
            singleChainsInt8(aqI + 6, blockStart + 6, dd + 6 * nr, wi, blocks: nb, lanes + 6 * nr)
        } else if single {
            // One chain per output: the whole block's integer dot product per step.
            laneChains(aq, dd, wq, blocks: nb, chunks: 1, lane: 0, lanesPerChain: 8, lanes)
            laneChains(aq + 6, dd + 6 * nr, wq, blocks: nb, chunks: 1, lane: 0, lanesPerChain: 8, lanes + 6 * nr)
        } else {
        for lane in 0..<8 {
            let o = lanes + lane * mr * nr
            laneChains(aq, dd, wq, blocks: nb, chunks: chunks, lane: lane, o)
            laneChains(aq + 6, dd + 6 * nr, wq, blocks: nb, chunks: chunks, lane: lane, o + 6 * nr)
        }
        }
        }
        let tileSize = mr * nr
        for i in 0..<rows {
            let l = UnsafeRawPointer(lanes + i * nr)
            let ci = c + i * ldc
            for h in 0..<2 {
                @inline(__always) func lv(_ n: Int) -> SIMD16<Float> {
                    l.loadUnaligned(fromByteOffset: 4 * (n * tileSize + 16 * h), as: SIMD16<Float>.self)
                }
                var sum = single ? lv(0) : VectorMath.laneTree(lv)
                switch lay.mins {
                case .none:
                    break
                case .perBlock:
                    var sm = SIMD16<Float>()
                    for b in 0..<nb {
                        let mw = UnsafeRawPointer(wdm + b * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                        sm.addProduct(mw, SIMD16<Float>(repeating: asums[i * (k / 32) + b]))
                    }
                    sum = sum + sm
                case .summed:
                    var sm = SIMD16<Float>()
                    for b in 0..<nb {
                        let dmin = SIMD16<Float>(repeating: -ad[i * nb + b])
                            * UnsafeRawPointer(wdm + b * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                        var total = SIMD16<Float>()
                        for sb in (8 * b)..<(8 * b + 8) {
                            total += UnsafeRawPointer(wm + sb * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                                * asums[i * (k / 32) + sb]
                        }
                        sm.addProduct(dmin, total)
                    }
                    sum = sum + sm
                case .fourLanes:
                    // Four minimum lanes: sub-blocks 2j and 2j+1 of every super-block.
                    var m0 = SIMD16<Float>(), m1 = SIMD16<Float>(), m2 = SIMD16<Float>(), m3 = SIMD16<Float>()
                    for b in 0..<nb {
                        let dmin = SIMD16<Float>(repeating: -ad[i * nb + b])
                            * UnsafeRawPointer(wdm + b * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                        @inline(__always) func prod(_ j: Int) -> SIMD16<Float> {
                            let s0 = 8 * b + 2 * j
                            let w0 = UnsafeRawPointer(wm + s0 * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                            let w1 = UnsafeRawPointer(wm + (s0 + 1) * nr + 16 * h).loadUnaligned(as: SIMD16<Float>.self)
                            return w0 * asums[i * (k / 32) + s0] + w1 * asums[i * (k / 32) + s0 + 1]
                        }
                        m0.addProduct(dmin, prod(0))
                        m1.addProduct(dmin, prod(1))
                        m2.addProduct(dmin, prod(2))
                        m3.addProduct(dmin, prod(3))
                    }
                    sum = sum + ((m0 + m2) + (m1 + m3))
                }
                VectorMath.store(sum, ci + 16 * h, width: cols - 16 * h)
            }
        }
    }
}
