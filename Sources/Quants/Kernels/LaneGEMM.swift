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
    var packedKey: (pointer: UnsafeRawPointer, lda: Int, rows: Int, columns: Int, block: Int, sums: Bool)?
    var chunk = FloatStore()

    public init() {}

    deinit {
        acts.release()
        chunk.release()
    }
}

/// A growable f32 buffer.
struct FloatStore {
    private(set) var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private(set) var capacity = 1

    mutating func reserve(_ n: Int) {
        if n > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: n)
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

    /// The weight layout of one supported type.
    struct Layout {
        /// Elements per block (per scale).
        let block: Int
        /// Byte offset of the f16 block scale.
        let scaleOffset: Int
        /// Byte offset of the f16 minimum scale (`min` for Q4_1/Q5_1, `dmin` for Q4_K/Q5_K), if any.
        var minOffset: Int? = nil
        /// How the minimum (offset) terms enter the sum.
        var mins = Mins.none
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

    static func layout(_ t: GGMLType) -> Layout? {
        switch t {
        case .q8_0, .q5_0, .q4_0: return Layout(block: 32, scaleOffset: 0)
        case .q4_1, .q5_1: return Layout(block: 32, scaleOffset: 0, minOffset: 2, mins: .perBlock)
        case .q4_K: return Layout(block: 256, scaleOffset: 0, minOffset: 2, mins: .fourLanes)
        case .q5_K: return Layout(block: 256, scaleOffset: 0, minOffset: 2, mins: .summed)
        case .q6_K: return Layout(block: 256, scaleOffset: 208)
        default: return nil
        }
    }

    /// Q4_0 weights with a multiple of 8 rows: ggml's CPU backend repacks them (`q4_0_8x8_q8_0`,
    /// ggml-cpu-aarch64.cpp, taken on x86 with AVX2) and its `ggml_gemm_q4_0_8x8_q8_0` /
    /// `ggml_gemv_q4_0_8x8_q8_0` keep one chain per output, `fma(Σ_{32} q_w·q_a, f32(d_w)·f32(d_a), acc)`
    /// block after block, with no lanes to reduce.
    static func singleChain(_ w: WeightMatrix) -> Bool { w.type == .q4_0 && w.rows % 8 == 0 }

    /// Whether `linear` computes products with weights of type `t` (in ggml's x86 order).
    public static func handles(_ t: GGMLType) -> Bool { layout(t) != nil }

    // MARK: Activations

    /// Quantizes `m` rows of `k` activations (`lda` apart) to the dot type of `weight` (rows up to
    /// the next multiple of 12 are zero): quants interleaved per group of 12 rows in lane order,
    /// `q[g·12k + lanePosition(kk)·12 + i]` for row 12g + i, then block scales `d[r·nb + b]` (from
    /// `rows12·k` on), then for Q8_K the 32-element sub-block sums `s[r·(k/32) + sb]` (from
    /// `rows12·(k + nb)` on).
    static func packActivations(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int, weight: GGMLType,
                                into buf: UnsafeMutablePointer<Float>, threads: Int) {
        let rows12 = (m + mr - 1) / mr * mr
        let lay = layout(weight)!
        let nb = k / lay.block
        let qBase = buf, dBase = buf + rows12 * k, sBase = dBase + rows12 * nb
        nonisolated(unsafe) let src = a
        let tasks = Swift.min(rows12, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: 2 * k)
            defer { row.deallocate() }
            let lanes = row + k
            for r in (rows12 * t / tasks)..<(rows12 * (t + 1) / tasks) {
                let q = qBase + (r / mr) * mr * k + r % mr, d = dBase + r * nb, s = sBase + r * (k / 32)
                if r >= m {
                    for p in 0..<k { q[p * mr] = 0 }
                    d.update(repeating: 0, count: nb)
                    s.update(repeating: 0, count: k / 32)
                    continue
                }
                let x = src + r * lda
                if lay.block == 32 {
                    for b in 0..<nb {
                        let (q0, q1, amax) = ActivationRounding.q8_0Quants(x + 32 * b)
                        UnsafeMutableRawPointer(row + 32 * b).storeBytes(of: q0, as: SIMD16<Float>.self)
                        UnsafeMutableRawPointer(row + 32 * b).storeBytes(of: q1, toByteOffset: 64, as: SIMD16<Float>.self)
                        d[b] = Float(Float16(amax / 127))
                        // Q8_1's s = f16(d·Σq) with the unrounded d = amax/127.
                        if lay.mins == .perBlock { s[b] = Float(Float16((amax / 127) * (q0 + q1).sum())) }
                    }
                } else {
                    for b in 0..<nb {
                        d[b] = ActivationRounding.q8_KQuants(x + 256 * b, into: row + 256 * b)
                        for sb in (8 * b)..<(8 * b + 8) {
                            var sum: Float = 0
                            for j in (32 * sb)..<(32 * sb + 32) { sum += row[j] }
                            s[sb] = sum
                        }
                    }
                }
                // Lane order: the four columns 32c + 4L ..< 32c + 4L + 4 go to L·k/8 + 4c.
                let lk = k / 8
                for c in 0..<(k / 32) {
                    let from = UnsafeRawPointer(row + 32 * c)
                    for lane in 0..<8 {
                        UnsafeMutableRawPointer(lanes + lane * lk + 4 * c)
                            .storeBytes(of: from.loadUnaligned(fromByteOffset: 16 * lane, as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                    }
                }
                for p in 0..<k { q[p * mr] = lanes[p] }
            }
        }
    }

    /// Where column `kk` of a row of `k` (a multiple of 32) is packed: lane by lane, so that the
    /// four columns lane L takes from each 32-column chunk follow each other, chunk after chunk:
    /// `L·k/8 + chunk·4 + t` for `kk = 32·chunk + 4·L + t`.
    @inline(__always)
    static func lanePosition(_ kk: Int, _ k: Int) -> Int {
        ((kk & 31) >> 2) * (k >> 3) + ((kk >> 5) << 2) + (kk & 3)
    }

    // MARK: Weights

    /// Decodes weight rows `row0 ..< row0+32` into a panel: integer values `wq[lanePosition(kk)·32 + j]`,
    /// block scales `wd[b·32 + j]`, and for Q4_K the minimum scales `wdm[b·32 + j]` and sub-block
    /// minimums `wm[sb·32 + j]`. Rows past the end are zero. `row` is scratch for `k + 256` floats.
    static func packPanel(_ w: WeightMatrix, row0: Int, panel: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>) {
        let k = w.columns
        let lay = layout(w.type)!
        let nb = k / lay.block
        let ts = w.type.typeSize
        let wq = panel, wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0))  // 216 bytes ≥ the largest block (Q6_K, 210)
        withUnsafeMutableBytes(of: &block) { bb in
            let tmp = bb.baseAddress!
            for j in 0..<nr {
                let r = row0 + j
                if r >= w.rows {
                    for kk in 0..<k { wq[kk * nr + j] = 0 }
                    for b in 0..<nb { wd[b * nr + j] = 0; wdm[b * nr + j] = 0 }
                    for sb in 0..<(k / 32) { wm[sb * nr + j] = 0 }
                    continue
                }
                let src = w.data + r * w.rowBytes
                for b in 0..<nb {
                    let blk = src + b * ts
                    tmp.copyMemory(from: blk, byteCount: ts)
                    wd[b * nr + j] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: lay.scaleOffset, as: UInt16.self))
                    // Scale 1 (and minimum scale 0): the dequantizer yields the integer values.
                    tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: lay.scaleOffset, as: UInt16.self)
                    if let mo = lay.minOffset { tmp.storeBytes(of: UInt16(0), toByteOffset: mo, as: UInt16.self) }
                    Quantizer.dequantize(w.type, UnsafeRawPointer(tmp), row + b * lay.block, count: lay.block)
                    if let mo = lay.minOffset {
                        wdm[b * nr + j] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: mo, as: UInt16.self))
                    }
                    if let mo = lay.minOffset, lay.mins != .perBlock {
                        // Scale 0, minimum scale 1: every element is minus its sub-block minimum.
                        tmp.storeBytes(of: UInt16(0), toByteOffset: lay.scaleOffset, as: UInt16.self)
                        tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: mo, as: UInt16.self)
                        let scratch = row + k  // room for one block past the row
                        Quantizer.dequantize(w.type, UnsafeRawPointer(tmp), scratch, count: lay.block)
                        for sb in 0..<(lay.block / 32) { wm[((lay.block / 32) * b + sb) * nr + j] = -scratch[32 * sb] + 0 }
                    }
                }
                for kk in 0..<k { wq[lanePosition(kk, k) * nr + j] = row[kk] }
            }
        }
    }

    /// Floats of one decoded panel of `w`.
    static func panelFloats(_ w: WeightMatrix) -> Int {
        let lay = layout(w.type)!
        let nb = w.columns / lay.block
        return (w.columns + 2 * nb + w.columns / 32) * nr
    }

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
                     _ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
        let nb = k / lay.block
        let aq = acts + g * mr * k
        let ad = acts + groups * mr * k + g * mr * nb
        let asums = acts + groups * mr * (k + nb) + g * mr * (k / 32)
        let wq = panel, wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        // Scale products `f32(d_a)·f32(d_w)` of every (row, block), once for the eight lanes:
        // `dd[((b − first)·12 + i)·32 + j]` for the blocks `b` of the range.
        let dd = lanes + 8 * mr * nr
        @inline(__always) func scaleProducts(blocks: Range<Int>) {
            for b in blocks {
                let dw0 = UnsafeRawPointer(wd + b * nr).loadUnaligned(as: SIMD16<Float>.self)
                let dw1 = UnsafeRawPointer(wd + b * nr + 16).loadUnaligned(as: SIMD16<Float>.self)
                for i in 0..<mr {
                    let da = SIMD16<Float>(repeating: ad[i * nb + b])
                    let o = UnsafeMutableRawPointer(dd + ((b - blocks.lowerBound) * mr + i) * nr)
                    o.storeBytes(of: da * dw0, as: SIMD16<Float>.self)
                    o.storeBytes(of: da * dw1, toByteOffset: 64, as: SIMD16<Float>.self)
                }
            }
        }
        let chunks = lay.block / 32
        if chunks == 1 && !single {
            // Eight blocks at a time, so that their scale products stay in L1 beside the lane slices.
            var b0 = 0
            while b0 < nb {
                let count = Swift.min(8, nb - b0)
                scaleProducts(blocks: b0..<(b0 + count))
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
        if single {
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
                let width = Swift.min(16, cols - 16 * h)
                if width == 16 {
                    UnsafeMutableRawPointer(ci + 16 * h).storeBytes(of: sum, as: SIMD16<Float>.self)
                } else if width > 0 {
                    for j in 0..<width { ci[16 * h + j] = sum[j] }
                }
            }
        }
    }

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
        let k = w.columns
        precondition(k % lay.block == 0, "a \(w.type) row of \(k) is not whole blocks")
        let groups = (m + mr - 1) / mr
        let nb = k / lay.block
        let single = singleChain(w)
        ws.acts.reserve(groups * mr * (k + nb + k / 32))
        let key = (pointer: UnsafeRawPointer(a), lda: lda, rows: m, columns: k, block: lay.block, sums: lay.mins == .perBlock)
        if !(reuseActivations && ws.packedKey.map { $0 == key } == true) {
            packActivations(a, lda: lda, rows: m, columns: k, weight: w.type, into: ws.acts.pointer, threads: threads)
            ws.packedKey = key
        }

        let panels = (w.rows + nr - 1) / nr
        // Small matrices: one panel per task, so that the tasks split evenly over the threads.
        let perTask = panels >= 16 * panelsPerTask ? panelsPerTask : 1
        let tasks = (panels + perTask - 1) / perTask
        let chunks = Swift.min(tasks, Swift.max(1, threads) * 4)
        let pf = panelFloats(w)
        let stride = perTask * pf + 2 * k + 8 * mr * nr + nb * mr * nr
        ws.chunk.reserve(chunks * stride)
        nonisolated(unsafe) let cp = c
        nonisolated(unsafe) let acts = UnsafePointer(ws.acts.pointer)
        nonisolated(unsafe) let scratchBase = ws.chunk.pointer
        let weights = w
        parallelFor(chunks: chunks, threads: threads) { ch in
            let base = scratchBase + ch * stride
            let rowScratch = base + perTask * pf
            let lanes = rowScratch + 2 * k
            for task in (tasks * ch / chunks)..<(tasks * (ch + 1) / chunks) {
                let p0 = task * perTask, p1 = Swift.min(panels, p0 + perTask)
                for p in p0..<p1 {
                    packPanel(weights, row0: p * nr, panel: base + (p - p0) * pf, row: rowScratch)
                }
                for g in 0..<groups {
                    let rows = Swift.min(mr, m - g * mr)
                    for p in p0..<p1 {
                        let cols = Swift.min(nr, weights.rows - p * nr)
                        tile(group: g, acts: acts, groups: groups, k: k, layout: lay, single: single, panel: base + (p - p0) * pf,
                             lanes: lanes, cp + g * mr * ldc + p * nr, ldc: ldc, rows: rows, cols: cols)
                    }
                }
            }
        }
    }

    /// The scalar twin of `linear`: quantizes each row through the block quantizers' bytes
    /// (`ActivationRounding` reference encoders, `Quantizer` for Q8_K), decodes each weight block
    /// from its bytes, and sums one output at a time in ggml's lane order.
    public static func linearReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                       into c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard let lay = layout(w.type) else { preconditionFailure("LaneGEMM has no kernel for \(w.type)") }
        let k = w.columns
        let nb = k / lay.block
        let aType: GGMLType = lay.block == 32 ? (lay.mins == .perBlock ? .q8_1 : .q8_0) : .q8_K
        let single = singleChain(w)
        let aS = UnsafeMutablePointer<Float>.allocate(capacity: nb)
        defer { aS.deallocate() }
        let aBytes = UnsafeMutableRawPointer.allocate(byteCount: nb * aType.typeSize, alignment: 16)
        let aq = UnsafeMutablePointer<Float>.allocate(capacity: k)
        let ad = UnsafeMutablePointer<Float>.allocate(capacity: nb)
        let wv = UnsafeMutablePointer<Float>.allocate(capacity: k + lay.block)
        let wmv = UnsafeMutablePointer<Float>.allocate(capacity: k)
        let tmp = UnsafeMutableRawPointer.allocate(byteCount: w.type.typeSize, alignment: 16)
        defer { aBytes.deallocate(); aq.deallocate(); ad.deallocate(); wv.deallocate(); wmv.deallocate(); tmp.deallocate() }
        for r in 0..<m {
            // Activation quants and scales from the block bytes.
            if aType == .q8_1 {
                ActivationRounding.quantizeQ8_1Reference(a + r * lda, aBytes, count: k)
                for b in 0..<nb {
                    let blk = aBytes + 36 * b
                    ad[b] = FP16.toFloat(blk.loadUnaligned(as: UInt16.self))
                    aS[b] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                    for j in 0..<32 { aq[32 * b + j] = Float(blk.load(fromByteOffset: 4 + j, as: Int8.self)) }
                }
            } else if aType == .q8_0 {
                ActivationRounding.quantizeQ8_0Reference(a + r * lda, aBytes, count: k)
                for b in 0..<nb {
                    let blk = aBytes + 34 * b
                    ad[b] = FP16.toFloat(blk.loadUnaligned(as: UInt16.self))
                    for j in 0..<32 { aq[32 * b + j] = Float(blk.load(fromByteOffset: 2 + j, as: Int8.self)) }
                }
            } else {
                Quantizer.quantize(.q8_K, a + r * lda, aBytes, rows: 1, rowLength: k)
                for b in 0..<nb {
                    let blk = aBytes + GGMLType.q8_K.typeSize * b
                    ad[b] = blk.loadUnaligned(as: Float.self)
                    for j in 0..<256 { aq[256 * b + j] = Float(blk.load(fromByteOffset: 4 + j, as: Int8.self)) }
                }
            }
            for n in 0..<w.rows {
                let src = w.data + n * w.rowBytes
                var acc = [Float](repeating: 0, count: 8)
                var accm = [Float](repeating: 0, count: 4)
                var summs: Float = 0
                var chain: Float = 0
                for b in 0..<nb {
                    let blk = src + b * w.type.typeSize
                    let dw = FP16.toFloat(blk.loadUnaligned(fromByteOffset: lay.scaleOffset, as: UInt16.self))
                    tmp.copyMemory(from: blk, byteCount: w.type.typeSize)
                    tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: lay.scaleOffset, as: UInt16.self)
                    if let mo = lay.minOffset { tmp.storeBytes(of: UInt16(0), toByteOffset: mo, as: UInt16.self) }
                    Quantizer.dequantize(w.type, UnsafeRawPointer(tmp), wv, count: lay.block)
                    if single {
                        var s: Float = 0
                        for e in 0..<lay.block { s += wv[e] * aq[lay.block * b + e] }
                        chain = chain.addingProduct(s, ad[b] * dw)
                    }
                    for lane in 0..<8 {
                        var s: Float = 0
                        for ch in 0..<(lay.block / 32) {
                            for t in 0..<4 {
                                let e = 32 * ch + 4 * lane + t
                                s += wv[e] * aq[lay.block * b + e]
                            }
                        }
                        acc[lane] = acc[lane].addingProduct(ad[b] * dw, s)
                    }
                    if let mo = lay.minOffset, lay.mins == .perBlock {
                        let mw = FP16.toFloat(blk.loadUnaligned(fromByteOffset: mo, as: UInt16.self))
                        summs = summs.addingProduct(mw, aS[b])
                    } else if let mo = lay.minOffset {
                        let dmin = FP16.toFloat(blk.loadUnaligned(fromByteOffset: mo, as: UInt16.self))
                        tmp.storeBytes(of: UInt16(0), toByteOffset: lay.scaleOffset, as: UInt16.self)
                        tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: mo, as: UInt16.self)
                        Quantizer.dequantize(w.type, UnsafeRawPointer(tmp), wmv, count: lay.block)
                        if lay.mins == .summed {
                            var total: Float = 0
                            for sb in 0..<8 {
                                var s: Float = 0
                                for e in (32 * sb)..<(32 * sb + 32) { s += aq[lay.block * b + e] }
                                total += -wmv[32 * sb] * s
                            }
                            summs = summs.addingProduct(-ad[b] * dmin, total)
                        } else {
                        for j in 0..<4 {
                            var p: Float = 0
                            for sb in [2 * j, 2 * j + 1] {
                                var s: Float = 0
                                for e in (32 * sb)..<(32 * sb + 32) { s += aq[lay.block * b + e] }
                                p += -wmv[32 * sb] * s
                            }
                            accm[j] = accm[j].addingProduct(-ad[b] * dmin, p)
                        }
                        }
                    }
                }
                var out = single ? chain : VectorMath.laneTree { acc[$0] }
                switch lay.mins {
                case .none: break
                case .perBlock, .summed: out = out + summs
                case .fourLanes: out = out + ((accm[0] + accm[2]) + (accm[1] + accm[3]))
                }
                c[r * ldc + n] = out
            }
        }
    }
}
