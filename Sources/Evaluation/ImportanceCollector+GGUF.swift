import GGUF
import Quants

/// The collector's raw sums and token counts, as llama-imatrix (b10572) keeps and saves them.
extension ImportanceCollector {
    /// Starts from earlier sums (llama-imatrix `--in-file`): the entries this collector can extend
    /// (one token count per tensor, or several equal ones, which b10572 folds into one) become its
    /// running sums, so new squares are added to them in the order llama-imatrix adds them.
    /// Entries with several different counts (stacked experts) become per-expert sums and counts,
    /// which the routed rows of this run extend (b10572 adds to the loaded sums and counts).
    public func seed(with s: ImportanceStatistics) {
        for e in s.entries {
            if e.counts.count > 1, !e.counts.allSatisfy({ $0 == e.counts[0] }), e.sums.count % e.counts.count == 0,
               expertStats[e.name] == nil, stats[e.name] == nil {
                let x = ExpertStats(columns: e.sums.count / e.counts.count, experts: e.counts.count)
                x.values = e.sums
                x.counts = e.counts.map { Int32(clamping: $0) }
                expertStats[e.name] = x
                order.append(e.name)
                continue
            }
            guard let first = e.counts.first, e.counts.allSatisfy({ $0 == first }), stats[e.name] == nil else { continue }
            let columns = e.sums.count / e.counts.count
            guard columns > 0 else { continue }
            let st = Stats(columns: e.sums.count)
            st.values = e.sums
            let c = Int32(clamping: first)
            for j in 0..<st.counts.count { st.counts[j] = c }
            stats[e.name] = st
            order.append(e.name)
        }
    }

    /// The sums and counts to save (llama-imatrix `save_imatrix`): every entry the collector has,
    /// one count per tensor and one per expert for stacked expert tensors (partial data included:
    /// experts no row was routed to keep a count of 0), plus the entries of `seed` it could not
    /// extend; the chunk count is the largest token count over `chunkSize`.
    /// - Throws: `EvaluationError` when a tensor of `seed` with several different counts was
    ///   also observed as a single matrix (llama-imatrix stops with "inconsistent size").
    public func statistics(seed: ImportanceStatistics? = nil, datasets: [String], chunkSize: Int) throws(EvaluationError)
        -> ImportanceStatistics {
        var entries: [ImportanceStatistics.Entry] = []
        var have = Set<String>()
        for name in order where !have.contains(name) {
            if let x = expertStats[name] {
                entries.append(.init(name: name, sums: x.values, counts: x.counts.map { Int64($0) }))
            } else if let s = stats[name] {
                entries.append(.init(name: name, sums: s.values, counts: [Int64(s.counts.first ?? 0)]))
            } else {
                continue
            }
            have.insert(name)
        }
        for e in seed?.entries ?? [] where !have.contains(e.name) {
            entries.append(e)
        }
        for e in seed?.entries ?? [] where have.contains(e.name) && e.counts.count > 1 && !e.counts.allSatisfy({ $0 == e.counts[0] }) {
            throw EvaluationError("inconsistent size for \(e.name) (\(e.sums.count) vs \(stats[e.name]?.values.count ?? 0))")
        }
        var out = ImportanceStatistics(entries: entries, datasets: datasets, chunkCount: 0, chunkSize: UInt32(clamping: chunkSize))
        let most = entries.lazy.flatMap(\.counts).max() ?? 0
        out.chunkCount = chunkSize > 0 ? UInt32(clamping: most / Int64(chunkSize)) : 0
        return out
    }
}

/// The order in which llama-imatrix adds up the rows of one pass of `sequences` chunks side by
/// side (`rows / sequences` tokens each). Without `microBatch`: row after row. With it (b10572's
/// split into micro-batches of equal parts of every sequence): micro-batch k holds tokens
/// k·t ..< (k+1)·t of sequence 0, then of sequence 1, ..., with t = microBatch / sequences
/// (fewer tokens per sequence in the last one).
struct RowOrder {
    let sequences: Int
    let length: Int
    let perSequence: Int
    let full: Int
    let tail: Int
    let identity: Bool

    init(rows: Int, sequences: Int, microBatch: Int?) {
        self.sequences = max(1, sequences)
        length = rows / self.sequences
        let t = max(1, (microBatch ?? rows) / self.sequences)
        perSequence = t
        full = length / t
        tail = length % t
        identity = microBatch == nil || self.sequences == 1 || rows % self.sequences != 0 || t >= length
    }

    /// The row added `i`-th.
    @inline(__always)
    func row(_ i: Int) -> Int {
        if identity { return i }
        let block = sequences * perSequence
        if i < full * block {
            let k = i / block, w = i % block
            return (w / perSequence) * length + k * perSequence + w % perSequence
        }
        let w = i - full * block
        return (w / tail) * length + full * perSequence + w % tail
    }
}
