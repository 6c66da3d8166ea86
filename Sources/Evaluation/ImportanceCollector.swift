import Foundation
import GGUF
import Inference
import Quants

/// llama-imatrix's collector (b4748 examples/imatrix `IMatrixCollector::collect_imatrix`): for
/// every matrix product whose weight is a `blk.*` tensor (and `output.weight` with
/// `processOutput`) and whose activation batch has at least 16 rows, the per-column sum over all
/// rows of x², a per-column row count, and a call count. Sums are f32, accumulated row by row
/// with a separate multiply and add, as the C++ loop compiled without FMA contraction does.
public final class ImportanceCollector {
    final class Stats {
        var values: [Float]
        var counts: [Int32]
        var calls: Int32 = 0
        init(columns: Int) {
            values = [Float](repeating: 0, count: columns)
            counts = [Int32](repeating: 0, count: columns)
        }
    }

    public let processOutput: Bool
    var order: [String] = []
    var stats: [String: Stats] = [:]
    /// llama-imatrix's `m_last_call`: the largest call count of any entry.
    public private(set) var lastCall: Int32 = 0
    /// The first non-finite sum seen (llama-imatrix stops with "nan detected in NAME").
    public private(set) var nonFinite: String?
    /// Calls to count per observed product: a pass of `k` chunks side by side counts as `k` calls,
    /// as if each chunk had been decoded alone (llama-imatrix decodes one chunk per call).
    public var callsPerPass: Int32 = 1
    /// The order rows are added in when `callsPerPass` sequences share a pass. nil: row after row
    /// (llama-imatrix b4748, and b10572 with a unified KV cache, `-kvu`). A size (b10572's
    /// `n_ubatch`, 512): b10572's default per-sequence KV streams split each pass into micro-batches
    /// of `size / sequences` tokens of every sequence in turn, and the sums follow that order.
    public var microBatch: Int?

    public init(processOutput: Bool = false) {
        self.processOutput = processOutput
    }

    // MARK: Experts (llama-imatrix b10572's rules for MUL_MAT_ID)

    /// One stacked expert tensor: `columns` sums per expert and a routed-row count per expert.
    final class ExpertStats {
        let columns: Int
        var values: [Float]
        var counts: [Int32]
        init(columns: Int, experts: Int) {
            self.columns = columns
            values = [Float](repeating: 0, count: columns * experts)
            counts = [Int32](repeating: 0, count: experts)
        }

        /// llama-imatrix's legacy save: `ncall` = ⌈largest expert count / chunk tokens⌉; each
        /// expert's sums divided by its count times `ncall`; an expert that received no row is
        /// stored as 1 · ncall ("partial data"); nil when no expert received a row.
        func entry(name: String, chunkTokens: Int) -> ImportanceMatrix.Entry? {
            guard let most = counts.max(), most > 0 else { return nil }
            let chunk = Int32(max(1, chunkTokens))
            let ncall = (most + chunk - 1) / chunk
            var out = [Float](repeating: 0, count: values.count)
            for i in 0..<values.count {
                let c = counts[i / columns]
                out[i] = c == 0 ? Float(ncall) : (values[i] / Float(c)) * Float(ncall)
            }
            return .init(name: name, callCount: ncall, values: out)
        }
    }

    var expertStats: [String: ExpertStats] = [:]
    /// Tokens per chunk (llama-imatrix's `n_ctx / n_parallel`), which turns the expert row counts
    /// into call counts.
    public var chunkTokens = 512

    /// The `ExpertActivationObserver` body: every routed row counts (no 16-row minimum, any
    /// tensor name), into its expert's sums, in llama-imatrix's order (by routing choice k, then by
    /// token).
    public func observeExperts(_ name: String, expert: Int, experts: Int, _ x: UnsafeBufferPointer<Float>, rows: Int,
                               columns: Int, slots: UnsafeBufferPointer<Int32>, used: Int) {
        guard let base = x.baseAddress, rows > 0, expert >= 0, expert < experts, slots.count == rows, used > 0 else { return }
        let s: ExpertStats
        if let existing = expertStats[name] {
            s = existing
        } else {
            s = ExpertStats(columns: columns, experts: experts)
            expertStats[name] = s
            order.append(name)
        }
        guard s.columns == columns, s.counts.count == experts else {
            nonFinite = nonFinite ?? "inconsistent size for \(name) (\(s.values.count) vs \(columns * experts))"
            return
        }
        let ordered = (0..<rows).sorted { a, b in
            let ka = Int(slots[a]) % used, kb = Int(slots[b]) % used
            return ka != kb ? ka < kb : slots[a] < slots[b]
        }
        s.values.withUnsafeMutableBufferPointer { vb in
            let v = vb.baseAddress! + expert * columns
            for r in ordered {
                let row = base + r * columns
                for j in 0..<columns {
                    let sq = row[j] * row[j]
                    v[j] = v[j] + sq
                }
            }
            if nonFinite == nil, (0..<columns).contains(where: { !v[$0].isFinite }) {
                nonFinite = "non-finite values detected in \(name)"
            }
        }
        s.counts[expert] += Int32(rows)
        lastCall = max(lastCall, s.counts[expert] / Int32(max(1, chunkTokens)))
    }

    /// Whether llama-imatrix records a product with this weight.
    func wants(_ name: String, rows: Int) -> Bool {
        guard rows >= 16 else { return false }
        return name.hasPrefix("blk.") || (processOutput && name == TensorName.output.weight())
    }

    /// The `ActivationObserver` body.
    public func observe(_ name: String, _ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) {
        guard wants(name, rows: rows), let base = x.baseAddress else { return }
        let s: Stats
        if let existing = stats[name] {
            s = existing
        } else {
            s = Stats(columns: columns)
            stats[name] = s
            order.append(name)
        }
        guard s.values.count == columns else {
            nonFinite = nonFinite ?? "inconsistent size for \(name) (\(s.values.count) vs \(columns))"
            return
        }
        s.calls += callsPerPass
        s.values.withUnsafeMutableBufferPointer { vb in
            let v = vb.baseAddress!
            let order = RowOrder(rows: rows, sequences: Int(callsPerPass), microBatch: microBatch)
            for i in 0..<rows {
                let row = base + order.row(i) * columns
                var j = 0
                while j + 16 <= columns {
                    let xv = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD16<Float>.self)
                    let sq = xv * xv
                    let acc = UnsafeRawPointer(v + j).loadUnaligned(as: SIMD16<Float>.self) + sq
                    UnsafeMutableRawPointer(v + j).storeBytes(of: acc, as: SIMD16<Float>.self)
                    j += 16
                }
                while j < columns {
                    let sq = row[j] * row[j]
                    v[j] = v[j] + sq
                    j += 1
                }
            }
        }
        s.counts.withUnsafeMutableBufferPointer { cb in
            for j in 0..<columns { cb[j] += Int32(rows) }
        }
        if nonFinite == nil, let bad = s.values.firstIndex(where: { !$0.isFinite }) {
            nonFinite = "\(s.values[bad]) detected in \(name)"
        }
        lastCall = max(lastCall, s.calls)
    }

    /// The entries as llama-imatrix saves them: entries with a row count of zero anywhere are left
    /// out; values are `sum / count · ncall` (f32).
    public func matrix(dataset: String?) -> ImportanceMatrix {
        var entries: [ImportanceMatrix.Entry] = []
        for name in order {
            if let x = expertStats[name] {
                if let e = x.entry(name: name, chunkTokens: chunkTokens) { entries.append(e) }
                continue
            }
            guard let s = stats[name], !s.counts.isEmpty, !s.counts.contains(0) else { continue }
            let calls = Float(s.calls)
            var values = [Float](repeating: 0, count: s.values.count)
            for i in 0..<values.count { values[i] = (s.values[i] / Float(s.counts[i])) * calls }
            entries.append(.init(name: name, callCount: s.calls, values: values))
        }
        return ImportanceMatrix(entries: entries, chunkCount: lastCall, dataset: dataset)
    }
}

/// llama-imatrix's chunk loop (b4748 `compute_imatrix`): the text tokenized with BOS, `-c` token
/// chunks (at least two), BOS replacing each chunk's first token, the KV cache cleared per chunk,
/// and the running perplexity of the second half of each chunk (`[i]x.xxxx,`, as llama-perplexity).
/// Chunks are evaluated side by side (`sequences` at a time) with the same sums as one at a time.
public final class ImatrixRunner {
    public let model: LanguageModel
    public let contextLength: Int
    public let chunks: Int
    public let threads: Int
    public let sequences: Int
    public let computePerplexity: Bool
    /// Attention as llama.cpp's flash attention (`-fa on`, llama-imatrix b10572's default on the
    /// CPU); off gives llama-imatrix `-fa off`'s sums. With micro-batches of fewer than 64 rows per
    /// sequence llama.cpp takes its per-row flash kernel, whose order is not followed.
    public var flashAttention = false
    let output: (String, PerplexityStream) -> Void
    let progress: ((PerplexityProgress) -> Void)?

    public init(model: LanguageModel, contextLength: Int = 512, chunks: Int = -1, threads: Int = 2, batchSize: Int = 2048,
                computePerplexity: Bool = true, output: @escaping (String, PerplexityStream) -> Void,
                progress: ((PerplexityProgress) -> Void)? = nil) throws(EvaluationError) {
        guard contextLength > 0 else { throw EvaluationError("the context (-c) must be positive, got \(contextLength)") }
        self.model = model
        self.contextLength = contextLength
        self.chunks = chunks
        self.threads = max(1, threads)
        sequences = max(1, batchSize / contextLength)
        self.computePerplexity = computePerplexity
        self.output = output
        self.progress = progress
    }

    /// Runs the chunks through the model, feeding `collector`.
    /// - Returns: the perplexity figures (nil without `computePerplexity`).
    public func run(tokens: [Int32], addBOS: Bool, bos: Int32, collector: ImportanceCollector) throws(EvaluationError) -> PerplexityResult? {
        let nCtx = contextLength
        guard tokens.count >= 2 * nCtx else {
            throw EvaluationError("you need at least \(2 * nCtx) tokens for a context of \(nCtx) tokens; "
                                  + "the data file you provided tokenizes to only \(tokens.count) tokens")
        }
        let nChunkMax = tokens.count / nCtx
        let nChunk = chunks < 0 ? nChunkMax : min(chunks, nChunkMax)
        output(String(format: "compute_imatrix: computing over %d chunks, n_ctx=%d, batch_size=%d, n_seq=%d\n",
                      nChunk, nCtx, nCtx * sequences, sequences), .info)
        let session = InferenceSession(model: model, contextLength: nCtx, sequences: sequences, threads: threads,
                                       keepsCache: false)
        session.flashAttention = flashAttention
        session.observer = { name, x, rows, columns in collector.observe(name, x, rows: rows, columns: columns) }
        collector.chunkTokens = nCtx
        session.expertObserver = { name, expert, experts, x, rows, columns, slots, used in
            collector.observeExperts(name, expert: expert, experts: experts, x, rows: rows, columns: columns, slots: slots, used: used)
        }
        let first = nCtx / 2
        let scored = nCtx - 1 - first
        var nll = 0.0, nll2 = 0.0
        var count = 0
        var running: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        var i = 0
        while i < nChunk {
            let n = min(sequences, nChunk - i)
            var batch = Array(tokens[(i * nCtx)..<((i + n) * nCtx)])
            var rows: [Int] = []
            for s in 0..<n {
                if addBOS { batch[s * nCtx] = bos }
                if collector.processOutput {
                    rows.append(contentsOf: (s * nCtx)..<((s + 1) * nCtx))
                } else if computePerplexity {
                    rows.append(contentsOf: (s * nCtx + first)..<(s * nCtx + nCtx - 1))
                }
            }
            collector.callsPerPass = Int32(n)
            session.clear()
            // Without the output tensor's statistics only the scored rows' logits are wanted: they
            // arrive a block of rows at a time and are scored at once (the logits memory does not
            // grow with the batch). With them, the output product sees every row in one call.
            var logits: Logits?
            var values = [Double](repeating: 0, count: collector.processOutput || !computePerplexity ? 0 : n * scored)
            do {
                if values.isEmpty {
                    logits = try session.evaluate(batch, sequences: n, outputRows: rows)
                } else {
                    var targets: [Int] = []
                    targets.reserveCapacity(n * scored)
                    for s in 0..<n { for j in 0..<scored { targets.append(Int(tokens[(i + s) * nCtx + first + 1 + j])) } }
                    try session.evaluate(batch, sequences: n, outputRows: rows, blockRows: PerplexityRunner.logitsBlockRows) { block, firstRow in
                        for r in 0..<block.rows { values[firstRow + r] = TokenScoring.nll(block.row(r), token: targets[firstRow + r]) }
                        return true
                    }
                }
            } catch {
                throw EvaluationError(file: model.file.path, "failed to eval: \(error.message)")
            }
            if let bad = collector.nonFinite { throw EvaluationError(file: model.file.path, bad) }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if i == 0 {
                // b10572: the time of the first pass (of `sequences` chunks side by side).
                var total = Int(Float(elapsed) * Float(nChunk) / Float(sequences))
                var line = String(format: "compute_imatrix: %.2f seconds per pass - ETA ", elapsed)
                if total >= 3600 {
                    line += String(format: "%d hours ", total / 3600)
                    total %= 3600
                }
                output(line + String(format: "%.2f minutes\n", Double(total) / 60), .info)
            }
            if computePerplexity {
                for s in 0..<n {
                    let rowBase = collector.processOutput ? s * nCtx + first : s * scored
                    for j in 0..<scored {
                        let v = logits.map { TokenScoring.nll($0.row(rowBase + j), token: Int(tokens[(i + s) * nCtx + first + 1 + j])) }
                            ?? values[s * scored + j]
                        nll += v
                        nll2 += v * v
                    }
                    count += scored
                    let ppl = Foundation.exp(nll / Double(count))
                    running.append(ppl)
                    output(String(format: "[%d]%.4f,", i + s + 1, ppl), .result)
                }
            }
            i += n
            if let progress {
                let rate = Double(i * nCtx) / max(elapsed, 1e-9)
                progress(PerplexityProgress(chunksDone: i, chunks: nChunk, tokensPerSecond: rate,
                                            etaSeconds: Double((nChunk - i) * nCtx) / max(rate, 1e-9)))
            }
        }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard computePerplexity, count > 0 else { return nil }
        output("\n", .result)
        let mean = nll / Double(count)
        let ppl = Foundation.exp(mean)
        let variance = nll2 / Double(count) - mean * mean
        var unc: Double?
        if variance > 0 {
            unc = (variance / Double(count - 1)).squareRoot() * ppl
            output(String(format: "Final estimate: PPL = %.4f +/- %.5f\n", ppl, unc ?? 0), .result)
        }
        return PerplexityResult(mode: "imatrix", contextLength: nCtx, batchSize: nCtx * sequences, sequences: sequences,
                                threads: threads, chunks: nChunk, tokensScored: count, runningPerplexity: running,
                                perplexity: ppl, uncertainty: unc, seconds: secs,
                                tokensPerSecond: Double(nChunk * nCtx) / max(secs, 1e-9), klDivergence: nil)
    }
}
