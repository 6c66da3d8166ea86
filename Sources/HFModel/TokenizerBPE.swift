/// One BPE merge rule, `left right` → `left+right`.
public struct BPEMerge: Sendable, Equatable {
    public let left: String
    public let right: String
}

/// The tokenizer.json BPE model (tokenizers' `models::bpe::BPE`): vocabulary, ranked merges,
/// unknown-token and byte-fallback handling. Dropout is ignored (encoding is deterministic).
struct BPEModel: Sendable {
    private let vocab: [ExactKey: Int]
    /// Number of distinct tokens in the vocabulary.
    var count: Int { vocab.count }
    let idToToken: [Int: String]
    let merges: [BPEMerge]
    /// (left id << 32 | right id) → (rank, merged id).
    private let mergeTable: [UInt64: (rank: Int32, id: Int32)]
    let unkToken: String?
    private let unkID: Int?
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// Ids of "<0x00>"..."<0xFF>" for byte fallback.
    private let byteIDs: [Int?]

    /// Builds the model from the `model` object.
    /// - Throws: `.unsupported` for non-BPE models; `.invalid` for a malformed vocabulary or a
    ///   merge that names a token missing from the vocabulary (tokenizers' MergeTokenOutOfVocabulary).
    init(_ o: JSONObject, file: String) throws(HFModelError) {
        let type = o["type"]?.string ?? (o["merges"] != nil ? "BPE" : "?")
        guard type == "BPE" else {
            throw HFModelError(.unsupported, file: file, "model type '\(type)' is not supported, expected BPE")
        }
        guard let vo = o["vocab"]?.object else {
            throw HFModelError(.invalid, file: file, "model.vocab is \(o["vocab"]?.typeDescription ?? "missing"), expected an object")
        }
        var vocab: [ExactKey: Int] = [:]
        vocab.reserveCapacity(vo.count)
        for m in vo.members {
            // tokenizers allows any u32; llama.cpp's token ids are int32, and the merge table
            // below packs ids into 32-bit fields, so ids stop at Int32.max.
            guard let id = m.value.int, id >= 0, id <= Int(Int32.max) else {
                throw HFModelError(.invalid, file: file,
                                   "model.vocab['\(m.key)'] is \(m.value.serialized()), expected a token id from 0 to \(Int32.max)")
            }
            vocab[ExactKey(m.key)] = id
        }
        var reverse: [Int: String] = [:]
        reverse.reserveCapacity(vocab.count)
        for m in vo.members { if let id = vocab[ExactKey(m.key)] { reverse[id] = m.key } }
        self.vocab = vocab
        self.idToToken = reverse
        func str(_ key: String) -> String? { o[key]?.string }
        unkToken = str("unk_token")
        continuingSubwordPrefix = str("continuing_subword_prefix")
        endOfWordSuffix = str("end_of_word_suffix")
        fuseUnk = o["fuse_unk"]?.bool ?? false
        byteFallback = o["byte_fallback"]?.bool ?? false
        ignoreMerges = o["ignore_merges"]?.bool ?? false
        if let u = unkToken {
            guard let id = vocab[ExactKey(u)] else {
                throw HFModelError(.invalid, file: file, "model.unk_token '\(u)' is not in the vocabulary")
            }
            unkID = id
        } else {
            unkID = nil
        }
        byteIDs = (0..<256).map { b in
            let hex = String(b, radix: 16, uppercase: true)
            return vocab[ExactKey("<0x" + (hex.count == 1 ? "0" : "") + hex + ">")]
        }
        merges = try BPEModel.parseMerges(o["merges"], file: file)
        mergeTable = try BPEModel.table(merges, vocab: vocab, prefixLength: continuingSubwordPrefix?.utf8.count ?? 0, file: file)
    }

    /// Both merge forms: `["a b", ...]` (split at the single space) and `[["a", "b"], ...]`.
    private static func parseMerges(_ v: JSONValue?, file: String) throws(HFModelError) -> [BPEMerge] {
        guard let v, !v.isNull else { return [] }
        guard let list = v.array else {
            throw HFModelError(.invalid, file: file, "model.merges is \(v.typeDescription), expected a list")
        }
        var out: [BPEMerge] = []
        out.reserveCapacity(list.count)
        for (i, e) in list.enumerated() {
            if let s = e.string {
                if s.utf8.starts(with: "#version".utf8) { continue }
                // Split on the byte 0x20, not on Characters: "e \u{301}" is one Character.
                let parts = s.utf8.split(separator: 0x20, omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw HFModelError(.invalid, file: file, "model.merges[\(i)] is \(e.serialized()), expected two tokens separated by one space")
                }
                out.append(BPEMerge(left: String(decoding: parts[0], as: UTF8.self), right: String(decoding: parts[1], as: UTF8.self)))
            } else if let pair = e.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                out.append(BPEMerge(left: a, right: b))
            } else {
                throw HFModelError(.invalid, file: file, "model.merges[\(i)] is \(e.serialized()), expected \"a b\" or [\"a\", \"b\"]")
            }
        }
        return out
    }

    private static func table(_ merges: [BPEMerge], vocab: [ExactKey: Int], prefixLength: Int,
                              file: String) throws(HFModelError) -> [UInt64: (rank: Int32, id: Int32)] {
        var t: [UInt64: (rank: Int32, id: Int32)] = [:]
        t.reserveCapacity(merges.count)
        for (rank, m) in merges.enumerated() {
            let merged = m.left + String(decoding: m.right.utf8.dropFirst(prefixLength), as: UTF8.self)
            guard let a = vocab[ExactKey(m.left)], let b = vocab[ExactKey(m.right)], let c = vocab[ExactKey(merged)] else {
                let missing = vocab[ExactKey(m.left)] == nil ? m.left : (vocab[ExactKey(m.right)] == nil ? m.right : merged)
                throw HFModelError(.invalid, file: file, "model.merges[\(rank)] ('\(m.left)' '\(m.right)') needs token '\(missing)', which is not in the vocabulary")
            }
            t[(UInt64(a) << 32) | UInt64(b)] = (Int32(rank), Int32(c))
        }
        return t
    }

    /// Token ids for one pre-tokenized word (tokenizers' `BPE::tokenize`). `cache` memoizes words.
    /// Id of `token` (exact scalar comparison).
    func id(_ token: String) -> Int? { vocab[ExactKey(token)] }

    func tokenize(_ word: [Unicode.Scalar], cache: inout [ExactKey: [Int]]) -> [Int] {
        guard !word.isEmpty else { return [] }
        let key = ExactKey(word.string)
        if ignoreMerges, let id = vocab[key] { return [id] }
        if let hit = cache[key] { return hit }
        let ids = mergeWord(word)
        if word.count < 256 { cache[key] = ids }
        return ids
    }

    /// Characters to symbols (with unknown and byte-fallback handling), then all merges.
    private func mergeWord(_ w: [Unicode.Scalar]) -> [Int] {
        var symbols: [Int] = []
        symbols.reserveCapacity(w.count)
        var pendingUnk: Int? = nil
        for (i, u) in w.enumerated() {
            var s = String(Character(u))
            if i > 0, let p = continuingSubwordPrefix { s = p + s }
            if i == w.count - 1, let x = endOfWordSuffix { s += x }
            if let id = vocab[ExactKey(s)] {
                if let unk = pendingUnk { symbols.append(unk); pendingUnk = nil }
                symbols.append(id)
                continue
            }
            if byteFallback {
                let ids = s.utf8.compactMap { byteIDs[Int($0)] }
                if ids.count == s.utf8.count {
                    // tokenizers adds byte tokens without flushing a pending unk first.
                    symbols += ids
                    continue
                }
            }
            if let unkID {
                if pendingUnk != nil && !fuseUnk { symbols.append(unkID) }
                pendingUnk = unkID
            }
        }
        if let unk = pendingUnk { symbols.append(unk) }
        return applyMerges(symbols)
    }

    /// tokenizers' `Word::merge_all`: repeatedly merge the pair of lowest rank (leftmost on ties),
    /// with a heap of candidate merges and lazy invalidation.
    private func applyMerges(_ ids: [Int]) -> [Int] {
        let n = ids.count
        guard n > 1 else { return ids }
        var c = ids
        var prev = (0..<n).map { $0 - 1 }
        var next = (0..<n).map { $0 + 1 < n ? $0 + 1 : -1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = mergeTable[(UInt64(c[i]) << 32) | UInt64(c[i + 1])] {
                heap.push(.init(rank: m.rank, pos: Int32(i), id: m.id))
            }
        }
        while let top = heap.pop() {
            let pos = Int(top.pos)
            guard alive[pos], next[pos] >= 0 else { continue }
            let right = next[pos]
            guard let m = mergeTable[(UInt64(c[pos]) << 32) | UInt64(c[right])], m.id == top.id else { continue }
            c[pos] = Int(top.id)
            alive[right] = false
            next[pos] = next[right]
            if next[right] >= 0 { prev[next[right]] = pos }
            if prev[pos] >= 0, let m = mergeTable[(UInt64(c[prev[pos]]) << 32) | UInt64(c[pos])] {
                heap.push(.init(rank: m.rank, pos: Int32(prev[pos]), id: m.id))
            }
            if next[pos] >= 0, let m = mergeTable[(UInt64(c[pos]) << 32) | UInt64(c[next[pos]])] {
                heap.push(.init(rank: m.rank, pos: Int32(pos), id: m.id))
            }
        }
        var out: [Int] = []
        out.reserveCapacity(n)
        var i = 0
        while i >= 0 { out.append(c[i]); i = next[i] }
        return out
    }
}

/// A binary min-heap of merge candidates ordered by (rank, position).
struct MergeHeap {
    struct Entry { var rank: Int32; var pos: Int32; var id: Int32 }
    private var a: [Entry] = []

    @inline(__always) private static func less(_ x: Entry, _ y: Entry) -> Bool {
        x.rank != y.rank ? x.rank < y.rank : x.pos < y.pos
    }

    mutating func push(_ e: Entry) {
        a.append(e)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard MergeHeap.less(a[i], a[p]) else { break }
            a.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Entry? {
        guard let first = a.first else { return nil }
        let last = a.removeLast()
        if !a.isEmpty {
            a[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < a.count && MergeHeap.less(a[l], a[m]) { m = l }
                if r < a.count && MergeHeap.less(a[r], a[m]) { m = r }
                if m == i { break }
                a.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}
