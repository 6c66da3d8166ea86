import Quants

/// Causal grouped-query attention without flash attention, with the numerics of llama.cpp b4748's
/// `llm_build_kqv` on the x86 CPU backend (AVX2 + FMA + F16C):
/// `KQ = mul_mat(K f16, Q)` (Q converted to f16), `softmax(scale·KQ + mask)` with ggml's vector
/// exponential and a double sum, `KQV = mul_mat(V f16, KQ)` (the probabilities converted to f16).
/// Both products go through llamafile's tinyBLAS (8 f32 lanes): each dot product is 8 fused
/// multiply-add chains, lane L taking the terms whose index is L mod 8 in order, reduced as
/// `(l4+l0, l5+l1, l6+l2, l7+l3)` → `(s0+s2) + (s1+s3)`. Here each lane is one call of the
/// micro-kernel over a strided view, so the sums are the same bits.
/// Query head h reads key/value head h / (heads / kvHeads).
final class Attention {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    let scale: Float
    /// tanh soft-capping of the raw scores (0: off; Gemma 2).
    let softCap: Float
    private let maxTasks: Int
    private let capacity: Int
    // Per task: packed queries (headDim × 12), scores (12 × capacity), packed probabilities
    // (capacity × 12, lane by lane), eight partial tiles (8 × 12 × 32).
    private let scratch: UnsafeMutablePointer<Float>
    private let perTask: Int

    init(config c: ModelConfig, capacity: Int, maxTasks: Int) {
        heads = c.headCount
        kvHeads = c.headCountKV
        headDim = c.headDimK
        // Gemma scales Q before the product; its softmax scale is 1.
        scale = c.queryScale == nil ? c.attentionScale : 1
        softCap = c.attentionSoftCap
        self.maxTasks = maxTasks
        self.capacity = capacity
        let mr = MicroKernel.mr, nr = MicroKernel.nr
        perTask = ((headDim + 7) & ~7) * mr + mr * capacity + (capacity + 8) * mr + 8 * mr * nr
        scratch = .allocateAligned(capacity: perTask * maxTasks)
        scratch.initialize(repeating: 0, count: perTask * maxTasks)
    }

    deinit { scratch.deallocate() }

    /// The flash-attention kernel (llama.cpp's `-fa on`), made on first use.
    private lazy var flashKernel = FlashAttentionKernel(heads: heads, kvHeads: kvHeads, headDim: headDim,
                                                        headDimPadded: (headDim + 31) & ~31, scale: scale,
                                                        softCap: softCap, maxTasks: maxTasks)

    /// Attention for `sequences` sequences of `length` new rows each, whose positions start at
    /// `start`; keys and values of positions `0..<start+length` are in `cache` (layer `layer`).
    /// `q` holds the rotated queries (`rows × heads·headDim`), `out` receives `rows × heads·headDim`.
    /// `window` > 0 limits a query at position p to the keys p - window < key ≤ p (sliding layers).
    func run(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int,
             sequences: Int, length: Int, start: Int, threads: Int, flash: Bool = false, window: Int = 0) {
        // Flash attention where llama.cpp b10572 takes its tiled CPU path (sliding-window layers
        // too); shorter batches keep this path (llama.cpp's per-row flash kernel is not reproduced).
        if flash && FlashAttentionKernel.tiledPath(length: length, headDim: headDim) {
            flashKernel.run(q: q, out: out, cache: cache, layer: layer, sequences: sequences, length: length,
                            start: start, threads: threads, window: window)
            return
        }
        let mr = MicroKernel.mr
        let groups = (length + mr - 1) / mr
        let items = sequences * heads * groups
        // Items (later groups see more keys) taken one at a time, each worker with its scratch.
        nonisolated(unsafe) let qp = q, op = out
        parallelWork(items: items, threads: min(maxTasks, max(1, threads))) { worker, item in
            let g = item % groups
            let h = (item / groups) % self.heads
            let s = item / (groups * self.heads)
            self.group(q: qp, out: op, cache: cache, layer: layer, sequence: s, head: h, group: g,
                       length: length, start: start, scratch: self.scratch + worker * self.perTask, window: window)
        }
    }

    private func group(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int,
                       sequence s: Int, head h: Int, group g: Int, length: Int, start: Int,
                       scratch: UnsafeMutablePointer<Float>, window: Int = 0) {
        let mr = MicroKernel.mr, nr = MicroKernel.nr
        let hd = headDim
        let qStride = heads * hd
        let aQ = scratch
        let scores = aQ + ((hd + 7) & ~7) * mr
        let aW = scores + mr * capacity
        let partials = aW + (capacity + 8) * mr
        let t0 = g * mr
        let rows = min(mr, length - t0)
        let keys = start + t0 + rows  // keys visible to the last row of the group
        let kvh = h / (heads / kvHeads)
        // Terms of lane L: indices L, L+8, ...; `steps(n, L)` of them below n.
        @inline(__always) func steps(_ n: Int, _ lane: Int) -> Int { n > lane ? (n - lane + 7) / 8 : 0 }
        let hdSteps = (hd + 7) / 8

        // Q rows of the group, converted to f16 values, packed 12 per step, lane by lane:
        // aQ[(L·hdSteps + t)·12 + i] = q_i[8t + L] (zero past the group's rows and the head).
        let qRow0 = q + (s * length + t0) * qStride + h * hd
        if hd % 8 == 0 {
            // Eight dimensions of the twelve rows at a time, through 8 × 8 transposes.
            let out = UnsafeMutableRawPointer(aQ), laneStride = 4 * hdSteps * mr
            @inline(__always) func load(_ i: Int, _ t: Int) -> SIMD8<Float> {
                guard i < rows else { return SIMD8<Float>() }
                let v = UnsafeRawPointer(qRow0 + i * qStride + 8 * t).loadUnaligned(as: SIMD8<Float>.self)
                return SIMD8<Float>(SIMD8<Float16>(v))
            }
            for t in 0..<hdSteps {
                LaneTranspose.store12({ load($0, t) }, out + 4 * t * mr, laneStride: laneStride)
            }
        } else {
            for lane in 0..<8 {
                for t in 0..<hdSteps {
                    let d = 8 * t + lane
                    let dst = aQ + (lane * hdSteps + t) * mr
                    for i in 0..<mr { dst[i] = i < rows && d < hd ? RowOps.f16(qRow0[i * qStride + d]) : 0 }
                }
            }
        }
        // Scores for 32 keys at a time: eight lane chains over the head dimension, then the tree.
        let kT = cache.keys(layer: layer, sequence: s, head: kvh)
        var j0 = 0
        while j0 < keys {
            for lane in 0..<8 {
                MicroKernel.tile(aQ + lane * hdSteps * mr, kT + lane * cache.capacity + j0, bStride: 8 * cache.capacity,
                                 partials + lane * mr * nr, ldc: nr, k: steps(hd, lane), accumulate: false)
            }
            Self.reduceLanes(partials, into: scores + j0, ldc: capacity, rows: mr, columns: nr)
            j0 += nr
        }
        // ggml's lanes and softmax groups follow the KV cell index. b10572's llama-perplexity and
        // llama-imatrix give each sequence of a batch its own KV stream (`kv_unified` is off), so the
        // keys of every sequence start at cell 0: phase 0. (b4748 put position p of sequence s in the
        // one shared cache at cell s·length + p, a phase of (s·length) mod 8.)
        let phase = 0
        // Lane slot L (cell index mod 8) holds the keys first(L), first(L) + 8, ...
        @inline(__always) func first(_ lane: Int) -> Int { (lane - phase + 8) % 8 }
        // Softmax per row over its visible keys, probabilities to f16 values, zero up to a whole
        // step of eight keys (and for the rows past the group), then packed lane by lane:
        // aW[(L·keySteps + t)·12 + i] = p_i[first(L) + 8t].
        let keySteps = (keys + 7) / 8
        for i in 0..<mr {
            let row = scores + i * capacity
            let valid = i < rows ? start + t0 + i + 1 : 0
            if valid > 0 {
                if softCap != 0 { Self.softCap(row, count: valid, cap: softCap) }
                if window > 0 {
                    // Keys at or before position (query - window) are masked (-inf before softmax).
                    let hidden = min(valid - 1, max(0, valid - window))
                    for j in 0..<hidden { row[j] = -.infinity }
                }
                VectorMath.softmaxRow(row, valid: valid, scale: scale, phase: phase)
                // The probabilities as f16 values (ggml converts them for the f16 product).
                var j = 0
                while j < valid {
                    let p = UnsafeMutableRawPointer(row + j)
                    p.storeBytes(of: RowOps.f16(p.loadUnaligned(as: SIMD16<Float>.self)), as: SIMD16<Float>.self)
                    j += 16
                }
            }
            if 8 * keySteps > valid { (row + valid).update(repeating: 0, count: 8 * keySteps - valid) }
        }
        // Phase 0: lane L's slot t is key 8t + L. Eight keys of the twelve rows at a time, through
        // 8 × 8 transposes.
        do {
            let out = UnsafeMutableRawPointer(aW), laneStride = 4 * keySteps * mr
            @inline(__always) func load(_ i: Int, _ t: Int) -> SIMD8<Float> {
                UnsafeRawPointer(scores + i * capacity + 8 * t).loadUnaligned(as: SIMD8<Float>.self)
            }
            for t in 0..<keySteps {
                LaneTranspose.store12({ load($0, t) }, out + 4 * t * mr, laneStride: laneStride)
            }
        }
        // Weighted sum of the values, 32 dimensions at a time: eight lane chains over the keys.
        let v = cache.values(layer: layer, sequence: s) + kvh * cache.headDimPadded
        let vStride = cache.valueRowStride
        var d0 = 0
        while d0 < hd {
            for lane in 0..<8 {
                MicroKernel.tile(aW + lane * keySteps * mr, v + first(lane) * vStride + d0, bStride: 8 * vStride,
                                 partials + lane * mr * nr, ldc: nr, k: steps(keys, first(lane)), accumulate: false)
            }
            let width = min(nr, hd - d0)
            for i in 0..<rows {
                let o = out + (s * length + t0 + i) * qStride + h * hd + d0
                for j0 in stride(from: 0, to: width, by: 16) {
                    let v = Self.lanePartialSums(partials, row: i, column: j0)
                    if width - j0 >= 16 {
                        UnsafeMutableRawPointer(o + j0).storeBytes(of: v, as: SIMD16<Float>.self)
                    } else {
                        for d in j0..<width { o[d] = v[d - j0] }
                    }
                }
            }
            d0 += nr
        }
    }

    /// tinyBLAS's `hsum` of the eight lane partials of 16 outputs (partial tiles are 12 × 32):
    /// row `i`, columns `j0 ..< j0+16`.
    @inline(__always)
    static func lanePartialSums(_ p: UnsafePointer<Float>, row i: Int, column j0: Int) -> SIMD16<Float> {
        let tile = MicroKernel.mr * MicroKernel.nr
        let base = UnsafeRawPointer(p + i * MicroKernel.nr + j0)
        @inline(__always) func lv(_ n: Int) -> SIMD16<Float> {
            base.loadUnaligned(fromByteOffset: 4 * n * tile, as: SIMD16<Float>.self)
        }
        return VectorMath.laneTree(lv)
    }

    /// Reduces eight partial tiles into `rows × 32` of `c` (rows `ldc` apart).
    @inline(__always)
    static func reduceLanes(_ p: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int,
                            columns: Int) {
        for i in 0..<rows {
            for j0 in stride(from: 0, to: columns, by: 16) {
                UnsafeMutableRawPointer(c + i * ldc + j0).storeBytes(of: lanePartialSums(p, row: i, column: j0),
                                                                     as: SIMD16<Float>.self)
            }
        }
    }
}
