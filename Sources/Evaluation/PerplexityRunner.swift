import Foundation
import GGUF
import Inference
import Quants

/// llama-perplexity (b4748, examples/perplexity/perplexity.cpp) on a `LanguageModel`: chunking,
/// BOS replacement, scoring of the second half of each chunk, the running `[i]x.xxxx,` figures,
/// `Final estimate: PPL = …`, writing a KL-divergence base file and comparing against one.
///
/// The CLI parses the flags and tokenizes; this type does the rest and reports through `output`
/// (text exactly as llama-perplexity prints it, with its stream) and `progress`.
public final class PerplexityRunner {
    public let model: LanguageModel
    public let options: PerplexityOptions
    /// Chunks evaluated side by side (llama-perplexity's n_seq = max(1, n_batch / n_ctx)).
    public let sequences: Int
    /// n_batch after llama-perplexity's adjustment (`min(n_batch, n_seq · n_ctx)`).
    public let batchSize: Int
    let output: (String, PerplexityStream) -> Void
    let progress: ((PerplexityProgress) -> Void)?

    /// - Throws: `EvaluationError` when `-c` is below 3 or `-b` is neither below nor a
    ///   multiple of `-c` (llama-perplexity asserts this).
    public init(model: LanguageModel, options: PerplexityOptions,
                output: @escaping (String, PerplexityStream) -> Void,
                progress: ((PerplexityProgress) -> Void)? = nil) throws(EvaluationError) {
        let nCtx = options.contextLength
        guard nCtx > 0 else { throw EvaluationError("perplexity tool requires '--ctx-size' > 0") }
        // Positions n_ctx/2 ..< n_ctx-1 are scored: -c 1 and -c 2 score nothing (and the empty
        // target ranges below would trap).
        guard nCtx >= 3 else {
            throw EvaluationError("a context of \(nCtx) scores no token (positions n_ctx/2 ..< n_ctx-1 are scored); use -c 3 or more")
        }
        guard options.batchSize > 0 else { throw EvaluationError("batch size must be positive, got \(options.batchSize)") }
        let nSeq = max(1, options.batchSize / nCtx)
        let nBatch = min(options.batchSize, nSeq * nCtx)
        guard nBatch < nCtx || nBatch % nCtx == 0 else {
            throw EvaluationError("batch size \(nBatch) must be smaller than the context \(nCtx) or a multiple of it")
        }
        self.model = model
        self.options = options
        sequences = nSeq
        batchSize = nBatch
        self.output = output
        self.progress = progress
    }

    /// Scores `tokens` (the whole text tokenized with BOS when the vocabulary adds one), or, with
    /// `options.klDivergence`, the tokens of the base file (then `tokens` is ignored).
    /// - Parameters:
    ///   - addBOS: the vocabulary's add_bos flag; the first token of every chunk becomes `bos`.
    ///   - addEOS: must be false (llama-perplexity asserts it).
    /// - Throws: `EvaluationError` for too few tokens, an unusable base file, or a failed pass.
    public func run(tokens: [Int32], addBOS: Bool, bos: Int32, addEOS: Bool = false) throws(EvaluationError) -> PerplexityResult {
        guard !addEOS else { throw EvaluationError("the vocabulary adds EOS; llama-perplexity requires it not to") }
        if options.klDivergence {
            guard let path = options.klDivergenceBase else {
                throw EvaluationError("you must provide a name of a file containing the log probabilities of the base model")
            }
            return try klDivergence(basePath: path, addBOS: addBOS, bos: bos)
        }
        return try perplexity(tokens: tokens, addBOS: addBOS, bos: bos)
    }

    func perplexity(tokens: [Int32], addBOS: Bool, bos: Int32) throws(EvaluationError) -> PerplexityResult {
        let nCtx = options.contextLength
        guard tokens.count >= 2 * nCtx else {
            throw EvaluationError("you need at least \(2 * nCtx) tokens to evaluate perplexity with a context of \(nCtx); "
                                  + "the data file you provided tokenizes to only \(tokens.count) tokens")
        }
        let nChunkMax = tokens.count / nCtx
        let nChunk = options.chunks < 0 ? nChunkMax : min(options.chunks, nChunkMax)
        let nVocab = model.vocabularySize
        let first = nCtx / 2
        let scored = nCtx - 1 - first
        var writer: KLDivergenceBaseFile.Writer?
        if let path = options.klDivergenceBase {
            output("perplexity: saving all logits to \(path)\n", .info)
            writer = try KLDivergenceBaseFile.Writer(path: path, contextLength: nCtx, vocabulary: nVocab, chunks: nChunk,
                                                     tokens: tokens[0..<(nChunk * nCtx)])
        }
        output(cFormat("perplexity: calculating perplexity over %d chunks, n_ctx=%d, batch_size=%d, n_seq=%d\n",
                       nChunk, nCtx, batchSize, sequences), .info)
        let session = InferenceSession(model: model, contextLength: nCtx, sequences: sequences, threads: options.threads,
                                       keepsCache: false)
        session.flashAttention = options.flashAttention.enabled
        let recordLength = TokenScoring.recordLength(vocabulary: nVocab)
        let blockRows = Self.logitsBlockRows
        var records = writer == nil ? [] : [UInt16](repeating: 0, count: blockRows * recordLength)
        var values = [Double](repeating: 0, count: sequences * scored)
        var nll = 0.0, nll2 = 0.0
        var count = 0
        var running: [Double] = []
        let clock = PassClock()
        var i = 0
        while i < nChunk {
            let nSeqBatch = min(sequences, nChunk - i)
            var targets: [Int32] = []
            targets.reserveCapacity(nSeqBatch * scored)
            for seq in 0..<nSeqBatch {
                let start = (i + seq) * nCtx
                targets += tokens[(start + first + 1)...(start + nCtx - 1)]
            }
            for t in targets where t < 0 || Int(t) >= nVocab {
                throw EvaluationError("token id \(t) is outside the model's vocabulary of \(nVocab)")
            }
            // The logits arrive a block of rows at a time and are scored (and saved) at once.
            var failure: EvaluationError?
            try values.withUnsafeMutableBufferPointer { vb throws(EvaluationError) in
                try records.withUnsafeMutableBufferPointer { rb throws(EvaluationError) in
                    try evaluate(session, tokens: tokens, chunk: i, count: nSeqBatch, addBOS: addBOS, bos: bos,
                                 blockRows: blockRows) { logits, firstRow in
                        let n = logits.rows
                        score(logits, targets: targets[firstRow..<(firstRow + n)], into: vb.baseAddress! + firstRow,
                              records: writer == nil ? nil : rb.baseAddress)
                        guard let writer else { return true }
                        do throws(EvaluationError) {
                            try writer.write(records: UnsafeBufferPointer(rebasing: rb[0..<(n * recordLength)]))
                        } catch {
                            failure = error
                            return false
                        }
                        return true
                    }
                }
            }
            if let failure { throw failure }
            if i == 0 { announce(clock.elapsed, function: "perplexity", passes: Double(nChunk) / Double(sequences)) }
            for seq in 0..<nSeqBatch {
                for v in values[(seq * scored)..<((seq + 1) * scored)] {
                    nll += v
                    nll2 += v * v
                }
                count += scored
                let ppl = Foundation.exp(nll / Double(count))
                running.append(ppl)
                if options.outputType == 0 {
                    output(cFormat("[%d]%.4f,", i + seq + 1, ppl), .result)
                } else {
                    let av = nll / Double(count)
                    var av2 = nll2 / Double(count) - av * av
                    if av2 > 0 { av2 = (av2 / Double(count - 1)).squareRoot() }
                    output(cFormat("%8d  %.4f  %4f  %4f\n", i * nCtx, ppl, av, av2), .result)
                }
            }
            i += nSeqBatch
            report(done: i, of: nChunk, clock: clock)
        }
        output("\n", .result)
        try writer?.close()
        return finish(nll: nll, nll2: nll2, count: count, chunks: nChunk, running: running, clock: clock)
    }

    /// The final estimate from the sums (perplexity.cpp's end of `perplexity`).
    func finish(nll: Double, nll2: Double, count: Int, chunks: Int, running: [Double], clock: PassClock) -> PerplexityResult {
        let mean = nll / Double(count)
        let ppl = Foundation.exp(mean)
        let variance = nll2 / Double(count) - mean * mean
        var unc: Double?
        if variance > 0 {
            let sigma = (variance / Double(count - 1)).squareRoot()
            unc = sigma * ppl
            output(cFormat("Final estimate: PPL = %.4f +/- %.5f\n", ppl, sigma * ppl), .info)
        } else {
            output("Unexpected negative standard deviation of log(prob)\n", .error)
        }
        let secs = clock.elapsed
        return PerplexityResult(mode: "perplexity", contextLength: options.contextLength, batchSize: batchSize,
                                sequences: sequences, threads: options.threads, chunks: chunks, tokensScored: count,
                                runningPerplexity: running, perplexity: ppl, uncertainty: unc, seconds: secs,
                                tokensPerSecond: Double(chunks * options.contextLength) / max(secs, 1e-9),
                                klDivergence: nil)
    }

    /// Output rows per block of logits: the logits memory is this many rows of the vocabulary
    /// (78 MB for a 151,936-token vocabulary), whatever the batch.
    static let logitsBlockRows = 128

    /// Decodes chunks `chunk ..< chunk+count` side by side, the first token of each replaced by
    /// BOS when the vocabulary adds it, and hands `body` the logits of positions `n_ctx/2 … n_ctx-2`
    /// of every chunk in order, `blockRows` rows at a time (with the index of the block's first row).
    func evaluate(_ session: InferenceSession, tokens: [Int32], chunk: Int, count: Int, addBOS: Bool,
                  bos: Int32, blockRows: Int, _ body: (Logits, Int) -> Bool) throws(EvaluationError) {
        let nCtx = options.contextLength
        let first = nCtx / 2
        var batch = Array(tokens[(chunk * nCtx)..<((chunk + count) * nCtx)])
        var rows: [Int] = []
        rows.reserveCapacity(count * (nCtx - 1 - first))
        for s in 0..<count {
            if addBOS { batch[s * nCtx] = bos }
            for p in first..<(nCtx - 1) { rows.append(s * nCtx + p) }
        }
        session.clear()
        do {
            try session.evaluate(batch, sequences: count, outputRows: rows, blockRows: blockRows, body)
        } catch {
            throw EvaluationError(file: model.file.path, "failed to eval: \(error.message)")
        }
    }

    /// Negative log-likelihoods of `targets` (ids already checked) from the rows of `logits`,
    /// spread over the threads; with `records` (one `recordLength` slot per row), the base-file
    /// records too.
    func score(_ logits: Logits, targets: ArraySlice<Int32>, into values: UnsafeMutablePointer<Double>,
               records: UnsafeMutablePointer<UInt16>?) {
        let recLen = TokenScoring.recordLength(vocabulary: logits.vocabulary)
        let tg = Array(targets)
        nonisolated(unsafe) let out = values
        nonisolated(unsafe) let rec = records
        let n = tg.count
        let tasks = min(n, options.threads * 4)
        parallelFor(chunks: tasks, threads: options.threads) { t in
            for j in (n * t / tasks)..<(n * (t + 1) / tasks) {
                let row = logits.row(j)
                if let rec {
                    out[j] = TokenScoring.encode(row, token: Int(tg[j]), into: rec + j * recLen)
                } else {
                    out[j] = TokenScoring.nll(row, token: Int(tg[j]))
                }
            }
        }
    }

    /// "perplexity: 18.55 seconds per pass - ETA 1.53 minutes".
    func announce(_ seconds: Double, function: String, passes: Double) {
        var total = Int(Float(seconds) * Float(passes))
        var line = function + cFormat(": %.2f seconds per pass - ETA ", seconds)
        if total >= 3600 {
            line += cFormat("%d hours ", total / 3600)
            total %= 3600
        }
        line += cFormat("%.2f minutes\n", Double(total) / 60)
        output(line, .info)
    }

    func report(done: Int, of total: Int, clock: PassClock) {
        guard let progress else { return }
        let secs = clock.elapsed
        let rate = Double(done * options.contextLength) / max(secs, 1e-9)
        let eta = Double(total - done) * Double(options.contextLength) / max(rate, 1e-9)
        progress(PerplexityProgress(chunksDone: done, chunks: total, tokensPerSecond: rate, etaSeconds: eta))
    }
}

/// Wall-clock time since creation.
struct PassClock {
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
