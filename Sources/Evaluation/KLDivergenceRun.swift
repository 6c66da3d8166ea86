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
        let session = InferenceSession(model: model, contextLength: nCtx, sequences: sequences, threads: options.threads,
                                       keepsCache: false)
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
                                                    count: sequences * scored)
        let clock = PassClock()
        var i = 0
        while i < nChunk {
            let nSeqBatch = min(sequences, nChunk - i)
            var targets: [Int32] = []
            targets.reserveCapacity(nSeqBatch * scored)
            for s in 0..<nSeqBatch {
                try base.nextChunk(into: &records)
                chunkRecords[s] = records
                let start = (i + s) * nCtx
                targets += base.tokens[(start + first + 1)...(start + nCtx - 1)]
            }
            for t in targets where t < 0 || Int(t) >= model.vocabularySize {
                throw EvaluationError("token id \(t) is outside the model's vocabulary of \(model.vocabularySize)")
            }
            // The logits arrive a block of rows at a time; a block may span two chunks.
            try tokenResults.withUnsafeMutableBufferPointer { out throws(EvaluationError) in
                try evaluate(session, tokens: base.tokens, chunk: i, count: nSeqBatch, addBOS: addBOS, bos: bos,
                             blockRows: Self.logitsBlockRows) { logits, firstRow in
                    compare(logits, firstRow: firstRow, scored: scored, targets: targets, records: chunkRecords,
                            recordLength: recLen, into: out.baseAddress!)
                    return true
                }
            }
            if i == 0 {
                announce(clock.elapsed / Double(nSeqBatch), function: "kl_divergence", passes: Double(nChunk))
            }
            for seq in 0..<nSeqBatch {
                for t in tokenResults[(seq * scored)..<((seq + 1) * scored)] {
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

    /// Per-token comparisons of the rows of one block of logits (batch rows `firstRow…`, where
    /// row r is position r % `scored` of chunk r / `scored`), spread over the threads.
    func compare(_ logits: Logits, firstRow: Int, scored: Int, targets: [Int32], records: [[UInt16]], recordLength: Int,
                 into results: UnsafeMutablePointer<KLDivergenceSums.Token>) {
        nonisolated(unsafe) let o = results
        let n = logits.rows
        let tasks = min(n, options.threads * 4)
        parallelFor(chunks: tasks, threads: options.threads) { t in
            for j in (n * t / tasks)..<(n * (t + 1) / tasks) {
                let r = firstRow + j
                records[r / scored].withUnsafeBufferPointer { rb in
                    o[r] = KLDivergenceSums.compare(logits.row(j), record: rb.baseAddress! + (r % scored) * recordLength,
                                                    token: Int(targets[r]))
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
