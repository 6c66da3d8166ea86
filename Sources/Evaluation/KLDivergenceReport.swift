import Foundation

extension PerplexityRunner {
    /// The closing statistics of `--kl-divergence` (perplexity.cpp, end of `kl_divergence`).
    /// b4748 prints its "99.0% KLD" line twice; this prints the 95% and 90% lines there instead
    /// and adds the 0.1% line, as later llama.cpp versions do.
    func finalReport(_ k: KLDivergenceSums, kld: [Float], pDiff: [Float]) -> KLDivergenceSummary {
        typealias S = KLDivergenceSums
        var out = "====== Perplexity statistics ======\n"
        let logPPL = S.meanAndUncertainty(k.sumNLL, k.sumNLL2, k.count)
        let ppl = exp(logPPL.0), pplUnc = ppl * logPPL.1
        out += cFormat("Mean PPL(Q)                   : %10.6f ± %10.6f\n", ppl, pplUnc)
        let logBase = S.meanAndUncertainty(k.sumNLLBase, k.sumNLLBase2, k.count)
        let base = exp(logBase.0), baseUnc = base * logBase.1
        out += cFormat("Mean PPL(base)                : %10.6f ± %10.6f\n", base, baseUnc)
        let cov = S.covariance(k.sumNLL, k.sumNLLBase, k.sumNLLNLLBase, k.count)
        let cor = cov / (logPPL.1 * logBase.1)
        out += cFormat("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100 * cor)
        let ratio = logPPL.0 - logBase.0
        let ratioUnc = (logPPL.1 * logPPL.1 + logBase.1 * logBase.1 - 2 * cov).squareRoot()
        out += cFormat("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", ratio, ratioUnc)
        out += cFormat("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", exp(ratio), exp(ratio) * ratioUnc)
        let pplCov = ppl * base * cov
        let diffUnc = (pplUnc * pplUnc + baseUnc * baseUnc - 2 * pplCov).squareRoot()
        out += cFormat("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", ppl - base, diffUnc)
        out += "\n"

        out += "====== KL divergence statistics ======\n"
        let kl = S.meanAndUncertainty(k.sumKLD, k.sumKLD2, k.count)
        out += cFormat("Mean    KLD: %10.6f ± %10.6f\n", kl.0, kl.1)
        var kldTable: [String: Double] = [:]
        let kldRows: [(String, String, Float)] = [
            ("Maximum KLD", "max", kld[kld.count - 1]),
            ("99.9%   KLD", "99.9", S.percentile(kld, 0.999)), ("99.0%   KLD", "99.0", S.percentile(kld, 0.990)),
            ("95.0%   KLD", "95.0", S.percentile(kld, 0.950)), ("90.0%   KLD", "90.0", S.percentile(kld, 0.900)),
            ("Median  KLD", "median", S.median(kld)),
            ("10.0%   KLD", "10.0", S.percentile(kld, 0.100)), (" 5.0%   KLD", "5.0", S.percentile(kld, 0.050)),
            (" 1.0%   KLD", "1.0", S.percentile(kld, 0.010)), (" 0.1%   KLD", "0.1", S.percentile(kld, 0.001)),
            ("Minimum KLD", "min", kld[0]),
        ]
        for (label, key, v) in kldRows {
            out += label + cFormat(": %10.6f\n", Double(v))
            kldTable[key] = Double(v)
        }
        out += "\n"

        out += "====== Token probability statistics ======\n"
        let pd = S.meanAndUncertainty(k.sumPDiff, k.sumPDiff2, k.count)
        out += cFormat("Mean    Δp: %6.3f ± %5.3f %%\n", 100 * pd.0, 100 * pd.1)
        var pTable: [String: Double] = [:]
        let pRows: [(String, String, Float)] = [
            ("Maximum Δp", "max", pDiff[pDiff.count - 1]),
            ("99.9%   Δp", "99.9", S.percentile(pDiff, 0.999)), ("99.0%   Δp", "99.0", S.percentile(pDiff, 0.990)),
            ("95.0%   Δp", "95.0", S.percentile(pDiff, 0.950)), ("90.0%   Δp", "90.0", S.percentile(pDiff, 0.900)),
            ("75.0%   Δp", "75.0", S.percentile(pDiff, 0.750)), ("Median  Δp", "median", S.median(pDiff)),
            ("25.0%   Δp", "25.0", S.percentile(pDiff, 0.250)), ("10.0%   Δp", "10.0", S.percentile(pDiff, 0.100)),
            (" 5.0%   Δp", "5.0", S.percentile(pDiff, 0.050)), (" 1.0%   Δp", "1.0", S.percentile(pDiff, 0.010)),
            (" 0.1%   Δp", "0.1", S.percentile(pDiff, 0.001)), ("Minimum Δp", "min", pDiff[0]),
        ]
        for (label, key, v) in pRows {
            out += label + cFormat(": %6.3f%%\n", 100 * Double(v))
            pTable[key] = Double(v)
        }
        let mse = S.meanAndUncertainty(k.sumPDiff2, k.sumPDiff4, k.count)
        let rms = mse.0.squareRoot(), rmsUnc = 0.5 / rms * mse.1
        out += cFormat("RMS Δp    : %6.3f ± %5.3f %%\n", 100 * rms, 100 * rmsUnc)
        let top = Double(k.sameTop) / Double(k.count)
        let topUnc = (top * (1 - top) / Double(k.count - 1)).squareRoot()
        out += cFormat("Same top p: %6.3f ± %5.3f %%\n", 100 * top, 100 * topUnc)
        output(out, .result)
        return KLDivergenceSummary(
            meanPPLQ: ppl, meanPPLQUncertainty: pplUnc, meanPPLBase: base, meanPPLBaseUncertainty: baseUnc,
            lnPPLCorrelation: cor, meanLnPPLRatio: ratio, meanLnPPLRatioUncertainty: ratioUnc,
            meanPPLRatio: exp(ratio), meanPPLRatioUncertainty: exp(ratio) * ratioUnc,
            meanPPLDifference: ppl - base, meanPPLDifferenceUncertainty: diffUnc,
            meanKLD: kl.0, meanKLDUncertainty: kl.1, kldPercentiles: kldTable,
            meanDeltaP: pd.0, meanDeltaPUncertainty: pd.1, deltaPPercentiles: pTable,
            rmsDeltaP: rms, rmsDeltaPUncertainty: rmsUnc, sameTop: top, sameTopUncertainty: topUnc)
    }
}
