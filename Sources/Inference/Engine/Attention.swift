import Quants

/// Causal grouped-query attention without flash attention, with the numerics of llama.cpp b4748's
/// `llm_build_kqv` on the CPU backend:
/// `KQ = mul_mat(K f16, Q)` (Q converted to f16, f32 sums), `softmax(scale·KQ + mask)` with
/// ggml's vector exponential and a double sum, `KQV = mul_mat(V f16, KQ)` (the probabilities
/// converted to f16, f32 sums). Query head h reads key/value head h / (heads / kvHeads).
final class Attention {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    let scale: Float
    private let maxTasks: Int
    private let capacity: Int
    // Per task: packed queries (headDim × 12), scores (12 × capacity), packed probabilities
    // (capacity × 12), an output tile (12 × 32).
    private let scratch: UnsafeMutablePointer<Float>
    private let perTask: Int

    init(config c: ModelConfig, capacity: Int, maxTasks: Int) {
        heads = c.headCount
        kvHeads = c.headCountKV
        headDim = c.headDimK
        scale = c.attentionScale
        self.maxTasks = maxTasks
        self.capacity = capacity
        let mr = MicroKernel.mr, nr = MicroKernel.nr
        perTask = headDim * mr + mr * capacity + capacity * mr + mr * nr
        scratch = .allocate(capacity: perTask * maxTasks)
        scratch.initialize(repeating: 0, count: perTask * maxTasks)
    }

    deinit { scratch.deallocate() }

    /// Attention for `sequences` sequences of `length` new rows each, whose positions start at
    /// `start`; keys and values of positions `0..<start+length` are in `cache` (layer `layer`).
    /// `q` holds the rotated queries (`rows × heads·headDim`), `out` receives `rows × heads·headDim`.
    func run(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int,
             sequences: Int, length: Int, start: Int, threads: Int) {
        let mr = MicroKernel.mr
        let groups = (length + mr - 1) / mr
        let items = sequences * heads * groups
        let tasks = min(items, maxTasks, max(1, threads) * 8)
        nonisolated(unsafe) let qp = q, op = out
        parallelFor(chunks: tasks, threads: threads) { t in
            let base = self.scratch + t * self.perTask
            // Longest groups first within each task is unnecessary: items interleave sequences/heads.
            for item in (items * t / tasks)..<(items * (t + 1) / tasks) {
                let g = item % groups
                let h = (item / groups) % self.heads
                let s = item / (groups * self.heads)
                self.group(q: qp, out: op, cache: cache, layer: layer, sequence: s, head: h, group: g,
                           length: length, start: start, scratch: base)
            }
        }
    }

    private func group(q: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, cache: KVCache, layer: Int,
                       sequence s: Int, head h: Int, group g: Int, length: Int, start: Int,
                       scratch: UnsafeMutablePointer<Float>) {
        let mr = MicroKernel.mr, nr = MicroKernel.nr
        let hd = headDim
        let qStride = heads * hd
        let aQ = scratch
        let scores = aQ + hd * mr
        let aW = scores + mr * capacity
        let tile = aW + capacity * mr
        let t0 = g * mr
        let rows = min(mr, length - t0)
        let keys = start + t0 + rows  // keys visible to the last row of the group
        let kvh = h / (heads / kvHeads)

        // Q rows of the group, converted to f16 values, packed 12 per step.
        for i in 0..<mr {
            if i < rows {
                let qr = q + (s * length + t0 + i) * qStride + h * hd
                for d in 0..<hd { aQ[d * mr + i] = RowOps.f16(qr[d]) }
            } else {
                for d in 0..<hd { aQ[d * mr + i] = 0 }
            }
        }
        // Scores for 32 keys at a time.
        let kT = cache.keys(layer: layer, sequence: s, head: kvh)
        var j0 = 0
        while j0 < keys {
            MicroKernel.tile(aQ, kT + j0, bStride: cache.capacity, scores + j0, ldc: capacity, k: hd, accumulate: false)
            j0 += nr
        }
        // Softmax per row over its visible keys, probabilities to f16 values, packed for KQV.
        for i in 0..<mr {
            let row = scores + i * capacity
            let valid = i < rows ? start + t0 + i + 1 : 0
            if valid > 0 {
                for j in 0..<valid { row[j] *= scale }
                VectorMath.softmaxRow(row, valid: valid)
            }
            for j in 0..<keys { aW[j * mr + i] = j < valid ? RowOps.f16(row[j]) : 0 }
        }
        // Weighted sum of the values, 32 dimensions at a time.
        let v = cache.values(layer: layer, sequence: s) + kvh * cache.headDimPadded
        var d0 = 0
        while d0 < hd {
            MicroKernel.tile(aW, v + d0, bStride: cache.valueRowStride, tile, ldc: nr, k: keys, accumulate: false)
            let width = min(nr, hd - d0)
            for i in 0..<rows {
                let o = out + (s * length + t0 + i) * qStride + h * hd + d0
                for d in 0..<width { o[d] = tile[i * nr + d] }
            }
            d0 += nr
        }
    }
}
