// BPE merge ranks keyed by the token ids of the two parts (llama.cpp's `bpe_ranks`, which is
// keyed by the two part strings; every part is a token, which the loader checks).

struct MergeTable: Sendable {
    private var keys: [UInt64]
    private var ranks: [Int32]
    private var results: [Int32]
    private var mask: Int
    private(set) var count = 0

    private static let empty = UInt64.max

    init(expectedCount: Int) {
        var size = 16
        while size < expectedCount * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        ranks = [Int32](repeating: 0, count: size)
        results = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: left)) << 32) | UInt64(UInt32(bitPattern: right))
    }

    /// Records `left right -> result` at `rank` unless the pair is already present (the first
    /// occurrence of a pair keeps its rank, as with `unordered_map::emplace`).
    mutating func insertIfAbsent(left: Int32, right: Int32, rank: Int32, result: Int32) {
        let k = Self.key(left, right)
        var s = Self.slot(k, mask)
        while keys[s] != Self.empty {
            if keys[s] == k { return }
            s = (s + 1) & mask
        }
        keys[s] = k
        ranks[s] = rank
        results[s] = result
        count += 1
    }

    /// Rank and resulting token (-1 when the merged text is not a token) of a pair, or nil.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, result: Int32)? {
        let k = Self.key(left, right)
        return keys.withUnsafeBufferPointer { kp in
            var s = Self.slot(k, mask)
            while true {
                let v = kp[s]
                if v == k { return (ranks[s], results[s]) }
                if v == Self.empty { return nil }
                s = (s + 1) & mask
            }
        }
    }
}
