#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Running sums of llama-perplexity's `--kl-divergence` mode (perplexity.cpp
/// `kl_divergence_result`), with the same mixture of f32 and double arithmetic.
struct KLDivergenceSums {
    var sumNLL = 0.0, sumNLL2 = 0.0
    var sumNLLBase = 0.0, sumNLLBase2 = 0.0
    var sumNLLNLLBase = 0.0
    var sumKLD = 0.0, sumKLD2 = 0.0
    var sumPDiff = 0.0, sumPDiff2 = 0.0, sumPDiff4 = 0.0
    var maxPDiff: Float = 0
    var sameTop = 0
    var count = 0

    /// One token's contribution, computed by `compare`.
    struct Token {
        var nll: Float
        var nllBase: Float
        var kld: Double
        var pDiff: Float
        var sameTop: Bool
    }

    /// Compares current logits with one base record (perplexity.cpp's third `log_softmax`).
    static func compare(_ logits: UnsafeBufferPointer<Float>, record: UnsafePointer<UInt16>, token: Int) -> Token {
        var maxL = logits[0]
        var imax = 0
        for i in 1..<logits.count where logits[i] > maxL {
            maxL = logits[i]
            imax = i
        }
        let (_, s) = TokenScoring.maxAndSumExp(logits)
        let logSumExp = Float(log(s))
        let raw = UnsafeRawPointer(record)
        let scale = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self)))
        let minLogProb = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        let base = record + 4
        let nll = maxL + logSumExp - logits[token]
        let nllBase = -(scale * Float(base[token]) + minLogProb)
        let shift = maxL + logSumExp
        var sum = 0.0
        var imaxBase = -1
        var pMax: Float = 0
        for i in 0..<logits.count {
            let pLogBase = scale * Float(base[i]) + minLogProb
            if i == 0 || pLogBase > pMax {
                pMax = pLogBase
                imaxBase = i
            }
            if pLogBase > -16 {
                let pBase = expf(pLogBase)
                sum += Double(pBase * (pLogBase - logits[i] + shift))
            }
        }
        let pDiff = expf(-nll) - expf(-nllBase)
        return Token(nll: nll, nllBase: nllBase, kld: sum, pDiff: pDiff, sameTop: imax == imaxBase)
    }

    mutating func add(_ t: Token) {
        sumNLL += Double(t.nll)
        sumNLL2 += Double(t.nll * t.nll)
        sumNLLBase += Double(t.nllBase)
        sumNLLBase2 += Double(t.nllBase * t.nllBase)
        sumNLLNLLBase += Double(t.nll * t.nllBase)
        sumKLD += t.kld
        sumKLD2 += t.kld * t.kld
        count += 1
        if t.sameTop { sameTop += 1 }
        sumPDiff += Double(t.pDiff)
        let d2 = Double(t.pDiff * t.pDiff)
        sumPDiff2 += d2
        sumPDiff4 += d2 * d2
        maxPDiff = Swift.max(maxPDiff, abs(t.pDiff))
    }

    /// perplexity.cpp `mean_and_uncertainty`: mean and its standard error (0 unless count > 10).
    static func meanAndUncertainty(_ sum: Double, _ sum2: Double, _ count: Int) -> (Double, Double) {
        guard count >= 1 else { return (0, 0) }
        let n = Double(count)
        let f = sum / n
        var df = sum2 / n - f * f
        df = df > 0 && count > 10 ? (df / (n - 1)).squareRoot() : 0
        return (f, df)
    }

    /// perplexity.cpp `covariance` (0 below 10 samples).
    static func covariance(_ a: Double, _ b: Double, _ ab: Double, _ count: Int) -> Double {
        guard count >= 10 else { return 0 }
        let n = Double(count)
        return (ab / n - (a / n) * (b / n)) / (n - 1)
    }

    /// The linear-interpolation percentile of sorted f32 values (perplexity.cpp `percentile`).
    static func percentile(_ v: [Float], _ fraction: Float) -> Float {
        if fraction <= 0 { return v[0] }
        if fraction >= 1 { return v[v.count - 1] }
        var p = fraction * Float(v.count - 1)
        let ip = Int(p)
        p -= Float(ip)
        return (1 - p) * v[ip] + p * v[Swift.min(ip + 1, v.count - 1)]
    }

    /// The median of sorted f32 values, as perplexity.cpp computes it.
    static func median(_ v: [Float]) -> Float {
        v.count % 2 == 0 ? 0.5 * (v[v.count / 2] + v[v.count / 2 - 1]) : v[v.count / 2]
    }
}
