#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// glibc's `expf` eight lanes at a time, for the Σ expf(logit − max) of token scoring.
//
// glibc 2.36 on x86-64 with FMA runs `__expf_fma` (sysdeps/ieee754/flt-32/e_expf.c built with
// -mfma): in double, k = round(x·32/ln2) by adding 1.5·2^52 (fused), r = x·32/ln2 − k (fused),
// s = 2^(k/32) from a 32-entry table with k's high bits added to the exponent, then
// `y = fma(fma(C0, r, C1), r², fma(r, C2, 1)) · s`, rounded to f32. The same operations on
// vectors give the same bits. Lanes outside its main range (|x| ≥ 88, NaN, ±inf), where glibc
// branches, go through `expf` itself. Before the first use the lanes are compared with the
// library's `expf` on a spread of inputs; if any differs (another libm, or a CPU without FMA where
// glibc picks `__expf_sse2`), every value goes through `expf`.

enum LibmExpf {
    /// `__exp2f_data.tab`: the bits of 2^(i/32) minus `i << 47`.
    static let table: [UInt64] = [
        0x3ff0_0000_0000_0000, 0x3fef_d9b0_d315_8574, 0x3fef_b558_6cf9_890f, 0x3fef_9301_d012_5b51,
        0x3fef_72b8_3c7d_517b, 0x3fef_5487_3168_b9aa, 0x3fef_387a_6e75_6238, 0x3fef_1e9d_f51f_dee1,
        0x3fef_06fe_0a31_b715, 0x3fee_f1a7_373a_a9cb, 0x3fee_dea6_4c12_3422, 0x3fee_ce08_6061_892d,
        0x3fee_bfda_d536_2a27, 0x3fee_b42b_569d_4f82, 0x3fee_ab07_dd48_5429, 0x3fee_a47e_b03a_5585,
        0x3fee_a09e_667f_3bcd, 0x3fee_9f75_e8ec_5f74, 0x3fee_a114_73eb_0187, 0x3fee_a589_994c_ce13,
        0x3fee_ace5_422a_a0db, 0x3fee_b737_b0cd_c5e5, 0x3fee_c491_82a3_f090, 0x3fee_d503_b23e_255d,
        0x3fee_e89f_995a_d3ad, 0x3fee_ff76_f2fb_5e47, 0x3fef_199b_dd85_529c, 0x3fef_3720_dcef_9069,
        0x3fef_5818_dcfb_a487, 0x3fef_7c97_337b_9b5f, 0x3fef_a4af_a2a4_90da, 0x3fef_d076_5b6e_4540,
    ]
    static let invLn2N = Double(bitPattern: 0x4047_1547_652b_82fe)  // 32/ln 2
    static let shift = Double(bitPattern: 0x4338_0000_0000_0000)    // 1.5·2^52
    static let c0 = Double(bitPattern: 0x3ebc_6af8_4b91_2394)
    static let c1 = Double(bitPattern: 0x3f2e_bfce_50fa_c4f3)
    static let c2 = Double(bitPattern: 0x3f96_2e42_ff0c_52d6)

    /// Whether `exp8` gives this process's `expf` bits (checked once).
    static let matchesLibrary: Bool = {
        var x: Float = -0.0
        var probes: [Float] = [0, -0.0, 1e-30, -1e-30, 87.9, -87.9, -88, -100, -104, .infinity, -.infinity, .nan]
        // A geometric walk over the negative floats plus every 4093rd bit pattern of [-88, 88].
        while x > -88 { probes.append(x); x = x * 1.000_37 - 1e-7 }
        var bits: UInt32 = 0
        while bits < 0x42b0_0000 {
            probes.append(Float(bitPattern: bits)); probes.append(-Float(bitPattern: bits))
            bits &+= 4093
        }
        while probes.count % 8 != 0 { probes.append(0) }
        var i = 0
        while i < probes.count {
            let v = SIMD8<Float>(probes[i..<(i + 8)])
            let y = exp8(v)
            for l in 0..<8 where y[l].bitPattern != expf(v[l]).bitPattern { return false }
            i += 8
        }
        return true
    }()

    /// Lane by lane f32 → f64 (the generic `SIMD8<Double>(_:)` ran as a call per vector; this file
    /// stays free of the other modules for the kld-base fuzz target, so not `VectorMath.widen`).
    @inline(__always)
    static func widen(_ x: SIMD8<Float>) -> SIMD8<Double> {
        var r = SIMD8<Double>()
        for l in 0..<8 { r[l] = Double(x[l]) }
        return r
    }

    /// Lane by lane f64 → f32, rounded to nearest.
    @inline(__always)
    static func narrow(_ x: SIMD8<Double>) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for l in 0..<8 { r[l] = Float(x[l]) }
        return r
    }

    /// `expf` of each lane, as glibc's `__expf_fma` computes it.
    @inline(__always)
    static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // |x| < 88 (top 12 bits of the f32 ≤ 0x42a, as glibc tests): the main path. A lane is
        // outside it when its magnitude bits reach 0x42b00000, which sets bit 31 of the sum below
        // (integer lanes: a vector compare here compiled to a loop of scalar compares).
        let outside = ((unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff) &+ 0x3d50_0000) &>> 31
        let xd = widen(x)
        let kdShifted = SIMD8<Double>(repeating: shift).addingProduct(SIMD8<Double>(repeating: invLn2N), xd)
        let ki = unsafeBitCast(kdShifted, to: SIMD8<UInt64>.self)
        let kd = kdShifted - SIMD8<Double>(repeating: shift)
        let r = (-kd).addingProduct(SIMD8<Double>(repeating: invLn2N), xd)
        var t = SIMD8<UInt64>()
        table.withUnsafeBufferPointer { tab in
            for l in 0..<8 { t[l] = tab[Int(truncatingIfNeeded: ki[l] & 31)] }
        }
        t &+= ki &<< 47
        let s = unsafeBitCast(t, to: SIMD8<Double>.self)
        let z = SIMD8<Double>(repeating: c1).addingProduct(SIMD8<Double>(repeating: c0), r)
        let r2 = r * r
        let y0 = SIMD8<Double>(repeating: 1).addingProduct(r, SIMD8<Double>(repeating: c2))
        let y = y0.addingProduct(z, r2) * s
        var out = narrow(y)
        let halves = outside.lowHalf | outside.highHalf, quarters = halves.lowHalf | halves.highHalf
        if quarters[0] | quarters[1] != 0 {
            for l in 0..<8 where x[l].bitPattern & 0x7fff_ffff >= 0x42b0_0000 { out[l] = expf(x[l]) }
        }
        return out
    }
}
