// The register-blocked core of the f32 matrix product: a 12 × 32 tile of C accumulated over
// `k` steps from a packed A panel (12 rows interleaved per k: a[k·12 + i]) and a B panel
// (32 consecutive columns per k at stride `bStride`: b[k·bStride + j]). 24 SIMD16 accumulators,
// two B loads and twelve broadcasts per step, fused multiply-add (the default build targets the
// host CPU; on a baseline build `addProduct` is still correct, only slower).

public enum MicroKernel {
    /// Rows of A per tile.
    public static let mr = 12
    /// Columns of B per tile.
    public static let nr = 32

    /// `C[i][j] (+)= Σ_k a[k·12 + i] · b[k·bStride + j]` for i < 12, j < 32.
    /// `c` rows are `ldc` floats apart; with `accumulate` false the tile is overwritten.
    @inline(never)
    public static func tile(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bStride: Int,
                            _ c: UnsafeMutablePointer<Float>, ldc: Int, k: Int, accumulate: Bool) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>()
        var c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>()
        var c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        var c40 = SIMD16<Float>(), c41 = SIMD16<Float>()
        var c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
        var c60 = SIMD16<Float>(), c61 = SIMD16<Float>()
        var c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
        var c80 = SIMD16<Float>(), c81 = SIMD16<Float>()
        var c90 = SIMD16<Float>(), c91 = SIMD16<Float>()
        var ca0 = SIMD16<Float>(), ca1 = SIMD16<Float>()
        var cb0 = SIMD16<Float>(), cb1 = SIMD16<Float>()
        var ap = a
        var bp = UnsafeRawPointer(b)
        let bStep = bStride * 4
        for _ in 0..<k {
            let b0 = bp.loadUnaligned(as: SIMD16<Float>.self)
            let b1 = bp.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            var s = SIMD16<Float>(repeating: ap[0]); c00.addProduct(s, b0); c01.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[1]); c10.addProduct(s, b0); c11.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[2]); c20.addProduct(s, b0); c21.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[3]); c30.addProduct(s, b0); c31.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[4]); c40.addProduct(s, b0); c41.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[5]); c50.addProduct(s, b0); c51.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[6]); c60.addProduct(s, b0); c61.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[7]); c70.addProduct(s, b0); c71.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[8]); c80.addProduct(s, b0); c81.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[9]); c90.addProduct(s, b0); c91.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[10]); ca0.addProduct(s, b0); ca1.addProduct(s, b1)
            s = SIMD16<Float>(repeating: ap[11]); cb0.addProduct(s, b0); cb1.addProduct(s, b1)
            ap += 12
            bp += bStep
        }
        let out = UnsafeMutableRawPointer(c)
        let rowBytes = ldc * 4
        @inline(__always) func put(_ i: Int, _ v0: SIMD16<Float>, _ v1: SIMD16<Float>) {
            let q = out + i * rowBytes
            if accumulate {
                q.storeBytes(of: q.loadUnaligned(as: SIMD16<Float>.self) + v0, as: SIMD16<Float>.self)
                q.storeBytes(of: q.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) + v1,
                             toByteOffset: 64, as: SIMD16<Float>.self)
            } else {
                q.storeBytes(of: v0, as: SIMD16<Float>.self)
                q.storeBytes(of: v1, toByteOffset: 64, as: SIMD16<Float>.self)
            }
        }
        put(0, c00, c01); put(1, c10, c11); put(2, c20, c21); put(3, c30, c31)
        put(4, c40, c41); put(5, c50, c51); put(6, c60, c61); put(7, c70, c71)
        put(8, c80, c81); put(9, c90, c91); put(10, ca0, ca1); put(11, cb0, cb1)
    }

    /// The scalar twin of `tile` (same contract), for tests.
    public static func tileReference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, bStride: Int,
                                     _ c: UnsafeMutablePointer<Float>, ldc: Int, k: Int, accumulate: Bool) {
        for i in 0..<mr {
            for j in 0..<nr {
                var s: Float = 0
                for kk in 0..<k { s += a[kk * mr + i] * b[kk * bStride + j] }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s
            }
        }
    }

    /// Packs rows `[row0, row0+12)` × columns `[k0, k0+k)` of a row-major matrix (`lda` floats per
    /// row, `rows` rows in all) into the A layout `dst[k·12 + i]`, zero-filling rows past the end.
    public static func packA(_ src: UnsafePointer<Float>, lda: Int, rows: Int, row0: Int, k0: Int, k: Int,
                             into dst: UnsafeMutablePointer<Float>) {
        let valid = Swift.max(0, Swift.min(mr, rows - row0))
        for i in 0..<mr {
            if i < valid {
                let s = src + (row0 + i) * lda + k0
                for kk in 0..<k { dst[kk * mr + i] = s[kk] }
            } else {
                for kk in 0..<k { dst[kk * mr + i] = 0 }
            }
        }
    }
}
