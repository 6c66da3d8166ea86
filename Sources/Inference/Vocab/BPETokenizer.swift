// Byte-level BPE as llama.cpp runs it (`llm_tokenizer_bpe_session::tokenize`, b4748).
//
// llama.cpp maps every byte of a word to its GPT-2 alphabet character and merges those
// characters by rank. The mapping is one-to-one, so this works on the raw bytes instead: each
// token whose text is made of alphabet characters is indexed by the bytes it stands for, and
// every merge by the ids of its two parts.

/// The merge data of a BPE vocabulary.
struct BPEData: Sendable {
    /// Raw bytes -> id, for tokens written in the GPT-2 alphabet.
    let byteTokens: ByteStringTable
    let merges: MergeTable
    /// Id of the one-character token of each byte, or -1.
    let byteSymbol: [Int32]
    /// Tokens emitted for a byte left in a symbol that is not a token: llama.cpp looks up each
    /// UTF-8 byte of its alphabet character as a one-byte token text.
    let fallback: [[Int32]]
    let ignoreMerges: Bool
}

struct BPEBigram: HeapOrdered {
    var rank: Int32
    var left: Int32
    var right: Int32
    var size: Int32
    var result: Int32

    @inline(__always)
    static func precedes(_ a: BPEBigram, _ b: BPEBigram) -> Bool {
        a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
    }
}

/// Scratch space for merging words, reused across the words of one call.
struct BPEWorkspace {
    var length: [Int32] = []
    var id: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var heap = BinaryHeap<BPEBigram>()
}

extension BPEData {
    /// Appends the tokens of one pre-tokenized word (its UTF-8 bytes) to `out`.
    func encodeWord(_ w: UnsafeBufferPointer<UInt8>, _ ws: inout BPEWorkspace, _ out: inout [Int32]) {
        let n = w.count
        guard let base = w.baseAddress, n > 0 else { return }
        if ignoreMerges {
            let whole = byteTokens.lookup(base, n)
            if whole >= 0 { out.append(whole); return }
        }
        if n == 1 {
            emit(id: byteSymbol[Int(base[0])], bytes: base, count: 1, &out)
            return
        }
        ws.length.removeAll(keepingCapacity: true)
        ws.id.removeAll(keepingCapacity: true)
        ws.prev.removeAll(keepingCapacity: true)
        ws.next.removeAll(keepingCapacity: true)
        ws.heap.removeAll()
        for i in 0..<n {
            ws.length.append(1)
            ws.id.append(byteSymbol[Int(base[i])])
            ws.prev.append(Int32(i - 1))
            ws.next.append(i + 1 == n ? -1 : Int32(i + 1))
        }
        for i in 1..<n { addBigram(Int32(i - 1), Int32(i), &ws) }
        while let b = ws.heap.pop() {
            let l = Int(b.left), r = Int(b.right)
            let ll = ws.length[l], rl = ws.length[r]
            if ll == 0 || rl == 0 || ll + rl != b.size { continue }
            ws.length[l] = ll + rl
            ws.length[r] = 0
            ws.id[l] = b.result
            let after = ws.next[r]
            ws.next[l] = after
            if after >= 0 { ws.prev[Int(after)] = b.left }
            addBigram(ws.prev[l], b.left, &ws)
            addBigram(b.left, after, &ws)
        }
        var i = 0
        while i != -1 {
            emit(id: ws.id[i], bytes: base + i, count: Int(ws.length[i]), &out)
            i = Int(ws.next[i])
        }
    }

    @inline(__always)
    private func addBigram(_ left: Int32, _ right: Int32, _ ws: inout BPEWorkspace) {
        guard left >= 0, right >= 0 else { return }
        let a = ws.id[Int(left)], b = ws.id[Int(right)]
        guard a >= 0, b >= 0, let m = merges.lookup(a, b) else { return }
        ws.heap.push(BPEBigram(rank: m.rank, left: left, right: right,
                               size: ws.length[Int(left)] + ws.length[Int(right)], result: m.result))
    }

    @inline(__always)
    private func emit(id: Int32, bytes: UnsafePointer<UInt8>, count: Int, _ out: inout [Int32]) {
        if id >= 0 { out.append(id); return }
        for j in 0..<count { out.append(contentsOf: fallback[Int(bytes[j])]) }
    }
}

/// Tokens of words already seen in one call; BPE output depends on the word alone.
struct WordCache {
    private var index = ByteStringTable(expectedCount: 4096)
    private var spans: [(start: Int32, count: Int32)] = []
    private var tokens: [Int32] = []

    /// Appends the cached tokens of `w` to `out`; false when `w` is not cached.
    @inline(__always)
    func append(_ w: UnsafeBufferPointer<UInt8>, to out: inout [Int32]) -> Bool {
        guard let base = w.baseAddress else { return false }
        let e = index.lookup(base, w.count)
        if e < 0 { return false }
        let span = spans[Int(e)]
        tokens.withUnsafeBufferPointer { t in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: t[Int(span.start)..<Int(span.start + span.count)]))
        }
        return true
    }

    mutating func insert(_ w: UnsafeBufferPointer<UInt8>, _ result: ArraySlice<Int32>) {
        guard spans.count < 1 << 20 else { return }
        index.insertIfAbsent(w, value: Int32(spans.count))
        spans.append((Int32(tokens.count), Int32(result.count)))
        tokens.append(contentsOf: result)
    }
}
