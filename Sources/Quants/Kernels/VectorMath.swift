#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The elementwise functions of ggml's CPU backend that the forward pass uses, with the numerics of
// llama.cpp b4748 built for x86-64 with AVX2 + FMA (its default portable build and the build
// behind the reference logs): the vectorized exponential `ggml_v_expf` (ggml-cpu.c, AVX2 branch:
// a degree-5 polynomial on the reduced argument, `k + k·j` with k = 2^n), SiLU on groups of 8 and
// the softmax row kernel (`ggml_vec_soft_max_f32`), whose 8-lane partial sums are reduced like
// `(x4+x0, x5+x1, x6+x2, x7+x3)` → `(s0+s2) + (s1+s3)` and accumulated in double. Elements past
// the last whole group of 8 use libm's `expf`, as ggml's tails do. SIMD16 lanes compute exactly
// what two AVX2 registers compute, lane by lane.

public enum VectorMath {
    /// Lane by lane f32 → f64. The generic `SIMD8<Double>(_: SIMD8<Float>)` is not specialized
    /// across modules: it ran as a call per vector.
    @inlinable @inline(__always)
    public static func widen(_ x: SIMD8<Float>) -> SIMD8<Double> {
        var r = SIMD8<Double>()
        for l in 0..<8 { r[l] = Double(x[l]) }
        return r
    }

    /// Lane by lane f64 → f32, rounded to nearest.
    @inlinable @inline(__always)
    public static func narrow(_ x: SIMD8<Double>) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for l in 0..<8 { r[l] = Float(x[l]) }
        return r
    }

    /// Stores the first `width` lanes of `v` at `p` (all 16 with one vector store; none when
    /// `width` ≤ 0): the partial last panel of a GEMM tile.
    @inline(__always)
    public static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, width: Int) {
        if width >= 16 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
        } else if width > 0 {
            for j in 0..<width { p[j] = v[j] }
        }
    }

    /// ggml's `ggml_v_expf` (AVX2 branch) on 16 lanes: below about -103.9 the result is 0, above
    /// about 88.4 it is +inf, exp(-inf) = 0. Transparent: as `@inlinable @inline(__always)` it
    /// stayed a call from other modules (the flash-attention softmax), its SIMD16 argument and result
    /// passed as four xmm registers each.
    @_transparent
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let r = SIMD16<Float>(repeating: 0x1.8p23)
        let z = r.addingProduct(x, SIMD16<Float>(repeating: 0x1.715476p+0))
        let n = z - r
        let b = x.addingProduct(-n, SIMD16<Float>(repeating: 0x1.62e4p-1))
            .addingProduct(-n, SIMD16<Float>(repeating: 0x1.7f7d1cp-20))
        let e = unsafeBitCast(z, to: SIMD16<UInt32>.self) &<< 23
        let k = unsafeBitCast(e &+ 0x3F80_0000, to: SIMD16<Float>.self)
        let u = b * b
        let p54 = SIMD16<Float>(repeating: 0x1.573e2ep-5).addingProduct(SIMD16<Float>(repeating: 0x1.0e4020p-7), b)
        let p32 = SIMD16<Float>(repeating: 0x1.fffdb6p-2).addingProduct(SIMD16<Float>(repeating: 0x1.555e66p-3), b)
        let j = (SIMD16<Float>(repeating: 0x1.ffffecp-1) * b).addingProduct(p32.addingProduct(p54, u), u)
        let big = magnitude(n) .> SIMD16<Float>(repeating: 126)
        if !anyLane(big) { return k.addingProduct(j, k) }
        // Lanes with |n| > 126: 2^n split into two factors (s1, s2), or saturated beyond 192.
        let g = SIMD16<UInt32>(repeating: 0).replacing(with: 0x8200_0000, where: n .<= SIMD16<Float>(repeating: 0))
        let s1 = unsafeBitCast(g &+ 0x7F00_0000, to: SIMD16<Float>.self)
        let s2 = unsafeBitCast(e &- g, to: SIMD16<Float>.self)
        let huge = magnitude(n) .> SIMD16<Float>(repeating: 192)
        let scaled = s2.addingProduct(s2, j) * s1
        return k.addingProduct(j, k).replacing(with: scaled, where: big).replacing(with: s1 * s1, where: huge)
    }

    /// The scalar twin of `exp`: one lane of ggml's AVX2 `ggml_v_expf`, written out operation by
    /// operation (each `addingProduct` is one of its fused multiply-adds).
    public static func expReference(_ x: Float) -> Float {
        let z = Float(0x1.8p23).addingProduct(x, 0x1.715476p+0)
        let n = z - 0x1.8p23
        let b = x.addingProduct(-n, 0x1.62e4p-1).addingProduct(-n, 0x1.7f7d1cp-20)
        let e = z.bitPattern &<< 23
        let k = Float(bitPattern: e &+ 0x3F80_0000)
        let u = b * b
        let c54 = Float(0x1.573e2ep-5).addingProduct(0x1.0e4020p-7, b)
        let c32 = Float(0x1.fffdb6p-2).addingProduct(0x1.555e66p-3, b)
        let j = (Float(0x1.ffffecp-1) * b).addingProduct(c32.addingProduct(c54, u), u)
        if !(abs(n) > 126) { return k.addingProduct(j, k) }
        let g: UInt32 = n <= 0 ? 0x8200_0000 : 0
        let s1 = Float(bitPattern: g &+ 0x7F00_0000)
        if abs(n) > 192 { return s1 * s1 }
        let s2 = Float(bitPattern: e &- g)
        return s2.addingProduct(s2, j) * s1
    }

    /// Whether any lane of `mask` is set, by halving (the standard library's `any` is a generic
    /// call here).
    @inlinable @inline(__always)
    static func anyLane(_ mask: SIMDMask<SIMD16<Int32>>) -> Bool {
        let v = SIMD16<Int32>(repeating: 0).replacing(with: 1, where: mask)
        let h8 = v.lowHalf | v.highHalf
        let h4 = h8.lowHalf | h8.highHalf
        let h2 = h4.lowHalf | h4.highHalf
        return (h2[0] | h2[1]) != 0
    }

    /// |v| lane by lane.
    @inlinable @inline(__always)
    static func magnitude(_ v: SIMD16<Float>) -> SIMD16<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
    }

    /// ggml's scalar SiLU, `x / (1 + expf(-x))` (`ggml_silu_f32`).
    @inline(__always)
    public static func siluScalar(_ x: Float) -> Float {
        x / (1 + expf(-x))
    }

    /// `y = silu(x)` as `ggml_vec_silu_f32` (AVX2): the vector form `x / (1 + exp(-x))` on whole
    /// groups of 8, libm on the tail.
    public static func silu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let one = SIMD16<Float>(repeating: 1)
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let s = v / (one + exp(SIMD16<Float>() - v))
            UnsafeMutableRawPointer(y + i).storeBytes(of: s, as: SIMD16<Float>.self)
            i += 16
        }
        if i + 8 <= count {
            var v = SIMD16<Float>()
            v.lowHalf = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let s = v / (one + exp(SIMD16<Float>() - v))
            UnsafeMutableRawPointer(y + i).storeBytes(of: s.lowHalf, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            y[i] = siluScalar(x[i])
            i += 1
        }
    }

    /// SwiGLU as ggml computes `ggml_mul(ggml_silu(gate), up)`: `y = silu(gate) · up`.
    public static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                              count: Int) {
        silu(gate, y, count: count)
        var i = 0
        while i + 16 <= count {
            let a = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: a * b, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            y[i] *= up[i]
            i += 1
        }
    }

    /// Sum of 8 lanes as ggml's AVX2 code reduces a register (`hsum_float_8`, the softmax and
    /// tinyBLAS `hsum`): `(x4+x0, x5+x1, x6+x2, x7+x3)`, then `(s0+s2) + (s1+s3)`.
    @inline(__always)
    public static func reduceAdd8(_ v: SIMD8<Float>) -> Float { laneTree { v[$0] } }

    /// ggml's reduction of eight accumulator lanes (`hsum_float_8`, tinyBLAS `hsum`):
    /// `(l4+l0, l5+l1, l6+l2, l7+l3)`, then `(s0+s2) + (s1+s3)`. `lane(n)` is lane n; with vectors
    /// it reduces many outputs at once, lane by lane.
    @inlinable @inline(__always)
    public static func laneTree(_ lane: (Int) -> Float) -> Float {
        ((lane(4) + lane(0)) + (lane(6) + lane(2))) + ((lane(5) + lane(1)) + (lane(7) + lane(3)))
    }

    /// `laneTree` on 16 outputs at once, lane by lane (concrete and inlinable: it sits in hot loops
    /// of other modules).
    @inlinable @inline(__always)
    public static func laneTree(_ lane: (Int) -> SIMD16<Float>) -> SIMD16<Float> {
        ((lane(4) + lane(0)) + (lane(6) + lane(2))) + ((lane(5) + lane(1)) + (lane(7) + lane(3)))
    }

    /// One softmax row in place, as `ggml_compute_forward_soft_max_f32` (AVX2) treats a causal row
    /// whose masked entries are -inf: `x` holds `valid` raw scores, which are first multiplied by
    /// `scale` (f32, as ggml's `ggml_vec_scale_f32`). ggml's row is the whole KV cache, in groups of
    /// 8 cells; this row's first score sits at cell offset `phase` (0..<8) of its group, and every
    /// other cell of a group is masked (exp(-inf) = 0). Each group is exponentiated with `exp`, its
    /// sum reduced with `reduceAdd8` and added in double; the probabilities are the values times
    /// `Float(1 / sum)`. Entries from `valid` to the next multiple of 16 are written as 0; the
    /// buffer must hold `(valid + 15) / 16 * 16` floats.
    public static func softmaxRow(_ x: UnsafeMutablePointer<Float>, valid: Int, scale: Float = 1, phase: Int = 0) {
        precondition(valid > 0, "a softmax row needs at least one unmasked score")
        precondition(phase >= 0 && phase < 8, "a cell offset within a group of 8")
        let padded16 = (valid + 15) & ~15
        // Scale, pad with -inf, and find the maximum.
        for j in valid..<padded16 { x[j] = -.infinity }
        var mv = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i < padded16 {
            let p = UnsafeMutableRawPointer(x + i)
            let v = p.loadUnaligned(as: SIMD16<Float>.self) * scale
            p.storeBytes(of: v, as: SIMD16<Float>.self)
            mv = mv.replacing(with: v, where: v .> mv)
            i += 16
        }
        var maxv = mv[0]
        for l in 1..<16 { maxv = Swift.max(maxv, mv[l]) }
        let m = SIMD16<Float>(repeating: maxv)
        // Groups of 8 cells; group g covers row entries 8g - phase ..< 8g - phase + 8.
        @inline(__always) func group(_ r0: Int) -> SIMD8<Float> {
            if r0 >= 0 && r0 + 8 <= valid { return UnsafeRawPointer(x + r0).loadUnaligned(as: SIMD8<Float>.self) }
            var v = SIMD8<Float>(repeating: -.infinity)
            for l in 0..<8 where r0 + l >= 0 && r0 + l < valid { v[l] = x[r0 + l] }
            return v
        }
        @inline(__always) func put(_ r0: Int, _ e: SIMD8<Float>) {
            if r0 >= 0 && r0 + 8 <= valid {
                UnsafeMutableRawPointer(x + r0).storeBytes(of: e, as: SIMD8<Float>.self)
            } else {
                for l in 0..<8 where r0 + l >= 0 && r0 + l < valid { x[r0 + l] = e[l] }
            }
        }
        var sum: Double = 0
        var r0 = -phase
        while r0 < valid {
            let second = r0 + 8 < valid
            let e = exp(SIMD16<Float>(lowHalf: group(r0),
                                      highHalf: second ? group(r0 + 8) : SIMD8<Float>(repeating: -.infinity)) - m)
            put(r0, e.lowHalf)
            sum += Double(reduceAdd8(e.lowHalf))
            if second {
                put(r0 + 8, e.highHalf)
                sum += Double(reduceAdd8(e.highHalf))
            }
            r0 += 16
        }
        for j in valid..<padded16 { x[j] = 0 }
        let inv = SIMD16<Float>(repeating: Float(1.0 / sum))
        i = 0
        while i < padded16 {
            let p = UnsafeMutableRawPointer(x + i)
            p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) * inv, as: SIMD16<Float>.self)
            i += 16
        }
    }
}
