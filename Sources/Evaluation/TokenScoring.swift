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
        var m = logits[0]
        for v in logits { m = Swift.max(m, v) }
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        let n = logits.count
        var i = 0
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
