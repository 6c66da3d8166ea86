#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The elementwise functions of ggml's CPU backend that the forward pass uses, with ggml's
// numerics: the vectorized exponential `ggml_v_expf` (ggml-cpu.c, AVX-512 branch: a degree-5
// polynomial on the reduced argument, scaled by 2^n), SiLU and the softmax row kernel
// (`ggml_vec_soft_max_f32`), whose 16-lane partial sums are reduced like `_mm512_reduce_add_ps`
// and accumulated in double. Lanes past the end of a row use libm's `expf`, as ggml's tails do.

public enum VectorMath {
    /// ggml's `ggml_v_expf` on 16 lanes (maximum error about 1.5 ulp; below about -103.9 the
    /// result is 0, above 88.7 it is +inf).
    @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let r = SIMD16<Float>(repeating: 0x1.8p23)
        let z = r.addingProduct(x, SIMD16<Float>(repeating: 0x1.715476p+0))
        let n = z - r
        let b0 = x.addingProduct(-n, SIMD16<Float>(repeating: 0x1.62e4p-1))
        let b = b0.addingProduct(-n, SIMD16<Float>(repeating: 0x1.7f7d1cp-20))
        let u = b * b
        let p54 = SIMD16<Float>(repeating: 0x1.573e2ep-5).addingProduct(SIMD16<Float>(repeating: 0x1.0e4020p-7), b)
        let p32 = SIMD16<Float>(repeating: 0x1.fffdb6p-2).addingProduct(SIMD16<Float>(repeating: 0x1.555e66p-3), b)
        let p10 = SIMD16<Float>(repeating: 1).addingProduct(SIMD16<Float>(repeating: 0x1.ffffecp-1), b)
        let j = p10.addingProduct(p32.addingProduct(p54, u), u)
        // j · 2^n: exact exponent arithmetic while 2^n is a normal float.
        let inRange = (n .>= SIMD16<Float>(repeating: -126)) .& (n .<= SIMD16<Float>(repeating: 127))
        if all(inRange) {
            // z = n + 1.5·2^23 holds n in its low mantissa bits: shifted into the exponent field
            // and added to the bits of 1.0 they give 2^n.
            let e = (unsafeBitCast(z, to: SIMD16<UInt32>.self) &<< 23) &+ 0x3F80_0000
            return j * unsafeBitCast(e, to: SIMD16<Float>.self)
        }
        var out = SIMD16<Float>()
        for i in 0..<16 { out[i] = scaleOutOfRange(j[i], n[i]) }
        return out
    }

    /// `_mm512_scalef_ps` lane semantics for the rare lanes outside the normal exponent range,
    /// including ggml's saturation beyond |n| > 192.
    @inline(never)
    static func scaleOutOfRange(_ j: Float, _ n: Float) -> Float {
        if n.isNaN { return .nan }
        if abs(n) > 192 { return n <= 0 ? 0 : .infinity }
        if j.isNaN { return .nan }
        if n >= -126 && n <= 127 { return j * Float(sign: .plus, exponent: Int(n), significand: 1) }
        return Float(sign: .plus, exponent: Int(n), significand: j)
    }

    /// ggml's scalar SiLU, `x / (1 + expf(-x))` (`ggml_silu_f32`).
    @inline(__always)
    public static func siluScalar(_ x: Float) -> Float {
        x / (1 + expf(-x))
    }

    /// `y = silu(x)` as `ggml_vec_silu_f32`: the vector form on 16-lane groups, libm on the tail.
    public static func silu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let one = SIMD16<Float>(repeating: 1)
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let s = v / (one + exp(-v))
            UnsafeMutableRawPointer(y + i).storeBytes(of: s, as: SIMD16<Float>.self)
            i += 16
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

    /// Sum of 16 lanes paired as `_mm512_reduce_add_ps` pairs them: (i, i+8), (i, i+4), (i, i+2), (i, i+1).
    @inline(__always)
    public static func reduceAdd(_ v: SIMD16<Float>) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// One softmax row in place, as `ggml_compute_forward_soft_max_f32` treats a causal row whose
    /// masked tail is -inf: `x` holds `valid` scores, already multiplied by the scale; lanes from
    /// `valid` up to the next multiple of 16 count as exp(-inf) = 0 and are written as 0.
    /// Returns nothing; `x[0..<valid]` becomes the probabilities, `x[valid..<padded]` zeros.
    /// The buffer must hold `(valid + 15) / 16 * 16` floats.
    public static func softmaxRow(_ x: UnsafeMutablePointer<Float>, valid: Int) {
        precondition(valid > 0, "a softmax row needs at least one unmasked score")
        let padded = (valid + 15) & ~15
        var maxv = -Float.infinity
        for i in 0..<valid { maxv = Swift.max(maxv, x[i]) }
        let m = SIMD16<Float>(repeating: maxv)
        var sum: Double = 0
        var i = 0
        while i < padded {
            let p = UnsafeMutableRawPointer(x + i)
            var e: SIMD16<Float>
            if i + 16 <= valid {
                e = exp(p.loadUnaligned(as: SIMD16<Float>.self) - m)
            } else {
                var v = SIMD16<Float>(repeating: -.infinity)
                for l in 0..<(valid - i) { v[l] = x[i + l] }
                e = exp(v - m)
                // exp(-inf) is 0 in ggml_v_expf; make it explicit for the padded lanes.
                for l in (valid - i)..<16 { e[l] = 0 }
            }
            p.storeBytes(of: e, as: SIMD16<Float>.self)
            sum += Double(reduceAdd(e))
            i += 16
        }
        let inv = Float(1.0 / sum)
        i = 0
        while i < padded {
            let p = UnsafeMutableRawPointer(x + i)
            p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) * inv, as: SIMD16<Float>.self)
            i += 16
        }
    }
}
