#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Per-token scoring of llama-perplexity (examples/perplexity/perplexity.cpp, the three
// `log_softmax` overloads): f32 `expf` of `logit - max` summed in double, the log taken in double.

enum TokenScoring {
    /// Largest logit (f32) and `Σ expf(logit - max)` in double.
    @inline(__always)
    static func maxAndSumExp(_ logits: UnsafeBufferPointer<Float>) -> (max: Float, sum: Double) {
        let m = maxLogit(logits)
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        let n = logits.count
        var i = 0
        if LibmExpf.matchesLibrary {
            // Eight expf at a time (the same bits), summed in the same four chains: lane j of
            // `chains` is s_j, and each half of the eight adds one value to every chain.
            let p = UnsafeRawPointer(logits.baseAddress!), mv = SIMD8<Float>(repeating: m)
            var chains = SIMD4<Double>()
            while i + 8 <= n {
                let e = LibmExpf.widen(LibmExpf.exp8(p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) - mv))
                chains += e.lowHalf
                chains += e.highHalf
                i += 8
            }
            (s0, s1, s2, s3) = (chains[0], chains[1], chains[2], chains[3])
        }
        while i + 4 <= n {
            s0 += Double(expf(logits[i] - m))
            s1 += Double(expf(logits[i + 1] - m))
            s2 += Double(expf(logits[i + 2] - m))
            s3 += Double(expf(logits[i + 3] - m))
            i += 4
        }
        while i < n {
            s0 += Double(expf(logits[i] - m))
            i += 1
        }
        return (m, (s0 + s1) + (s2 + s3))
    }

    /// `logits.reduce(logits[0], Swift.max)`: the same value (a NaN counts only as the first
    /// element; which zero a row of zeros keeps does not change `logit - max`), sixteen lanes at a time.
    @inline(__always)
    static func maxLogit(_ logits: UnsafeBufferPointer<Float>) -> Float {
        let n = logits.count, p = UnsafeRawPointer(logits.baseAddress!)
        var m = logits[0]
        var i = 0
        if n >= 64 {
            var m0 = SIMD16<Float>(repeating: m), m1 = m0, m2 = m0, m3 = m0
            while i + 64 <= n {
                let v0 = p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                let v1 = p.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self)
                let v2 = p.loadUnaligned(fromByteOffset: 4 * i + 128, as: SIMD16<Float>.self)
                let v3 = p.loadUnaligned(fromByteOffset: 4 * i + 192, as: SIMD16<Float>.self)
                m0 = m0.replacing(with: v0, where: v0 .>= m0); m1 = m1.replacing(with: v1, where: v1 .>= m1)
                m2 = m2.replacing(with: v2, where: v2 .>= m2); m3 = m3.replacing(with: v3, where: v3 .>= m3)
                i += 64
            }
            m0 = m0.replacing(with: m1, where: m1 .>= m0); m2 = m2.replacing(with: m3, where: m3 .>= m2)
            m0 = m0.replacing(with: m2, where: m2 .>= m0)
            for l in 0..<16 { m = Swift.max(m, m0[l]) }
        }
        while i < n {
            m = Swift.max(m, logits[i])
            i += 1
        }
        return m
    }

    /// Negative log-likelihood of `token` as the plain perplexity run computes it:
    /// `-((logit[tok] - max) - log(Σ))` with the f32 difference and a double log.
    static func nll(_ logits: UnsafeBufferPointer<Float>, token: Int) -> Double {
        let (m, s) = maxAndSumExp(logits)
        let lp = Double(logits[token] - m) - log(s)
        return -lp
    }

    /// Number of u16 slots of one record of the KL-divergence base file: two f32 (scale, min
    /// log-prob) then the log-probs, padded to an even count.
    static func recordLength(vocabulary nv: Int) -> Int { 2 * ((nv + 1) / 2) + 4 }

    /// Writes the base-file record of one position into `record` (`recordLength` u16) and
    /// returns the f32 negative log-likelihood of `token`, as llama-perplexity does when saving
    /// `--kl-divergence-base`.
    static func encode(_ logits: UnsafeBufferPointer<Float>, token: Int, into record: UnsafeMutablePointer<UInt16>) -> Double {
        var maxL = logits[0], minL = logits[0]
        for v in logits {
            maxL = Swift.max(maxL, v)
            minL = Swift.min(minL, v)
        }
        minL = Swift.max(minL, maxL - 16)
        let (_, s) = maxAndSumExp(logits)
        let logSumExp = Float(log(s))
        let minLogProb = minL - maxL - logSumExp
        let scale = (maxL - minL) / 65535
        let raw = UnsafeMutableRawPointer(record)
        raw.storeBytes(of: scale.bitPattern.littleEndian, as: UInt32.self)
        raw.storeBytes(of: minLogProb.bitPattern.littleEndian, toByteOffset: 4, as: UInt32.self)
        let q = record + 4
        if scale != 0 {
            let inv = 1 / scale
            for (i, v) in logits.enumerated() {
                q[i] = v > minL ? UInt16(truncatingIfNeeded: nearestInt(inv * (v - minL))) : 0
            }
        } else {
            for i in 0..<logits.count { q[i] = 0 }
        }
        return Double(maxL + logSumExp - logits[token])
    }

    /// ggml's `nearest_int` (round half to even through the 1.5·2^23 trick).
    @inline(__always)
    static func nearestInt(_ f: Float) -> Int32 {
        let v = f + 12582912
        return (Int32(bitPattern: v.bitPattern) & 0x007F_FFFF) &- 0x0040_0000
    }
}
