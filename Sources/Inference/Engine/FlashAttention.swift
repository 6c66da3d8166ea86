#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Quants

/// Whether attention runs as llama.cpp's flash attention (`-fa`). llama.cpp b10572 defaults to
/// `auto`, which the CPU backend resolves to on.
public enum FlashAttentionMode: String, Sendable, Equatable, CaseIterable, Codable {
    case on, off, auto

    /// What the CPU engine does: `auto` means on, as llama.cpp b10572 decides for its CPU backend.
    public var enabled: Bool { self != .off }
}

/// Causal grouped-query attention with the numerics of llama.cpp b10572's CPU flash attention on
/// the x86 build (AVX2 + FMA), its tiled path (`ggml_compute_forward_flash_attn_ext_tiled`, taken
/// when a stream has at least 64 query rows, the head size is a multiple of 8 and the cache is f16):
///
/// - the keys are walked in tiles of 64 cache cells, counted from the sequence's first cell;
/// - a score is one fused multiply-add chain over the head dimension, from 0, of the f32 query
///   (not rounded) times the key (the f16 cache value), then multiplied by the scale; with logit
///   soft-capping (Gemma 2) the scale is `scale / cap` and the score becomes `tanhf(score) · cap`;
///   masked cells (later positions; on sliding-window layers, keys `window` or more positions
///   back) are -inf, and a row skips a tile whose cells are all masked;
/// - per row and tile: the tile maximum, `M' = fmax(M, max)`; when it grows, the accumulator and
///   the sum are multiplied by libm's `expf(M - M')`; the probabilities are ggml's vector exponential
///   of `score - M'`, summed 8 cells at a time (lane tree) in double, the tile's double sum added to
///   the f32 running sum (`S = Float(Double(S) + sum)`);
/// - the output accumulator (f32) takes one fused multiply-add per key in cell order,
///   `acc + p·v` (v the f16 cache value, p not rounded);
/// - the result is `acc · (1 / S)`.
///
/// Each row's result depends only on its own scores, so rows may be grouped freely; fully masked
/// cells contribute exact zeros and are skipped.
final class FlashAttentionKernel {
    static let kvTile = 64
    /// Query rows per work item (any grouping gives the same bits).
    static let rowsPerItem = 32

    let heads: Int
    let kvHeads: Int
    let headDim: Int
    let scale: Float
    /// Logit soft-capping value (0: off).
    let softCap: Float
    private let maxTasks: Int
    private let headDimPadded: Int
    // Per task: packed queries (rowsPerItem × headDim), scores (rowsPerItem × 64), accumulators
    // (rowsPerItem × headDimPadded), running maxima and sums (rowsPerItem each).
    private let scratch: UnsafeMutablePointer<Float>
    private let perTask: Int
    /// Per task: each row's visible cells in the current tile (rowsPerItem each).
    private let countScratch: UnsafeMutablePointer<Int>

    init(heads: Int, kvHeads: Int, headDim: Int, headDimPadded: Int, scale: Float, softCap: Float = 0, maxTasks: Int) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.headDimPadded = headDimPadded
        // ggml divides the scale by the cap once (in f32) and caps after scaling.
        self.scale = softCap != 0 ? scale / softCap : scale
        self.softCap = softCap
        self.maxTasks = maxTasks
        let r = Self.rowsPerItem
        perTask = r * headDim + r * Self.kvTile + r * headDimPadded + 2 * r + 16
        scratch = .allocateAligned(capacity: perTask * maxTasks)
        scratch.initialize(repeating: 0, count: perTask * maxTasks)
        countScratch = .allocateAligned(capacity: r * maxTasks)
        countScratch.initialize(repeating: 0, count: r * maxTasks)
    }

    deinit {
        scratch.deallocate()
        countScratch.deallocate()
    }

    /// Whether llama.cpp b10572 takes the tiled path for `length` query rows per sequence.
    static func tiledPath(length: Int, headDim: Int) -> Bool { length >= 64 && headDim % 8 == 0 }

    /// Same contract as `Attention.run` (`window` > 0: a sliding-window layer).
    func run(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int,
             sequences: Int, length: Int, start: Int, threads: Int, window: Int = 0) {
        let r = Self.rowsPerItem
        let groups = (length + r - 1) / r
        let items = sequences * heads * groups
        // Items (later groups see more keys) taken one at a time, each worker with its scratch.
        nonisolated(unsafe) let qp = q, op = out
        parallelWork(items: items, threads: min(maxTasks, max(1, threads))) { worker, item in
            let g = item % groups
            let h = (item / groups) % self.heads
            let s = item / (groups * self.heads)
            self.group(q: qp, out: op, cache: cache, layer: layer, sequence: s, head: h, group: g,
                       length: length, start: start, window: window, scratch: self.scratch + worker * self.perTask)
        }
    }

    private func group(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int,
                       sequence s: Int, head h: Int, group g: Int, length: Int, start: Int, window: Int,
                       scratch: UnsafeMutablePointer<Float>) {
        let r = Self.rowsPerItem, tile = Self.kvTile
        let hd = headDim, hdp = headDimPadded
        let qStride = heads * hd
        let qs = scratch
        let scores = qs + r * hd
        let acc = scores + r * tile
        let maxima = acc + r * hdp
        let sums = maxima + r
        let counts = countScratch + (scratch - self.scratch) / perTask * r
        let t0 = g * r
        let rows = min(r, length - t0)
        let rows8 = (rows + 7) & ~7
        let keys = start + t0 + rows
        let kvh = h / (heads / kvHeads)
        let cap = cache.capacity
        let kT = UnsafePointer(cache.keys(layer: layer, sequence: s, head: kvh))
        let v = UnsafePointer(cache.values(layer: layer, sequence: s) + kvh * cache.headDimPadded)
        let vStride = cache.valueRowStride

        for i in 0..<rows8 {
            let dst = qs + i * hd
            if i < rows {
                dst.update(from: q + (s * length + t0 + i) * qStride + h * hd, count: hd)
            } else {
                dst.update(repeating: 0, count: hd)
            }
        }
        for i in 0..<rows {
            maxima[i] = -.infinity
            sums[i] = 0
        }
        (acc).update(repeating: 0, count: rows * hdp)

        var c0 = 0
        while c0 < keys {
            let width16 = (min(tile, keys - c0) + 15) & ~15
            // Scores of 8 rows × 16 cells at a time: one fused chain each over the head dimension.
            var i0 = 0
            while i0 < rows8 {
                var j = 0
                while j < width16 {
                    Self.scoreBlock(qs + i0 * hd, hd: hd, kT + c0 + j, cap: cap, scores + i0 * tile + j, ldc: tile)
                    j += 16
                }
                i0 += 8
            }
            // Each row's probabilities for the tile (`counts[i]` cells, 0: the tile is masked for it);
            // then the values, two rows at a time.
            for i in 0..<rows {
                counts[i] = 0
                let visible = start + t0 + i + 1
                // The first visible key: on sliding-window layers, keys `window` or more back are masked.
                let first = window > 0 ? max(0, visible - window) : 0
                if c0 >= visible || c0 + tile <= first { continue }
                let n = min(tile, visible - c0)
                counts[i] = n
                Self.probabilities(scores + i * tile, count: n, hiddenBelow: first - c0, scale: scale, softCap: softCap,
                                   maximum: &maxima[i], sum: &sums[i], acc: acc + i * hdp, hdp: hdp)
            }
            var i = 0
            while i < rows {
                let vt = v + c0 * vStride
                if i + 1 < rows && counts[i] > 0 && counts[i + 1] > 0 {
                    Self.accumulate2(acc + i * hdp, acc + (i + 1) * hdp, hdp: hdp, scores + i * tile, counts[i],
                                     scores + (i + 1) * tile, counts[i + 1], values: vt, stride: vStride)
                    i += 2
                    continue
                }
                if counts[i] > 0 {
                    Self.accumulate(acc + i * hdp, hdp: hdp, probabilities: scores + i * tile, count: counts[i],
                                    values: vt, stride: vStride)
                }
                i += 1
            }
            c0 += tile
        }
        for i in 0..<rows {
            let sInv: Float = sums[i] == 0 ? 0 : 1 / sums[i]
            let a = acc + i * hdp
            let o = out + (s * length + t0 + i) * qStride + h * hd
            for d in 0..<hd { o[d] = a[d] * sInv }
        }
    }

    /// One row of a tile: scales (and caps) the `n` visible scores of `row`, masks the cells before
    /// `hiddenBelow` and from `n` to the next multiple of 16 to -inf, raises the running maximum
    /// (rescaling the accumulator `acc` and the sum when it grows), and turns the scores into the
    /// exponentials, adding their double sum to `sum`. Its own function: inside `group`, whose
    /// size stopped the optimizer from inlining, the vector exponential stayed a call.
    @inline(never)
    static func probabilities(_ row: UnsafeMutablePointer<Float>, count n: Int, hiddenBelow first: Int, scale: Float,
                              softCap: Float, maximum: inout Float, sum total: inout Float,
                              acc a: UnsafeMutablePointer<Float>, hdp: Int) {
        var tileMax = -Float.infinity
        if softCap == 0 {
            // Sixteen cells at a time (a tile row has room for the last vector); the largest of
            // the non-NaN scores, as the scalar scan finds it.
            let sv = SIMD16<Float>(repeating: scale)
            var vmax = SIMD16<Float>(repeating: -.infinity)
            var j = 0
            while j < n {
                let p = UnsafeMutableRawPointer(row + j)
                var x = p.loadUnaligned(as: SIMD16<Float>.self) * sv
                if j + 16 > n || j < first {
                    x = mask(x, visibleFrom: first - j, below: n - j)
                }
                p.storeBytes(of: x, as: SIMD16<Float>.self)
                vmax = vmax.replacing(with: x, where: x .> vmax)
                j += 16
            }
            tileMax = maxLane(vmax)
        } else {
            for j in 0..<n {
                var x = row[j] * scale
                x = tanhf(x) * softCap
                if j < first { x = -.infinity }
                row[j] = x
                tileMax = tileMax > x ? tileMax : x
            }
            // The cells up to the next multiple of 16 read as masked, as on the path above.
            var j = n
            while j & 15 != 0 { row[j] = -.infinity; j += 1 }
        }
        let old = maximum
        let m = fmaxf(old, tileMax)
        if m > old {
            let ms = expf(old - m)
            var d = 0
            while d < hdp {
                let p = UnsafeMutableRawPointer(a + d)
                p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) * ms, as: SIMD16<Float>.self)
                d += 16
            }
            total *= ms
        }
        maximum = m
        // Exponentials 16 cells at a time (two groups of 8), masked cells -inf → 0.
        let mv = SIMD16<Float>(repeating: m)
        var sum: Double = 0
        var j = 0
        while j < n {
            // Cells from n to the next multiple of 16 hold -inf (masked above): exp gives 0.
            let x = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD16<Float>.self)
            let e = VectorMath.exp(x - mv)
            UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: SIMD16<Float>.self)
            sum += Double(VectorMath.reduceAdd8(e.lowHalf))
            if j + 8 < n { sum += Double(VectorMath.reduceAdd8(e.highHalf)) }
            j += 16
        }
        total = Float(Double(total) + sum)
    }

    /// `x` with lane l set to -inf unless `from ≤ l < below`: the lane mask from the signs of
    /// `l - from` and `below - 1 - l` (integer arithmetic; a compare of lane indices compiled to a
    /// loop of scalar compares).
    @inline(__always)
    static func mask(_ x: SIMD16<Float>, visibleFrom from: Int, below: Int) -> SIMD16<Float> {
        let lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let lo = Int32(clamping: max(-1, min(from, 16))), hi = Int32(clamping: max(0, min(below, 17))) - 1
        let hidden = unsafeBitCast(((lane &- lo) | (SIMD16<Int32>(repeating: hi) &- lane)) &>> 31, to: SIMD16<UInt32>.self)
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
        let negInf = SIMD16<UInt32>(repeating: Float.infinity.bitPattern | 0x8000_0000)
        return unsafeBitCast((bits & ~hidden) | (negInf & hidden), to: SIMD16<Float>.self)
    }

    /// The largest lane of `v` (no NaN lanes: the running maximum never takes one). Any order gives
    /// the same value up to the sign of a zero, which no result depends on.
    @inline(__always)
    static func maxLane(_ v: SIMD16<Float>) -> Float {
        let a8 = v.lowHalf, b8 = v.highHalf
        let m8 = a8.replacing(with: b8, where: b8 .> a8)
        let a4 = m8.lowHalf, b4 = m8.highHalf
        let m4 = a4.replacing(with: b4, where: b4 .> a4)
        return max(max(m4[0], m4[1]), max(m4[2], m4[3]))
    }

    /// `c[i][j] = Σ_d q[i][d]·kT[d][j]` for 8 rows and 16 cells, each a fused chain from 0 in d order.
    @inline(__always)
    static func scoreBlock(_ q: UnsafePointer<Float>, hd: Int, _ kT: UnsafePointer<Float>, cap: Int,
                           _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
        // Walking pointers and row offsets fixed outside the loop: no index arithmetic (and no
        // overflow checks) per step.
        let r1 = hd, r2 = 2 * hd, r3 = 3 * hd, r4 = 4 * hd, r5 = 5 * hd, r6 = 6 * hd, r7 = 7 * hd
        var qp = q
        var bp = UnsafeRawPointer(kT)
        let bStep = 4 * cap
        for _ in 0..<hd {
            let b = bp.loadUnaligned(as: SIMD16<Float>.self)
            a0 = a0.addingProduct(b, SIMD16<Float>(repeating: qp[0]))
            a1 = a1.addingProduct(b, SIMD16<Float>(repeating: qp[r1]))
            a2 = a2.addingProduct(b, SIMD16<Float>(repeating: qp[r2]))
            a3 = a3.addingProduct(b, SIMD16<Float>(repeating: qp[r3]))
            a4 = a4.addingProduct(b, SIMD16<Float>(repeating: qp[r4]))
            a5 = a5.addingProduct(b, SIMD16<Float>(repeating: qp[r5]))
            a6 = a6.addingProduct(b, SIMD16<Float>(repeating: qp[r6]))
            a7 = a7.addingProduct(b, SIMD16<Float>(repeating: qp[r7]))
            qp += 1
            bp += bStep
        }
        let o = UnsafeMutableRawPointer(c)
        o.storeBytes(of: a0, toByteOffset: 0, as: SIMD16<Float>.self)
        o.storeBytes(of: a1, toByteOffset: 4 * ldc, as: SIMD16<Float>.self)
        o.storeBytes(of: a2, toByteOffset: 8 * ldc, as: SIMD16<Float>.self)
        o.storeBytes(of: a3, toByteOffset: 12 * ldc, as: SIMD16<Float>.self)
        o.storeBytes(of: a4, toByteOffset: 16 * ldc, as: SIMD16<Float>.self)
        o.storeBytes(of: a5, toByteOffset: 20 * ldc, as: SIMD16<Float>.self)
        o.storeBytes(of: a6, toByteOffset: 24 * ldc, as: SIMD16<Float>.self)
        o.storeBytes(of: a7, toByteOffset: 28 * ldc, as: SIMD16<Float>.self)
    }

    /// `accumulate` for two rows at once (`na`, `nb` ≥ 1 cells): the cells both rows see with the
    /// values loaded once for both, then each row's remaining cells by `accumulate`; each row's
    /// chain is still one fused multiply-add per key in cell order.
    @inline(__always)
    static func accumulate2(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, hdp: Int,
                            _ pa: UnsafePointer<Float>, _ na: Int, _ pb: UnsafePointer<Float>, _ nb: Int,
                            values v: UnsafePointer<Float>, stride: Int) {
        let both = min(na, nb)
        var d0 = 0
        while d0 < hdp {
            // 64 columns at a time, then a last 32.
            let wide = d0 + 64 <= hdp
            let ap = UnsafeMutableRawPointer(a + d0), bp = UnsafeMutableRawPointer(b + d0)
            @inline(__always) func ld(_ p: UnsafeMutableRawPointer, _ o: Int) -> SIMD16<Float> {
                p.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
            }
            var x0 = ld(ap, 0), x1 = ld(ap, 64), y0 = ld(bp, 0), y1 = ld(bp, 64)
            var vp = UnsafeRawPointer(v + d0)
            if wide {
                var x2 = ld(ap, 128), x3 = ld(ap, 192), y2 = ld(bp, 128), y3 = ld(bp, 192)
                for j in 0..<both {
                    let v0 = vp.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)
                    let v1 = vp.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                    let v2 = vp.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
                    let v3 = vp.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
                    let wa = SIMD16<Float>(repeating: pa[j]), wb = SIMD16<Float>(repeating: pb[j])
                    x0 = x0.addingProduct(v0, wa); y0 = y0.addingProduct(v0, wb)
                    x1 = x1.addingProduct(v1, wa); y1 = y1.addingProduct(v1, wb)
                    x2 = x2.addingProduct(v2, wa); y2 = y2.addingProduct(v2, wb)
                    x3 = x3.addingProduct(v3, wa); y3 = y3.addingProduct(v3, wb)
                    vp += 4 * stride
                }
                ap.storeBytes(of: x2, toByteOffset: 128, as: SIMD16<Float>.self)
                ap.storeBytes(of: x3, toByteOffset: 192, as: SIMD16<Float>.self)
                bp.storeBytes(of: y2, toByteOffset: 128, as: SIMD16<Float>.self)
                bp.storeBytes(of: y3, toByteOffset: 192, as: SIMD16<Float>.self)
            } else {
                for j in 0..<both {
                    let v0 = vp.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)
                    let v1 = vp.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
                    let wa = SIMD16<Float>(repeating: pa[j]), wb = SIMD16<Float>(repeating: pb[j])
                    x0 = x0.addingProduct(v0, wa); y0 = y0.addingProduct(v0, wb)
                    x1 = x1.addingProduct(v1, wa); y1 = y1.addingProduct(v1, wb)
                    vp += 4 * stride
                }
            }
            ap.storeBytes(of: x0, toByteOffset: 0, as: SIMD16<Float>.self)
            ap.storeBytes(of: x1, toByteOffset: 64, as: SIMD16<Float>.self)
            bp.storeBytes(of: y0, toByteOffset: 0, as: SIMD16<Float>.self)
            bp.storeBytes(of: y1, toByteOffset: 64, as: SIMD16<Float>.self)
            d0 += wide ? 64 : 32
        }
        let rest = v + both * stride
        if na > both { accumulate(a, hdp: hdp, probabilities: pa + both, count: na - both, values: rest, stride: stride) }
        if nb > both { accumulate(b, hdp: hdp, probabilities: pb + both, count: nb - both, values: rest, stride: stride) }
    }

    /// `a[d] += p[j]·v[j][d]` for j in order, one fused multiply-add per key (`hdp` a multiple of 32).
    @inline(__always)
    static func accumulate(_ a: UnsafeMutablePointer<Float>, hdp: Int, probabilities p: UnsafePointer<Float>,
                           count n: Int, values v: UnsafePointer<Float>, stride: Int) {
        var d0 = 0
        while d0 + 64 <= hdp {
            let ap = UnsafeMutableRawPointer(a + d0)
            var x0 = ap.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)
            var x1 = ap.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            var x2 = ap.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self)
            var x3 = ap.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self)
            var vp = UnsafeRawPointer(v + d0)
            for j in 0..<n {
                let w = SIMD16<Float>(repeating: p[j])
                x0 = x0.addingProduct(vp.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self), w)
                x1 = x1.addingProduct(vp.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self), w)
                x2 = x2.addingProduct(vp.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self), w)
                x3 = x3.addingProduct(vp.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self), w)
                vp += 4 * stride
            }
            ap.storeBytes(of: x0, toByteOffset: 0, as: SIMD16<Float>.self)
            ap.storeBytes(of: x1, toByteOffset: 64, as: SIMD16<Float>.self)
            ap.storeBytes(of: x2, toByteOffset: 128, as: SIMD16<Float>.self)
            ap.storeBytes(of: x3, toByteOffset: 192, as: SIMD16<Float>.self)
            d0 += 64
        }
        if d0 < hdp {
            let ap = UnsafeMutableRawPointer(a + d0)
            var x0 = ap.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self)
            var x1 = ap.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            var vp = UnsafeRawPointer(v + d0)
            for j in 0..<n {
                let w = SIMD16<Float>(repeating: p[j])
                x0 = x0.addingProduct(vp.loadUnaligned(fromByteOffset: 0, as: SIMD16<Float>.self), w)
                x1 = x1.addingProduct(vp.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self), w)
                vp += 4 * stride
            }
            ap.storeBytes(of: x0, toByteOffset: 0, as: SIMD16<Float>.self)
            ap.storeBytes(of: x1, toByteOffset: 64, as: SIMD16<Float>.self)
        }
    }
}
