import GGUF

// Float matrix products (F32, F16 and BF16 weights) in the summation order of llama.cpp b4748 on
// x86 with AVX2 + FMA: llamafile's `tinyBLAS<8, __m256, ...>` (sgemm.cpp), used by ggml's CPU
// matrix product whenever the weight rows are a multiple of 4, the row length a multiple of 8 and
// the batch has at least two rows. For one output, lane L (0..<8) of a 256-bit accumulator takes
// the products of columns L, L+8, L+16, ... in order, each fused into the lane
// (`fma(w, a, acc_L)`); the output is the `hsum` of the eight lanes:
// `(l4+l0, l5+l1, l6+l2, l7+l3)` → `(s0+s2) + (s1+s3)`. F16 and BF16 weights meet activations
// rounded to their type (ggml converts the activations to the weights' `vec_dot_type` first) and
// are widened to f32 before the fused multiply-add, as tinyBLAS's loads do. F16/BF16 storage of
// f32 values (`WeightMatrix.productType == .f32`) meets unrounded activations: the f32 product.
//
// Here the columns are packed lane by lane (column `kk` of a row at `(kk % 8)·(k/8) + kk/8`), so
// that each lane's chain is an
// ordinary run of the register-blocked `MicroKernel` (a fused multiply-add per step, from zero),
// and the eight partial tiles are combined with the same tree.

public enum LaneFloatGEMM {
    static let mr = MicroKernel.mr
    static let nr = MicroKernel.nr

    /// Whether ggml's x86 build takes tinyBLAS for these weights (and `linear` reproduces it).
    public static func handles(_ w: WeightMatrix) -> Bool {
        (w.type == .f32 || w.type == .f16 || w.type == .bf16) && w.rows % 4 == 0 && w.columns % 8 == 0
    }

    /// `C[r][n] = tinyBLAS(round(A[r]), W[n])` for `r < m`, `n < w.rows`, where `round` is the
    /// conversion of the activations to the weights' dot type. `handles(w)` must hold. The result
    /// does not depend on `threads`. `reuseActivations`: as in `LaneGEMM.linear` (the packed rows of
    /// the previous call are used again when they were packed from the same input for the same
    /// dot type).
    public static func linear(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                              into c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int, workspace ws: LaneWorkspace,
                              reuseActivations: Bool = false) {
        guard m > 0, w.rows > 0 else { return }
        precondition(handles(w), "tinyBLAS order needs f32/f16/bf16 weights, rows % 4 == 0 and columns % 8 == 0")
        let k = w.columns
        let steps = k / 8
        let groups = (m + mr - 1) / mr
        let dotType = ActivationRounding.dotType(for: w.productType)!
        ws.acts.reserve(groups * mr * k)
        let packed = ws.acts.pointer
        let key = packKey(a, lda: lda, rows: m, columns: k, dotType: dotType)
        if !ws.holdsQuants(key, reuse: reuseActivations) {
            packLaneActivations(a, lda: lda, rows: m, columns: k, dotType: dotType, into: packed, threads: threads)
            ws.packedQuants(key)
        }

        // Items: slabs of 32 weight rows, taken one at a time by the workers (each with its own
        // scratch); each slab is dequantized and packed once, then met by every group.
        let slabs = (w.rows + nr - 1) / nr
        let workers = Swift.min(slabs, Swift.max(1, threads))
        let stride = 2 * nr * k + 8 * mr * nr
        ws.chunk.reserve(workers * stride)
        nonisolated(unsafe) let cp = c
        nonisolated(unsafe) let scratchBase = ws.chunk.pointer
        let weights = w
        parallelWork(items: slabs, threads: workers) { worker, s in
            let slabScratch = scratchBase + worker * stride
            let rowsScratch = slabScratch + nr * k
            let partials = rowsScratch + nr * k
            let valid = Swift.min(nr, weights.rows - s * nr)
            packSlab(weights, slab: s, into: slabScratch, rows: rowsScratch)
            let panel = UnsafePointer(slabScratch)
            for g in 0..<groups {
                let ap = packed + g * mr * k
                for lane in 0..<8 {
                    MicroKernel.tile(ap + lane * steps * mr, panel + lane * steps * nr, bStride: nr,
                                     partials + lane * mr * nr, ldc: nr, k: steps, accumulate: false)
                }
                let rows = Swift.min(mr, m - g * mr)
                let ct = cp + g * mr * ldc + s * nr
                for i in 0..<rows {
                    let p = UnsafeRawPointer(partials + i * nr)
                    for h in 0..<2 {
                        @inline(__always) func lv(_ n: Int) -> SIMD16<Float> {
                            p.loadUnaligned(fromByteOffset: 4 * (n * mr * nr + 16 * h), as: SIMD16<Float>.self)
                        }
                        let sum = VectorMath.laneTree(lv)
                        VectorMath.store(sum, ct + i * ldc + 16 * h, width: valid - 16 * h)
                    }
                }
            }
        }
    }

    /// Slab `s` of the weights (rows `32s ..< 32s+32`, zero past the last row) as the micro-kernel
    /// reads it: `panel[(L·steps + t)·32 + j] = W[32s + j][8t + L]` (each row in lane order, the
    /// 32 rows interleaved), written in one pass of 8×8 transposes. f16/bf16 rows are widened into
    /// `rows` (scratch of 32 rows) first; the scratch rows past the matrix are zeroed and read.
    static func packSlab(_ w: WeightMatrix, slab s: Int, into panel: UnsafeMutablePointer<Float>,
                         rows rowsScratch: UnsafeMutablePointer<Float>) {
        let k = w.columns, steps = k / 8
        let valid = Swift.min(nr, w.rows - s * nr)
        if w.type != .f32 {
            for r in 0..<valid { w.dequantize(row: s * nr + r, k0: 0, count: k, into: rowsScratch + r * k) }
        }
        // Rows past the matrix (its last slab) read zeros from their scratch rows.
        if valid < nr { (rowsScratch + valid * k).update(repeating: 0, count: (nr - valid) * k) }
        @inline(__always) func source(_ r: Int) -> UnsafeRawPointer {
            w.type == .f32 && r < valid ? w.data + (s * nr + r) * w.rowBytes : UnsafeRawPointer(rowsScratch + r * k)
        }
        let out = UnsafeMutableRawPointer(panel)
        for r0 in stride(from: 0, to: nr, by: 8) {
            let rows = (source(r0), source(r0 + 1), source(r0 + 2), source(r0 + 3),
                        source(r0 + 4), source(r0 + 5), source(r0 + 6), source(r0 + 7))
            for t in 0..<steps {
                LaneTranspose.store(rows, byteOffset: 32 * t, out + 4 * (32 * t + r0), laneStride: 4 * 32 * steps)
            }
        }
    }

    /// Whether `packSwiGLU` can stand in for SwiGLU + the activation packing of a product with `w`:
    /// `linear` takes it (as `MatMul.linear` routes it) and meets unrounded f32 activations.
    static func fusesSwiGLU(_ w: WeightMatrix) -> Bool {
        !LaneGEMM.handles(w) && handles(w) && ActivationRounding.dotType(for: w.productType) == .f32
    }

    /// The workspace key of activations packed for a float product: the input and its shape, told
    /// apart from the quantized packings by a negative block length.
    static func packKey(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int, dotType: GGMLType) -> LaneWorkspace.PackKey {
        (pointer: UnsafeRawPointer(a), lda: lda, rows: m, columns: k, block: -1 - Int(dotType.rawValue), sums: false)
    }

    /// SwiGLU of the `m × k` rows `gate` and `up` (`VectorMath.swiglu`, row by row) written straight
    /// into the packed activations of the next product, recorded in `ws` as the packing of an input
    /// at `key` (which is not written): `linear(key, lda: k, rows: m, weights: w, …,
    /// reuseActivations: true)` then multiplies them. `fusesSwiGLU(w)` must hold.
    static func packSwiGLU(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, rows m: Int, columns k: Int,
                           key: UnsafePointer<Float>, workspace ws: LaneWorkspace, threads: Int) {
        ws.acts.reserve((m + mr - 1) / mr * mr * k)
        nonisolated(unsafe) let g0 = gate, u0 = up
        // Each row into the group's scratch (sequential reads of gate and up), then interleaved.
        packGroups(rows: m, columns: k, into: ws.acts.pointer, threads: threads, inPlace: nil) { r, row in
            VectorMath.swiglu(gate: g0 + r * k, up: u0 + r * k, row, count: k)
        }
        ws.packedQuants(packKey(key, lda: k, rows: m, columns: k, dotType: .f32))
    }

    /// Activations rounded to the dot type and packed 12 rows per group as `packSlab` packs 32:
    /// `packed[g·12k + (L·steps + t)·12 + i] = A[12g + i][8t + L]`; rows past `m` are zero.
    static func packLaneActivations(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int, dotType: GGMLType,
                                    into packed: UnsafeMutablePointer<Float>, threads: Int) {
        nonisolated(unsafe) let src = a
        // Rows rounded to the dot type first (f16/bf16 weights); f32 rows are read in place.
        packGroups(rows: m, columns: k, into: packed, threads: threads, inPlace: dotType == .f32 ? (a, lda) : nil) { r, row in
            ActivationRounding.roundTrip(dotType, src + r * lda, row, count: k)
        }
    }

    /// `m` rows of `k` values (`k` a multiple of 8) packed in groups of 12 (LaneGEMM.interleave's
    /// order): `packed[g·12k + (L·steps + t)·12 + i] = row(12g + i)[8t + L]`, rows past `m` zero.
    /// Rows are read `inPlace` (pointer, leading dimension), or else `fill(r, scratch)` writes row
    /// `r` into a scratch row of its group first.
    static func packGroups(rows m: Int, columns k: Int, into packed: UnsafeMutablePointer<Float>, threads: Int,
                           inPlace: (pointer: UnsafePointer<Float>, lda: Int)?,
                           fill: (_ r: Int, _ row: UnsafeMutablePointer<Float>) -> Void) {
        precondition(mr == 12 && k % 8 == 0, "the activation packing writes groups of 8 + 4 rows of whole lane steps")
        let groups = (m + mr - 1) / mr
        nonisolated(unsafe) let pa = packed
        let tasks = Swift.min(groups, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            // A group's rows in lane order, then interleaved at once.
            let scratch = inPlace == nil ? UnsafeMutablePointer<Float>.allocateAligned(capacity: mr * k) : nil
            defer { scratch?.deallocate() }
            let steps = k / 8, laneStride = 4 * mr * steps
            for g in (groups * t / tasks)..<(groups * (t + 1) / tasks) {
                let live = Swift.min(mr, m - g * mr)
                if let scratch {
                    for i in 0..<live { fill(g * mr + i, scratch + i * k) }
                }
                @inline(__always) func row(_ i: Int, _ o: Int) -> SIMD8<Float> {
                    guard i < live else { return SIMD8<Float>() }
                    let p = scratch.map { UnsafeRawPointer($0 + i * k) }
                        ?? UnsafeRawPointer(inPlace!.pointer + (g * mr + i) * inPlace!.lda)
                    return p.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                }
                // `pa[g·12k + (L·steps + t)·12 + i] = row(12g + i)[8t + L]`: rows 0–7, then 8–11.
                let out = UnsafeMutableRawPointer(pa + g * mr * k)
                for t in 0..<steps {
                    LaneTranspose.store12({ row($0, 32 * t) }, out + 4 * (mr * t), laneStride: laneStride)
                }
            }
        }
    }

    /// The scalar twin of `linear`: one output at a time, eight lane sums of fused products in
    /// column order, then the tree.
    public static func linearReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                       into c: UnsafeMutablePointer<Float>, ldc: Int) {
        let k = w.columns
        let dotType = ActivationRounding.dotType(for: w.productType)!
        let x = UnsafeMutablePointer<Float>.allocateAligned(capacity: k)
        let wr = UnsafeMutablePointer<Float>.allocateAligned(capacity: k)
        defer { x.deallocate(); wr.deallocate() }
        for r in 0..<m {
            ActivationRounding.roundTripReference(dotType, a + r * lda, x, count: k)
            for n in 0..<w.rows {
                w.dequantize(row: n, k0: 0, count: k, into: wr)
                var acc = [Float](repeating: 0, count: 8)
                for kk in 0..<k { acc[kk % 8] = acc[kk % 8].addingProduct(wr[kk], x[kk]) }
                c[r * ldc + n] = VectorMath.laneTree { acc[$0] }
            }
        }
    }
}
