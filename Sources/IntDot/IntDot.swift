// Integer dot-product instructions the optimizer cannot reach from ordinary Swift.
//
// LLVM selects AVX-512 VNNI `vpdpbusd` (sixteen 4-byte u8 × s8 dot products added to int32 lanes)
// only from whole-vector reductions, never from the per-lane 4-element sums the lane kernels
// need, and Swift has no intrinsics. Native builds on a CPU with AVX-512 VNNI (Package.swift sets
// GGUF_VNNI from /proc/cpuinfo) compile this module with `-parse-stdlib` and call the LLVM
// intrinsic through a builtin; every other build gets the same function as a plain lane loop and
// `IntDot.vnni == false`, so callers keep their float kernels there.

#if GGUF_VNNI
import Swift
#endif

public enum IntDot {
    #if GGUF_VNNI
    /// Whether `dpbusd` is one instruction (callers choose their integer kernels on it).
    @inlinable public static var vnni: Bool { true }

    /// `acc[i] + Σ_{t<4} u8(u[i] byte t) · s8(s[i] byte t)` on each of the sixteen lanes, with
    /// wrap-around int32 addition (`vpdpbusd`).
    @inlinable @inline(__always)
    public static func dpbusd(_ acc: SIMD16<Int32>, _ u: SIMD16<Int32>, _ s: SIMD16<Int32>) -> SIMD16<Int32> {
        let r = Builtin.int_x86_avx512_vpdpbusd_512(acc._storage._value, u._storage._value, s._storage._value)
        var out = SIMD16<Int32>()
        out._storage._value = r
        return out
    }

    /// `acc[i] + lo16(a[i])·lo16(b[i]) + hi16(a[i])·hi16(b[i])` on each of the sixteen lanes (the
    /// halves as signed 16-bit integers), with wrap-around int32 addition (`vpdpwssd`).
    @inlinable @inline(__always)
    public static func dpwssd(_ acc: SIMD16<Int32>, _ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32> {
        let r = Builtin.int_x86_avx512_vpdpwssd_512(acc._storage._value, a._storage._value, b._storage._value)
        var out = SIMD16<Int32>()
        out._storage._value = r
        return out
    }

    /// The sixteen int32 lanes converted to f32, rounded to nearest even (`vcvtdq2ps`).
    @inlinable @inline(__always)
    public static func toFloat(_ v: SIMD16<Int32>) -> SIMD16<Float> {
        var out = SIMD16<Float>()
        out._storage._value = Builtin.sitofp_Vec16xInt32_Vec16xFPIEEE32(v._storage._value)
        return out
    }
    #else
    /// Whether `dpbusd` is one instruction (callers choose their integer kernels on it).
    @inlinable public static var vnni: Bool { false }

    /// `acc[i] + Σ_{t<4} u8(u[i] byte t) · s8(s[i] byte t)` on each of the sixteen lanes, with
    /// wrap-around int32 addition (`vpdpbusd`'s definition, one lane at a time).
    @inlinable
    public static func dpbusd(_ acc: SIMD16<Int32>, _ u: SIMD16<Int32>, _ s: SIMD16<Int32>) -> SIMD16<Int32> {
        var out = acc
        for i in 0..<16 {
            let x = UInt32(bitPattern: u[i]), y = UInt32(bitPattern: s[i])
            var sum: Int32 = 0
            for t in 0..<4 {
                let ub = Int32((x >> (8 * UInt32(t))) & 0xFF)
                let sb = Int32(Int8(truncatingIfNeeded: y >> (8 * UInt32(t))))
                sum &+= ub &* sb
            }
            out[i] = out[i] &+ sum
        }
        return out
    }

    /// `acc[i] + lo16(a[i])·lo16(b[i]) + hi16(a[i])·hi16(b[i])` on each of the sixteen lanes (the
    /// halves as signed 16-bit integers), with wrap-around int32 addition (`vpdpwssd`'s definition).
    @inlinable
    public static func dpwssd(_ acc: SIMD16<Int32>, _ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> SIMD16<Int32> {
        var out = acc
        for i in 0..<16 {
            let lo = Int32(Int16(truncatingIfNeeded: a[i])) &* Int32(Int16(truncatingIfNeeded: b[i]))
            let hi = Int32(Int16(truncatingIfNeeded: a[i] >> 16)) &* Int32(Int16(truncatingIfNeeded: b[i] >> 16))
            out[i] = out[i] &+ lo &+ hi
        }
        return out
    }

    /// The sixteen int32 lanes converted to f32, rounded to nearest even.
    @inlinable
    public static func toFloat(_ v: SIMD16<Int32>) -> SIMD16<Float> { SIMD16<Float>(v) }
    #endif
}
