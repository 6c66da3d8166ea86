// SentencePiece-style merging as llama.cpp runs it (`llm_tokenizer_spm_session`, b4748): the
// text (spaces already escaped to U+2581) is cut into UTF-8 characters, adjacent pairs whose
// concatenation is a token are merged best score first (leftmost on ties), and what remains
// unmerged and is not a token is emitted byte by byte as `<0xXX>` tokens.

struct SPMBigram: HeapOrdered {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32
    var id: Int32

    @inline(__always)
    static func precedes(_ a: SPMBigram, _ b: SPMBigram) -> Bool {
        a.score > b.score || (a.score == b.score && a.left < b.left)
    }
}

struct SPMData: Sendable {
    /// Token text -> id for every token.
    let textTokens: ByteStringTable
    let scores: [Float]
    /// Token for each byte: `<0xXX>`, else the one-byte text; -1 when the vocabulary has neither.
    let byteTokens: [Int32]
    /// Emitted in place of a byte that has no token (llama.cpp throws `std::out_of_range` there).
    let unknown: Int32?
    /// Length in bytes of the longest token text.
    let maxTokenLength: Int
    /// `pairsInTokens[a << 8 | b]`: some token text contains byte `a` followed by byte `b`.
    /// Any substring crossing a cut contains the two bytes around it, so a cut between a pair
    /// no token contains is safe.
    let pairsInTokens: [Bool]

    static let chunkBytes = 512

    /// Appends the tokens of `text` (already escaped) to `out`.
    ///
    /// Long texts are cut into chunks of about `chunkBytes` merged separately, which gives the
    /// same tokens as merging the whole text at once: a cut is only made at a character boundary
    /// where no token text equals a substring that crosses it, so no pair across the cut is ever
    /// a candidate and merges on either side do not depend on the other (the queue keeps each
    /// side's order, ties included). Without such a cut the text stays in one piece.
    func encode(_ text: UnsafeBufferPointer<UInt8>, _ out: inout [Int32]) {
        guard let base = text.baseAddress, text.count > 0 else { return }
        let n = text.count
        var ws = SPMWorkspace()
        var chunkStart = 0, offset = 0, target = Self.chunkBytes, tries = 0
        while offset < n {
            if offset >= target {
                let pair = (Int(base[offset - 1]) << 8) | Int(base[offset])
                var cut = !pairsInTokens[pair]
                if !cut && offset >= target + 4 * Self.chunkBytes && tries < 8 {
                    cut = safeCut(base, n, offset)
                    tries += 1
                }
                if cut {
                    encodeChunk(UnsafeBufferPointer(rebasing: text[chunkStart..<offset]), &ws, &out)
                    chunkStart = offset
                    target = offset + Self.chunkBytes
                    tries = 0
                }
            }
            offset += min(LlamaUnicode.sequenceLength(base[offset]), n - offset)
        }
        encodeChunk(UnsafeBufferPointer(rebasing: text[chunkStart..<n]), &ws, &out)
    }

    /// No token text equals a substring of `p[0..<n]` that starts before `c` and ends after it.
    private func safeCut(_ p: UnsafePointer<UInt8>, _ n: Int, _ c: Int) -> Bool {
        for a in max(0, c - maxTokenLength + 1)..<c {
            var b = c + 1
            while b <= n && b - a <= maxTokenLength {
                if textTokens.lookup(p + a, b - a) >= 0 { return false }
                b += 1
            }
        }
        return true
    }

    private func encodeChunk(_ text: UnsafeBufferPointer<UInt8>, _ ws: inout SPMWorkspace, _ out: inout [Int32]) {
        guard let base = text.baseAddress, text.count > 0 else { return }
        let n = text.count
        ws.reset()
        var offset = 0
        while offset < n {
            let len = min(LlamaUnicode.sequenceLength(base[offset]), n - offset)
            ws.prev.append(Int32(ws.start.count - 1))
            ws.start.append(Int32(offset))
            ws.length.append(Int32(len))
            ws.id.append(-2)  // not looked up yet
            offset += len
            ws.next.append(offset == n ? -1 : Int32(ws.start.count))
        }
        for i in 1..<ws.start.count { tryAdd(Int32(i - 1), Int32(i), base, &ws) }
        while let b = ws.heap.pop() {
            let l = Int(b.left), r = Int(b.right)
            let ll = ws.length[l], rl = ws.length[r]
            if ll == 0 || rl == 0 || ll + rl != b.size { continue }
            ws.length[l] = ll + rl
            ws.length[r] = 0
            ws.id[l] = b.id
            let after = ws.next[r]
            ws.next[l] = after
            if after >= 0 { ws.prev[Int(after)] = b.left }
            tryAdd(ws.prev[l], b.left, base, &ws)
            tryAdd(b.left, after, base, &ws)
        }
        var i = 0
        while i != -1 {
            let s = Int(ws.start[i]), len = Int(ws.length[i])
            var t = ws.id[i]
            if t == -2 { t = textTokens.lookup(base + s, len) }
            if t >= 0 {
                out.append(t)
            } else {
                for j in s..<(s + len) {
                    let bt = byteTokens[Int(base[j])]
                    if bt >= 0 { out.append(bt) } else if let unknown { out.append(unknown) }
                }
            }
            i = Int(ws.next[i])
        }
    }

    @inline(__always)
    private func tryAdd(_ l: Int32, _ r: Int32, _ base: UnsafePointer<UInt8>, _ ws: inout SPMWorkspace) {
        guard l >= 0, r >= 0 else { return }
        let size = Int(ws.length[Int(l)] + ws.length[Int(r)])
        let t = textTokens.lookup(base + Int(ws.start[Int(l)]), size)
        guard t >= 0 else { return }
        ws.heap.push(SPMBigram(score: scores[Int(t)], left: l, right: r, size: Int32(size), id: t))
    }
}

/// Symbol lists and queue of one chunk, reused across chunks.
struct SPMWorkspace {
    var start: [Int32] = []
    var length: [Int32] = []
    var id: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var heap = BinaryHeap<SPMBigram>()

    mutating func reset() {
        start.removeAll(keepingCapacity: true)
        length.removeAll(keepingCapacity: true)
        id.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll()
    }
}
