import GGUF

/// Scratch memory for `MatMul`, allocated up front and grown on demand (never inside the kernels).
/// Not thread-safe: one workspace per concurrent caller.
public final class MatMulWorkspace {
    /// Packed, rounded activations.
    var packedA: UnsafeMutablePointer<Float>
    var packedACapacity: Int
    /// Per parallel chunk: a packed weight block (kc × nc), a dequantization scratch (32 × kc),
    /// an edge tile (12 × 32) and twelve rounded activation rows.
    var chunkScratch: UnsafeMutablePointer<Float>
    var chunkCapacity: Int
    var chunkStride: Int
    /// Buffers of the quantized products in ggml's order (`LaneGEMM`).
    let lanes = LaneWorkspace()

    public init() {
        packedACapacity = 0
        packedA = .allocateAligned(capacity: 1)
        chunkCapacity = 0
        chunkStride = 0
        chunkScratch = .allocateAligned(capacity: 1)
    }

    deinit {
        packedA.deallocate()
        chunkScratch.deallocate()
    }

    func reserve(packed: Int, chunks: Int, rowLength: Int) {
        if packed > packedACapacity {
            packedA.deallocate()
            packedA = .allocateAligned(capacity: packed)
            packedACapacity = packed
        }
        let stride = MatMul.kc * MatMul.nc + MatMul.kc * MicroKernel.nr + MicroKernel.mr * MicroKernel.nr
            + MicroKernel.mr * ((rowLength + 15) & ~15)
        if chunks > chunkCapacity || stride > chunkStride {
            chunkScratch.deallocate()
            chunkCapacity = Swift.max(chunks, chunkCapacity)
            chunkStride = Swift.max(stride, chunkStride)
            chunkScratch = .allocateAligned(capacity: chunkCapacity * chunkStride)
        }
    }

    @inline(__always) func block(_ c: Int) -> UnsafeMutablePointer<Float> { chunkScratch + c * chunkStride }
    @inline(__always) func dequantScratch(_ c: Int) -> UnsafeMutablePointer<Float> { block(c) + MatMul.kc * MatMul.nc }
    @inline(__always) func edgeTile(_ c: Int) -> UnsafeMutablePointer<Float> { dequantScratch(c) + MatMul.kc * MicroKernel.nr }
    /// Twelve rows of `rowStride` floats.
    @inline(__always) func roundRows(_ c: Int) -> UnsafeMutablePointer<Float> { edgeTile(c) + MicroKernel.mr * MicroKernel.nr }
}

/// Multi-threaded f32 matrix products with ggml's activation rounding.
public enum MatMul {
    /// Depth of one K block (a multiple of every block size).
    public static let kc = 256
    /// Weight rows per task block (a multiple of 32).
    public static let nc = 256
    /// Activation groups of 12 rows per L2 block.
    public static let mcGroups = 16

    /// SwiGLU of the `rows × columns` `gate` and `up` written straight into the packed activations
    /// of the product with `w` that follows, where that product takes them unrounded in float
    /// lanes (f32 weights): then `linear(key, lda: columns, rows:, weights: w, …, reuseActivations:
    /// true)` multiplies the SwiGLU values without `key` (which is not written) being read.
    /// Returns false, having done nothing, for other weights.
    public static func packSwiGLU(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, rows: Int, columns: Int,
                                  before w: WeightMatrix, key: UnsafePointer<Float>, threads: Int,
                                  workspace ws: MatMulWorkspace) -> Bool {
        guard rows > 0, columns == w.columns, LaneFloatGEMM.fusesSwiGLU(w) else { return false }
        LaneFloatGEMM.packSwiGLU(gate: gate, up: up, rows: rows, columns: columns, key: key, workspace: ws.lanes, threads: threads)
        return true
    }

    /// `C[m][n] = Σ_k round(A[m][k]) · W[n][k]` for `m < rows`, `n < W.rows`, where `round` is
    /// `ActivationRounding.roundTrip` to W's dot type (or to `dotType` when given) and W is
    /// dequantized exactly. A is row-major with `lda` floats per row (at least `W.columns`);
    /// C has `ldc` floats per row. The result does not depend on `threads`.
    ///
    /// Corresponds to ggml's `ggml_compute_forward_mul_mat` with `src0 = W`, `src1 = A`. Without
    /// an explicit dot type, quantized weights that `LaneGEMM` handles and float weights that
    /// `LaneFloatGEMM` handles are summed in the order of ggml's x86 AVX2 build (bit-equal
    /// results); other types, and quantization emulated through `dotType`, use the blocked f32
    /// product below (the same value up to f32 summation order). `reuseActivations`: see
    /// `LaneGEMM.linear`.
    public static func linear(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                              into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int,
                              workspace ws: MatMulWorkspace, dotType: GGMLType? = nil, reuseActivations: Bool = false) {
        guard m > 0, w.rows > 0 else { return }
        if dotType == nil, LaneGEMM.handles(w) {
            LaneGEMM.linear(a, lda: lda, rows: m, weights: w, into: c, ldc: ldc, threads: threads, workspace: ws.lanes,
                            reuseActivations: reuseActivations)
            return
        }
        // Float weights (also f32 replacement weights met by f32 activations) in tinyBLAS order.
        if LaneFloatGEMM.handles(w), dotType == nil || dotType == ActivationRounding.dotType(for: w.productType) {
            LaneFloatGEMM.linear(a, lda: lda, rows: m, weights: w, into: c, ldc: ldc, threads: threads, workspace: ws.lanes,
                                 reuseActivations: reuseActivations)
            return
        }
        ws.lanes.packedKey = nil
        let k = w.columns
        guard let dt = dotType ?? ActivationRounding.dotType(for: w.productType) else {
            preconditionFailure("ggml's CPU backend has no matrix product for \(w.type) weights")
        }
        precondition(lda >= k && ldc >= w.rows, "leading dimensions too small for \(m)×\(k) · \(w.rows)")
        let mr = MicroKernel.mr, nr = MicroKernel.nr
        let groups = (m + mr - 1) / mr
        ws.reserve(packed: groups * mr * k, chunks: Swift.max(1, threads) * 4, rowLength: k)
        packActivations(a, lda: lda, rows: m, columns: k, dotType: dt, threads: threads, workspace: ws)

        // GotoBLAS-style blocking: a task owns `nc` weight rows (a packed kc × nc block in L2)
        // and a range of activation groups, walked `mcGroups` at a time so that the A block
        // (mc × kc) stays in L2 while every 32-row slab of the weight block (in L1) meets it.
        let jcBlocks = (w.rows + nc - 1) / nc
        let mSplits = Swift.min(groups, Swift.max(1, (2 * Swift.max(1, threads) + jcBlocks - 1) / jcBlocks))
        let tasks = jcBlocks * mSplits
        let chunks = Swift.min(tasks, Swift.max(1, threads) * 4)
        ws.reserve(packed: groups * mr * k, chunks: chunks, rowLength: k)
        nonisolated(unsafe) let cp = c
        nonisolated(unsafe) let wsu = ws
        let weights = w
        parallelFor(chunks: chunks, threads: threads) { ch in
            let blockBuf = wsu.block(ch), scratch = wsu.dequantScratch(ch), edge = wsu.edgeTile(ch)
            for task in (tasks * ch / chunks)..<(tasks * (ch + 1) / chunks) {
                let jc = task / mSplits, ms = task % mSplits
                let s0 = jc * (nc / nr), s1 = Swift.min((jc + 1) * (nc / nr), (weights.rows + nr - 1) / nr)
                let g0 = groups * ms / mSplits, g1 = groups * (ms + 1) / mSplits
                var k0 = 0
                while k0 < k {
                    let kb = Swift.min(kc, k - k0)
                    for s in s0..<s1 {
                        weights.packPanel(row0: s * nr, k0: k0, k: kb, scratch: scratch, into: blockBuf + (s - s0) * kb * nr)
                    }
                    var mb = g0
                    while mb < g1 {
                        let mbEnd = Swift.min(mb + mcGroups, g1)
                        for s in s0..<s1 {
                            let panel = blockBuf + (s - s0) * kb * nr
                            let cols = Swift.min(nr, weights.rows - s * nr)
                            for g in mb..<mbEnd {
                                let ap = wsu.packedA + g * mr * k + k0 * mr
                                let rowsHere = Swift.min(mr, m - g * mr)
                                let ct = cp + g * mr * ldc + s * nr
                                if rowsHere == mr && cols == nr {
                                    MicroKernel.tile(ap, panel, bStride: nr, ct, ldc: ldc, k: kb, accumulate: k0 > 0)
                                } else {
                                    MicroKernel.tile(ap, panel, bStride: nr, edge, ldc: nr, k: kb, accumulate: false)
                                    for i in 0..<rowsHere {
                                        for j in 0..<cols {
                                            let v = edge[i * nr + j]
                                            ct[i * ldc + j] = k0 > 0 ? ct[i * ldc + j] + v : v
                                        }
                                    }
                                }
                            }
                        }
                        mb = mbEnd
                    }
                    k0 += kb
                }
            }
        }
    }

    /// Rounds every activation row to `dotType` and packs the rows in groups of 12 for the kernel:
    /// `packedA[g·12·k + kk·12 + i]` = row `g·12 + i`, column `kk`. A group's rows are rounded into
    /// scratch rows (zero past `m`), then go in through 8 × 8 transposes: rows 0-7 and 8-11 of each
    /// eight columns (`LaneTranspose.store12`).
    static func packActivations(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int, dotType: GGMLType,
                                threads: Int, workspace ws: MatMulWorkspace) {
        let mr = MicroKernel.mr
        precondition(mr == 12, "the activation packing writes groups of 8 + 4 rows")
        let groups = (m + mr - 1) / mr
        let tasks = Swift.min(groups, Swift.max(1, threads) * 4)
        let rowStride = (k + 15) & ~15
        nonisolated(unsafe) let src = a
        nonisolated(unsafe) let wsu = ws
        parallelFor(chunks: tasks, threads: threads) { t in
            let rows = wsu.roundRows(t)
            for g in (groups * t / tasks)..<(groups * (t + 1) / tasks) {
                let dst = wsu.packedA + g * mr * k
                let live = Swift.min(mr, m - g * mr)
                for i in 0..<mr {
                    if i < live {
                        ActivationRounding.roundTrip(dotType, src + (g * mr + i) * lda, rows + i * rowStride, count: k)
                    } else {
                        (rows + i * rowStride).update(repeating: 0, count: k)
                    }
                }
                let p = UnsafeRawPointer(rows), out = UnsafeMutableRawPointer(dst)
                let rowBytes = 4 * rowStride, laneStride = 4 * mr
                @inline(__always) func load(_ i: Int, _ o: Int) -> SIMD8<Float> {
                    p.loadUnaligned(fromByteOffset: i * rowBytes + o, as: SIMD8<Float>.self)
                }
                var kk = 0
                while kk + 8 <= k {
                    LaneTranspose.store12({ load($0, 4 * kk) }, out + 4 * kk * mr, laneStride: laneStride)
                    kk += 8
                }
                while kk < k {
                    for i in 0..<mr { dst[kk * mr + i] = rows[i * rowStride + kk] }
                    kk += 1
                }
            }
        }
    }

    /// The scalar twin of `linear`: rounds each row with `ActivationRounding.roundTripReference`,
    /// dequantizes each weight row, and sums products in index order.
    public static func linearReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                       into c: UnsafeMutablePointer<Float>, ldc: Int, dotType: GGMLType? = nil) {
        let k = w.columns
        guard let dt = dotType ?? ActivationRounding.dotType(for: w.productType) else {
            preconditionFailure("ggml's CPU backend has no matrix product for \(w.type) weights")
        }
        let x = UnsafeMutablePointer<Float>.allocateAligned(capacity: m * k)
        let wr = UnsafeMutablePointer<Float>.allocateAligned(capacity: k)
        defer { x.deallocate(); wr.deallocate() }
        for r in 0..<m { ActivationRounding.roundTripReference(dt, a + r * lda, x + r * k, count: k) }
        for n in 0..<w.rows {
            w.dequantize(row: n, k0: 0, count: k, into: wr)
            for r in 0..<m {
                var s: Float = 0
                for kk in 0..<k { s += x[r * k + kk] * wr[kk] }
                c[r * ldc + n] = s
            }
        }
    }
}
