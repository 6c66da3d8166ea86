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
    #endif
}
