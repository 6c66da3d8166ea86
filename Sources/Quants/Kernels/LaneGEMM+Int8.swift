import GGUF
import IntDot

// The integer form of the 32-element-block kernels (Q8_0, Q4_0, Q5_0 with Q8_0 activations; Q4_1,
// Q5_1 with Q8_1; and the one-chain-per-output form of repacked Q4_0), taken where `IntDot.vnni`
// (AVX-512 VNNI, native build).
//
// Lane L's part of one block, Σ_{t<4} q_w[32b+4L+t]·q_a[32b+4L+t], is one `vpdpbusd` lane: the
// four weight quants of a weight row are four bytes of an int32, the four activation quants four
// bytes of a broadcast int32. The instruction takes unsigned × signed bytes, so the weights are
// stored as q_w + 128 (0…255 for every int8 value) and the accumulator starts at
// `M − 128·Σ_t q_a`, with M = 0x4B40_0000 (the bits of 1.5·2^23): the lane ends at M + Σ q_w·q_a,
// whose bits as a float are 12582912 + Σ q_w·q_a exactly (|Σ| ≤ 4·128·128 < 2^22), so one float
// subtraction gives the exact integer sum as a float. From there the float chain is the float
// kernel's, `acc = fma(f32(d_a)·f32(d_w), sum, acc)` block after block, so the results are the same
// bits (a sum of zero is +0 here where the float kernel may have −0; the chain cannot tell:
// acc + d·(±0) is acc, and acc is never −0).

extension LaneGEMM {
    /// The bits of 1.5·2^23, an int32 offset that makes the accumulated integer readable as a float.
    static let magicBits: Int32 = 0x4B40_0000
    /// 1.5·2^23 as a float.
    static let magicFloat: Float = 12582912

    /// Whether `linear` runs blocks of this layout on integer dot products.
    static func integerKernel(_ lay: Layout, single: Bool) -> Bool {
        IntDot.vnni && lay.block == 32
    }

    /// Bytes of the integer copy of one panel: `k · 32`.
    static func intPanelBytes(columns k: Int) -> Int { k * nr }

    /// Int32s of the integer activations of one group: quads, their starting values, and the
    /// starting values of whole blocks.
    static func intGroupCount(columns k: Int) -> Int { mr * ((k / 4) * 2 + k / 32) }

    /// Int32s of the integer activations of `groups` groups.
    static func intActivationCount(groups: Int, columns k: Int) -> Int { groups * intGroupCount(columns: k) }

    /// The integer copy of a decoded panel (`packPanel`'s `wq[lanePosition(kk)·32 + j]`): for quad
    /// q = L·nb + b (lane L of block b) and weight row j, the int32 at byte `(q·32 + j)·4` holds the
    /// bytes q_w + 128 of columns 32b + 4L + t, t = 0…3. The products pack with
    /// `packIntPanelDirect`; this two-step form is its reference (`IntegerKernelTests`).
    static func packIntPanel(_ panel: UnsafePointer<Float>, columns k: Int, into ip: UnsafeMutableRawPointer) {
        let out = ip.assumingMemoryBound(to: UInt8.self)
        for q in 0..<(k / 4) {
            for t in 0..<4 {
                let src = panel + (4 * q + t) * nr
                for j in 0..<nr {
                    out[(q * nr + j) * 4 + t] = UInt8(truncatingIfNeeded: Int32(src[j]) &+ 128)
                }
            }
        }
    }

    /// How a 32-element block's integer values sit in its bytes, for `packIntPanelDirect` (each
    /// block family declares it in its `lanes` layout).
    enum IntQuads: Sendable, Equatable {
        /// One signed byte per value from byte `qs` on (Q8_0).
        case bytes(qs: Int)
        /// Nibbles from byte `qs` on, low nibbles elements 0–15 and high nibbles 16–31, minus
        /// `offset` (Q4_0: 8; Q4_1: 0, its minimum kept apart).
        case nibbles(qs: Int, offset: UInt32)
        /// As `nibbles`, plus bit j of the little-endian u32 at byte `qh` as bit 4 of element j
        /// (Q5_0: offset 16; Q5_1: 0).
        case fiveBits(qh: Int, qs: Int, offset: UInt32)
    }

    /// The eight words of one block's integer panel: word L holds the bytes q + 128 of elements
    /// 4L ..< 4L+4 (q the block's integer values as the dequantizer with unit scale gives them).
    @inline(__always)
    static func biasedQuads(_ blk: UnsafeRawPointer, _ form: IntQuads, _ out: UnsafeMutablePointer<UInt32>) {
        @inline(__always) func word(_ at: Int) -> UInt32 { UInt32(littleEndian: blk.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        // Bit t of x (t < 4) to bit 8t + 4: the fifth bits of four elements.
        @inline(__always) func spread(_ x: UInt32) -> UInt32 {
            ((x & 1) << 4) | ((x & 2) << 11) | ((x & 4) << 18) | ((x & 8) << 25)
        }
        switch form {
        case .bytes(let qs):
            for lane in 0..<8 { out[lane] = word(qs + 4 * lane) ^ 0x8080_8080 }
        case .nibbles(let qs, let offset):
            let bias = (128 - offset) &* 0x0101_0101
            for lane in 0..<4 {
                let v = word(qs + 4 * lane)
                out[lane] = (v & 0x0F0F_0F0F) &+ bias
                out[lane + 4] = ((v >> 4) & 0x0F0F_0F0F) &+ bias
            }
        case .fiveBits(let qhAt, let qs, let offset):
            let bias = (128 - offset) &* 0x0101_0101
            let qh = word(qhAt)
            for lane in 0..<4 {
                let v = word(qs + 4 * lane)
                out[lane] = ((v & 0x0F0F_0F0F) | spread((qh >> UInt32(4 * lane)) & 0xF)) &+ bias
                out[lane + 4] = (((v >> 4) & 0x0F0F_0F0F) | spread((qh >> UInt32(16 + 4 * lane)) & 0xF)) &+ bias
            }
        }
    }

    /// `packPanel` followed by `packIntPanel`, straight from the weight bytes, for the integer kernel
    /// (which reads no float quants): fills the panel's block scales `wd` (and for Q4_1/Q5_1 the
    /// minimum scales `wdm`) and the integer copy `ip`, the same bytes as the two-step path. Types
    /// that declare their `IntQuads` are read from their bytes; others are decoded a block at a time
    /// with unit scale. `row` is scratch for 32 floats and one block's bytes.
    static func packIntPanelDirect(_ w: WeightMatrix, row0: Int, panel: UnsafeMutablePointer<Float>,
                                   into ip: UnsafeMutableRawPointer, row: UnsafeMutablePointer<Float>) {
        let k = w.columns
        let lay = layout(w.type)!
        let format = BlockFormats.format(w.type)!
        let nb = k / 32, ts = w.type.typeSize
        let wd = panel + k * nr, wdm = wd + nb * nr
        let out = ip.assumingMemoryBound(to: UInt32.self)
        let tmp = UnsafeMutableRawPointer(row + 32)
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 8) { wb in
        let words = wb.baseAddress!
        for j in 0..<nr {
            let r = row0 + j
            if r >= w.rows {
                for b in 0..<nb { wd[b * nr + j] = 0; wdm[b * nr + j] = 0 }
                for q in 0..<(k / 4) { out[q * nr + j] = 0x8080_8080 }
                continue
            }
            let src = w.data + r * w.rowBytes
            for b in 0..<nb {
                let blk = src + b * ts
                wd[b * nr + j] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: lay.scaleOffset, as: UInt16.self))
                if let mo = lay.minOffset { wdm[b * nr + j] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: mo, as: UInt16.self)) }
                if let form = lay.intQuads {
                    biasedQuads(blk, form, words)
                } else {
                    tmp.copyMemory(from: blk, byteCount: ts)
                    tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: lay.scaleOffset, as: UInt16.self)
                    if let mo = lay.minOffset { tmp.storeBytes(of: UInt16(0), toByteOffset: mo, as: UInt16.self) }
                    format.dequantize(UnsafeRawPointer(tmp), row, count: 32)
                    for lane in 0..<8 {
                        var bits: UInt32 = 0
                        for t in 0..<4 {
                            bits |= UInt32(UInt8(truncatingIfNeeded: Int32(row[4 * lane + t]) &+ 128)) << (8 * UInt32(t))
                        }
                        words[lane] = bits
                    }
                }
                for lane in 0..<8 { out[(lane * nb + b) * nr + j] = words[lane] }
            }
        }
        }
    }

    /// The integer activations of every group from the packed float quants (`acts`, `packActivations`
    /// layout): group g starts at `g·intGroupCount(k)`; its quads `[q·12 + i]` hold the bytes of the
    /// activation quants of lane L of block b (q = L·nb + b) of row 12g + i, from `12·(k/4)` on
    /// the starting values `M − 128·Σ_t q_a` in the same order, and from `24·(k/4)` on the starting
    /// values of whole blocks, `M − 128·Σ_{32} q_a` at `[b·12 + i]`.
    static func packIntActivations(_ acts: UnsafePointer<Float>, groups: Int, columns k: Int,
                                   into ia: UnsafeMutablePointer<Int32>, threads: Int = 1) {
        nonisolated(unsafe) let acts = acts, ia = ia
        let tasks = Swift.min(groups, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { task in
            for g in (groups * task / tasks)..<(groups * (task + 1) / tasks) {
                packIntGroup(acts + g * mr * k, columns: k, into: ia + g * intGroupCount(columns: k))
            }
        }
    }

    /// `packIntActivations` of one group: `src` its packed float quants, `dst` its int32s. Four
    /// rows at a time: a quant q (an integer, |q| ≤ 127) plus 1.5·2^23 has the bits
    /// `magicBits + q`, whose low byte is q's byte and whose difference to `magicBits` is q.
    private static func packIntGroup(_ src: UnsafePointer<Float>, columns k: Int, into dst: UnsafeMutablePointer<Int32>) {
        let quads = k / 4
        let s = UnsafeRawPointer(src), d = UnsafeMutableRawPointer(dst)
        let magic = SIMD4<Float>(repeating: magicFloat), low = SIMD4<UInt32>(repeating: 0xFF)
        let m = SIMD4<Int32>(repeating: magicBits)
        for q in 0..<quads {
            for i in stride(from: 0, to: mr, by: 4) {
                @inline(__always) func quant(_ t: Int) -> SIMD4<Float> {
                    s.loadUnaligned(fromByteOffset: 4 * ((4 * q + t) * mr + i), as: SIMD4<Float>.self)
                }
                let v0 = quant(0), v1 = quant(1), v2 = quant(2), v3 = quant(3)
                @inline(__always) func byte(_ v: SIMD4<Float>) -> SIMD4<UInt32> { unsafeBitCast(v + magic, to: SIMD4<UInt32>.self) & low }
                let bits = byte(v0) | (byte(v1) &<< 8) | (byte(v2) &<< 16) | (byte(v3) &<< 24)
                let sum = unsafeBitCast(((v0 + v1) + (v2 + v3)) + magic, to: SIMD4<Int32>.self) &- m
                d.storeBytes(of: unsafeBitCast(bits, to: SIMD4<Int32>.self), toByteOffset: 4 * (q * mr + i), as: SIMD4<Int32>.self)
                d.storeBytes(of: m &- 128 &* sum, toByteOffset: 4 * (mr * quads + q * mr + i), as: SIMD4<Int32>.self)
            }
        }
        blockStarts(d, columns: k)
    }

    /// A block's starting value from its eight quads' (wrapping: Σ_L (M − 128·s_L) − 7·M = M − 128·Σ s_L),
    /// for one group's int32s at `d`.
    @inline(__always)
    private static func blockStarts(_ d: UnsafeMutableRawPointer, columns k: Int) {
        let quads = k / 4, nb = k / 32
        let seven = SIMD4<Int32>(repeating: 7 &* magicBits)
        for b in 0..<nb {
            for i in stride(from: 0, to: mr, by: 4) {
                var acc = SIMD4<Int32>()
                for lane in 0..<8 {
                    acc &+= d.loadUnaligned(fromByteOffset: 4 * (mr * quads + (lane * nb + b) * mr + i), as: SIMD4<Int32>.self)
                }
                d.storeBytes(of: acc &- seven, toByteOffset: 4 * (2 * mr * quads + b * mr + i), as: SIMD4<Int32>.self)
            }
        }
    }

    /// `packActivations` followed by `packIntActivations` for the integer kernel, straight from the
    /// f32 rows: the block scales (and Q8_1 sums, with `sums`) land in `buf` where `packActivations`
    /// puts them and the int32s in `ia` as `packIntActivations` writes them, but the float quants
    /// between the two (four bytes per value written, then read back from memory) are never made.
    /// Each group's rows are quantized to bytes in a scratch of 12 rows, then gathered into quads.
    static func packIntActivationsDirect(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int, sums: Bool,
                                         scales buf: UnsafeMutablePointer<Float>, into ia: UnsafeMutablePointer<Int32>,
                                         threads: Int) {
        precondition(k % 32 == 0, "integer activations need whole 32-element blocks")
        let rows12 = (m + mr - 1) / mr * mr
        let nb = k / 32, quads = k / 4
        let dBase = buf + rows12 * k, sBase = dBase + rows12 * nb
        nonisolated(unsafe) let src = a, dst = ia
        let groups = rows12 / mr
        let tasks = Swift.min(groups, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: mr * k, alignment: 64)
            defer { bytes.deallocate() }
            let magic = SIMD16<Float>(repeating: magicFloat)
            // The quant q's byte: the low byte of the bits of q + 1.5·2^23 (as `packIntGroup` takes it).
            @inline(__always) func quantBytes(_ q: SIMD16<Float>) -> SIMD16<UInt8> {
                SIMD16<UInt8>(truncatingIfNeeded: unsafeBitCast(q + magic, to: SIMD16<UInt32>.self))
            }
            for g in (groups * t / tasks)..<(groups * (t + 1) / tasks) {
                for i in 0..<mr {
                    let r = g * mr + i
                    let d = dBase + r * nb, s = sBase + r * nb
                    let line = bytes + i * k
                    if r >= m {
                        line.initializeMemory(as: UInt8.self, repeating: 0, count: k)
                        d.update(repeating: 0, count: nb)
                        s.update(repeating: 0, count: nb)
                        continue
                    }
                    let x = src + r * lda
                    for b in 0..<nb {
                        let (q0, q1) = q8Block(x + 32 * b, scale: d + b, sum: sums ? s + b : nil)
                        line.storeBytes(of: quantBytes(q0), toByteOffset: 32 * b, as: SIMD16<UInt8>.self)
                        line.storeBytes(of: quantBytes(q1), toByteOffset: 32 * b + 16, as: SIMD16<UInt8>.self)
                    }
                }
                // Quad q = L·nb + b holds elements 32b + 4L ..< 32b + 4L + 4 of each row: four rows at a
                // time, with their starting values M − 128·Σq (the bytes' sum, sign-extended).
                let out = UnsafeMutableRawPointer(dst + g * intGroupCount(columns: k))
                let m4 = SIMD4<Int32>(repeating: magicBits)
                for lane in 0..<8 {
                    for b in 0..<nb {
                        let q = lane * nb + b, from = 32 * b + 4 * lane
                        for i in stride(from: 0, to: mr, by: 4) {
                            @inline(__always) func word(_ r: Int) -> Int32 {
                                bytes.loadUnaligned(fromByteOffset: (i + r) * k + from, as: Int32.self)
                            }
                            let w = SIMD4<Int32>(word(0), word(1), word(2), word(3))
                            let sum = ((w &<< 24) &>> 24) &+ ((w &<< 16) &>> 24) &+ ((w &<< 8) &>> 24) &+ (w &>> 24)
                            out.storeBytes(of: w, toByteOffset: 4 * (q * mr + i), as: SIMD4<Int32>.self)
                            out.storeBytes(of: m4 &- 128 &* sum, toByteOffset: 4 * (mr * quads + q * mr + i), as: SIMD4<Int32>.self)
                        }
                    }
                }
                blockStarts(out, columns: k)
            }
        }
    }

    /// `laneChainsQ0` on integer dot products: lane `lane` of six activation rows against one panel,
    /// blocks `first ..< first+count`. `aq` points at the group's quads (at the row offset), `start`
    /// at its starting values, `wi` at the integer panel; `dd` and `out` as in `laneChainsQ0`.
    @inline(__always)
    static func laneChainsInt8(_ aq: UnsafePointer<Int32>, _ start: UnsafePointer<Int32>, _ dd: UnsafePointer<Float>,
                               _ wi: UnsafeRawPointer, blocks nb: Int, first: Int, count: Int, resume: Bool, lane: Int,
                               _ out: UnsafeMutablePointer<Float>) {
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func get(_ r: Int, _ h: Int) -> SIMD16<Float> {
            resume ? o.loadUnaligned(fromByteOffset: 128 * r + 64 * h, as: SIMD16<Float>.self) : SIMD16<Float>()
        }
        var c00 = get(0, 0), c01 = get(0, 1), c10 = get(1, 0), c11 = get(1, 1)
        var c20 = get(2, 0), c21 = get(2, 1), c30 = get(3, 0), c31 = get(3, 1)
        var c40 = get(4, 0), c41 = get(4, 1), c50 = get(5, 0), c51 = get(5, 1)
        let q0 = lane * nb + first
        var w = wi + q0 * nr * 4
        var a = aq + q0 * mr
        var z = start + q0 * mr
        var d = UnsafeRawPointer(dd)
        let magic = SIMD16<Float>(repeating: magicFloat)
        for _ in 0..<count {
            let w0 = w.loadUnaligned(as: SIMD16<Int32>.self)
            let w1 = w.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int32>.self)
            @inline(__always) func sums(_ r: Int) -> (SIMD16<Float>, SIMD16<Float>) {
                let av = SIMD16<Int32>(repeating: a[r]), zv = SIMD16<Int32>(repeating: z[r])
                let s0 = IntDot.dpbusd(zv, w0, av), s1 = IntDot.dpbusd(zv, w1, av)
                return (unsafeBitCast(s0, to: SIMD16<Float>.self) - magic, unsafeBitCast(s1, to: SIMD16<Float>.self) - magic)
            }
            @inline(__always) func dv(_ r: Int, _ h: Int) -> SIMD16<Float> {
                d.loadUnaligned(fromByteOffset: 128 * r + 64 * h, as: SIMD16<Float>.self)
            }
            var p = sums(0); c00.addProduct(dv(0, 0), p.0); c01.addProduct(dv(0, 1), p.1)
            p = sums(1); c10.addProduct(dv(1, 0), p.0); c11.addProduct(dv(1, 1), p.1)
            p = sums(2); c20.addProduct(dv(2, 0), p.0); c21.addProduct(dv(2, 1), p.1)
            p = sums(3); c30.addProduct(dv(3, 0), p.0); c31.addProduct(dv(3, 1), p.1)
            p = sums(4); c40.addProduct(dv(4, 0), p.0); c41.addProduct(dv(4, 1), p.1)
            p = sums(5); c50.addProduct(dv(5, 0), p.0); c51.addProduct(dv(5, 1), p.1)
            w += nr * 4
            a += mr
            z += mr
            d += mr * nr * 4
        }
        @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 128 * r, as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 128 * r + 64, as: SIMD16<Float>.self)
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }

    /// The one-chain form (`laneChains` with `lanesPerChain: 8`, ggml's repacked Q4_0) on integer
    /// dot products: six activation rows against one panel, every block; a block's eight quads are
    /// summed in one int32 lane from `M − 128·Σ_{32} q_a` (`blockStart`, at the row offset), then
    /// `acc = fma(dd, sum, acc)` as in the float kernel. `out[r·32 + j]`, as `laneChains`.
    @inline(__always)
    static func singleChainsInt8(_ aq: UnsafePointer<Int32>, _ blockStart: UnsafePointer<Int32>, _ dd: UnsafePointer<Float>,
                                 _ wi: UnsafeRawPointer, blocks nb: Int, _ out: UnsafeMutablePointer<Float>) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        let magic = SIMD16<Float>(repeating: magicFloat)
        for b in 0..<nb {
            let z = blockStart + b * mr
            var s00 = SIMD16<Int32>(repeating: z[0]), s10 = SIMD16<Int32>(repeating: z[1])
            var s20 = SIMD16<Int32>(repeating: z[2]), s30 = SIMD16<Int32>(repeating: z[3])
            var s40 = SIMD16<Int32>(repeating: z[4]), s50 = SIMD16<Int32>(repeating: z[5])
            var s01 = s00, s11 = s10, s21 = s20, s31 = s30, s41 = s40, s51 = s50
            for lane in 0..<8 {
                let q = lane * nb + b
                let w = wi + q * nr * 4
                let w0 = w.loadUnaligned(as: SIMD16<Int32>.self)
                let w1 = w.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int32>.self)
                let a = aq + q * mr
                var av = SIMD16<Int32>(repeating: a[0])
                s00 = IntDot.dpbusd(s00, w0, av); s01 = IntDot.dpbusd(s01, w1, av)
                av = SIMD16<Int32>(repeating: a[1]); s10 = IntDot.dpbusd(s10, w0, av); s11 = IntDot.dpbusd(s11, w1, av)
                av = SIMD16<Int32>(repeating: a[2]); s20 = IntDot.dpbusd(s20, w0, av); s21 = IntDot.dpbusd(s21, w1, av)
                av = SIMD16<Int32>(repeating: a[3]); s30 = IntDot.dpbusd(s30, w0, av); s31 = IntDot.dpbusd(s31, w1, av)
                av = SIMD16<Int32>(repeating: a[4]); s40 = IntDot.dpbusd(s40, w0, av); s41 = IntDot.dpbusd(s41, w1, av)
                av = SIMD16<Int32>(repeating: a[5]); s50 = IntDot.dpbusd(s50, w0, av); s51 = IntDot.dpbusd(s51, w1, av)
            }
            let d = UnsafeRawPointer(dd + b * mr * nr)
            @inline(__always) func dv(_ r: Int, _ h: Int) -> SIMD16<Float> {
                d.loadUnaligned(fromByteOffset: 128 * r + 64 * h, as: SIMD16<Float>.self)
            }
            @inline(__always) func f(_ v: SIMD16<Int32>) -> SIMD16<Float> { unsafeBitCast(v, to: SIMD16<Float>.self) - magic }
            c00.addProduct(dv(0, 0), f(s00)); c01.addProduct(dv(0, 1), f(s01))
            c10.addProduct(dv(1, 0), f(s10)); c11.addProduct(dv(1, 1), f(s11))
            c20.addProduct(dv(2, 0), f(s20)); c21.addProduct(dv(2, 1), f(s21))
            c30.addProduct(dv(3, 0), f(s30)); c31.addProduct(dv(3, 1), f(s31))
            c40.addProduct(dv(4, 0), f(s40)); c41.addProduct(dv(4, 1), f(s41))
            c50.addProduct(dv(5, 0), f(s50)); c51.addProduct(dv(5, 1), f(s51))
        }
        let o = UnsafeMutableRawPointer(out)
        @inline(__always) func put(_ r: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            o.storeBytes(of: v0, toByteOffset: 128 * r, as: SIMD16<Float>.self)
            o.storeBytes(of: v1, toByteOffset: 128 * r + 64, as: SIMD16<Float>.self)
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31); put(4, c40, c41); put(5, c50, c51)
    }
}
