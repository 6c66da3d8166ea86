import Foundation
import Inference
import Quants

extension PerplexityRunner {
    /// llama-perplexity `--kl-divergence`: re-evaluates the chunks stored in the base file and
    /// compares each scored position's distribution with the stored one (perplexity.cpp `kl_divergence`).
    func klDivergence(basePath: String, addBOS: Bool, bos: Int32) throws(EvaluationError) -> PerplexityResult {
        let base = try KLDivergenceBaseFile.Reader(path: basePath)
        let nCtx = base.contextLength
        guard nCtx == options.contextLength else {
            throw EvaluationError(file: basePath, "the base log-probabilities were computed with n_ctx \(nCtx), "
                                  + "but the context is \(options.contextLength); run with -c \(nCtx)")
        }
        guard base.vocabulary == model.vocabularySize else {
            throw EvaluationError(file: basePath, "inconsistent vocabulary: the base file has \(base.vocabulary) tokens, "
                                  + "the model \(model.vocabularySize)")
        }
        let nChunk = base.chunks
        let first = nCtx / 2
        let scored = nCtx - 1 - first
        let recLen = base.recordLength
        let session = InferenceSession(model: model, contextLength: nCtx, sequences: sequences, threads: options.threads)
        session.flashAttention = options.flashAttention.enabled
        var sums = KLDivergenceSums()
        var kldValues: [Float] = []
        var pDiffValues: [Float] = []
        kldValues.reserveCapacity(nChunk * scored)
        pDiffValues.reserveCapacity(nChunk * scored)
        var running: [Double] = []
        var records = [UInt16]()
        var chunkRecords = [[UInt16]](repeating: [], count: sequences)
        var tokenResults = [KLDivergenceSums.Token](repeating: .init(nll: 0, nllBase: 0, kld: 0, pDiff: 0, sameTop: false),
                                                    count: scored)
        let clock = PassClock()
        var i = 0
        while i < nChunk {
            let nSeqBatch = min(sequences, nChunk - i)
            for s in 0..<nSeqBatch {
                try base.nextChunk(into: &records)
                chunkRecords[s] = records
            }
            let logits = try evaluate(session, tokens: base.tokens, chunk: i, count: nSeqBatch, addBOS: addBOS, bos: bos)
            if i == 0 {
                announce(clock.elapsed / Double(nSeqBatch), function: "kl_divergence", passes: Double(nChunk))
            }
            for seq in 0..<nSeqBatch {
                let start = (i + seq) * nCtx
                let targets = Array(base.tokens[(start + first + 1)...(start + nCtx - 1)])
                try compare(logits, rowOffset: seq * scored, targets: targets, records: chunkRecords[seq],
                            recordLength: recLen, into: &tokenResults)
                for t in tokenResults {
                    sums.add(t)
                    kldValues.append(Float(t.kld))
                    pDiffValues.append(t.pDiff)
                }
                running.append(chunkLine(i + seq + 1, sums))
            }
            i += nSeqBatch
            report(done: i, of: nChunk, clock: clock)
        }
        output("\n", .result)
        let summary = sums.count >= 100 ? finalReport(sums, kld: kldValues.sorted(), pDiff: pDiffValues.sorted()) : nil
        let secs = clock.elapsed
        let (logPPL, logUnc) = KLDivergenceSums.meanAndUncertainty(sums.sumNLL, sums.sumNLL2, sums.count)
        return PerplexityResult(mode: "kl-divergence", contextLength: nCtx, batchSize: batchSize, sequences: sequences,
                                threads: options.threads, chunks: nChunk, tokensScored: sums.count,
                                runningPerplexity: running, perplexity: exp(logPPL), uncertainty: exp(logPPL) * logUnc,
                                seconds: secs, tokensPerSecond: Double(nChunk * nCtx) / max(secs, 1e-9),
                                klDivergence: summary)
    }

    /// Per-token comparisons of one chunk, spread over the threads.
    func compare(_ logits: Logits, rowOffset: Int, targets: [Int32], records: [UInt16], recordLength: Int,
                 into results: inout [KLDivergenceSums.Token]) throws(EvaluationError) {
        let nVocab = logits.vocabulary
        for t in targets where t < 0 || Int(t) >= nVocab {
            throw EvaluationError("token id \(t) is outside the model's vocabulary of \(nVocab)")
        }
        let threads = options.threads
        records.withUnsafeBufferPointer { rb in
            results.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let o = out.baseAddress!, r = rb.baseAddress!
                let n = targets.count
                let tasks = min(n, threads * 4)
                parallelFor(chunks: tasks, threads: threads) { t in
                    for j in (n * t / tasks)..<(n * (t + 1) / tasks) {
                        o[j] = KLDivergenceSums.compare(logits.row(rowOffset + j), record: r + j * recordLength,
                                                        token: Int(targets[j]))
                    }
                }
            }
        }
    }

    /// Prints the per-chunk table row and returns the running PPL(Q).
    func chunkLine(_ chunk: Int, _ k: KLDivergenceSums) -> Double {
        typealias S = KLDivergenceSums
        var line = "\nchunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p\n"
        line += cFormat("%4d", chunk)
        let logPPL = S.meanAndUncertainty(k.sumNLL, k.sumNLL2, k.count)
        let pplVal = exp(logPPL.0)
        line += cFormat("    %9.4f ± %9.4f", pplVal, pplVal * logPPL.1)
        let logBase = S.meanAndUncertainty(k.sumNLLBase, k.sumNLLBase2, k.count)
        let cov = S.covariance(k.sumNLL, k.sumNLLBase, k.sumNLLNLLBase, k.count)
        let ratioUnc = (logPPL.1 * logPPL.1 + logBase.1 * logBase.1 - 2 * cov).squareRoot()
        line += cFormat("    %10.5f ± %10.5f", logPPL.0 - logBase.0, ratioUnc)
        let kl = S.meanAndUncertainty(k.sumKLD, k.sumKLD2, k.count)
        line += cFormat("    %10.5f ± %10.5f", kl.0, kl.1)
        let mse = S.meanAndUncertainty(k.sumPDiff2, k.sumPDiff4, k.count)
        let rms = mse.0.squareRoot()
        line += cFormat("    %6.3f ± %6.3f %%", 100 * rms, 100 * (0.5 / rms * mse.1))
        let top = Double(k.sameTop) / Double(k.count)
        line += cFormat("    %6.3f ± %6.3f %%", 100 * top, 100 * (top * (1 - top) / Double(k.count - 1)).squareRoot())
        output(line + "\n", .result)
        return pplVal
    }
}
