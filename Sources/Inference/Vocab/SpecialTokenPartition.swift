// Cutting special tokens out of the text before tokenizing (`tokenizer_st_partition`,
// llama-vocab.cpp b4748): for each special token in turn, longest first, every occurrence inside
// a piece of still-raw text becomes that token, with the text left and right of it kept as raw
// pieces (minus adjacent whitespace for tokens with the lstrip / rstrip attribute).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A piece of the input: raw text (a byte range) or a token cut out of it.
enum Fragment: Equatable {
    case text(start: Int, count: Int)
    case token(Int32)
}

/// The special tokens in llama.cpp's order, with an index used to skip tokens that do not occur.
struct SpecialTokenIndex: Sendable {
    let ids: [Int32]
    let texts: [[UInt8]]
    let attributes: [UInt32]
    /// Tokens of one byte, by that byte.
    private let singleByte: [[Int32]]
    /// Longer tokens chained by their first two bytes: `heads[b0 | b1 << 8]`, then `chain`.
    private let heads: [Int32]
    private let chain: [Int32]

    init(ids: [Int32], texts: [[UInt8]], attributes: [UInt32]) {
        self.ids = ids
        self.texts = texts
        self.attributes = attributes
        var single = [[Int32]](repeating: [], count: 256)
        var heads = [Int32](repeating: -1, count: 65536)
        var chain = [Int32](repeating: -1, count: ids.count)
        for k in (0..<ids.count).reversed() {
            let t = texts[k]
            if t.count == 1 {
                single[Int(t[0])].append(Int32(k))
            } else if t.count > 1 {
                let key = Int(t[0]) | (Int(t[1]) << 8)
                chain[k] = heads[key]
                heads[key] = Int32(k)
            }
        }
        singleByte = single
        self.heads = heads
        self.chain = chain
    }

    /// Which tokens occur anywhere in `text` (one pass over the text).
    func occurring(in text: UnsafeBufferPointer<UInt8>) -> [Bool] {
        var found = [Bool](repeating: false, count: ids.count)
        guard let base = text.baseAddress, !ids.isEmpty else { return found }
        let n = text.count
        for i in 0..<n {
            let b0 = Int(base[i])
            for k in singleByte[b0] { found[Int(k)] = true }
            guard i + 1 < n else { break }
            var k = heads[b0 | (Int(base[i + 1]) << 8)]
            while k >= 0 {
                let t = texts[Int(k)]
                if !found[Int(k)] && t.count <= n - i && t.withUnsafeBufferPointer({ memcmpEqual(base + i, $0.baseAddress!, t.count) }) {
                    found[Int(k)] = true
                }
                k = chain[Int(k)]
            }
        }
        return found
    }

    /// The fragments of `text`; control and unknown tokens are only cut out when `parseSpecial`.
    func partition(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        guard let base = text.baseAddress, text.count > 0 else { return [] }
        var fragments: [Fragment] = [.text(start: 0, count: text.count)]
        let found = occurring(in: text)
        let hidden = TokenAttribute.control | TokenAttribute.unknown
        for k in 0..<ids.count where found[k] {
            if !parseSpecial && attributes[k] & hidden != 0 { continue }
            fragments = cut(k, from: fragments, base)
        }
        return fragments
    }

    private func cut(_ k: Int, from fragments: [Fragment], _ base: UnsafePointer<UInt8>) -> [Fragment] {
        let t = texts[k]
        let lstrip = attributes[k] & TokenAttribute.lstrip != 0
        let rstrip = attributes[k] & TokenAttribute.rstrip != 0
        var out: [Fragment] = []
        out.reserveCapacity(fragments.count + 2)
        for f in fragments {
            guard case .text(var start, var count) = f else { out.append(f); continue }
            while true {
                guard let m = find(t, in: base + start, count) else {
                    out.append(.text(start: start, count: count))
                    break
                }
                var left = m
                if lstrip { while left > 0 && isCSpace(base[start + left - 1]) { left -= 1 } }
                if left > 0 { out.append(.text(start: start, count: left)) }
                out.append(.token(ids[k]))
                var rightStart = start + m + t.count
                var rightCount = count - m - t.count
                if rstrip {
                    while rightCount > 0 && isCSpace(base[rightStart]) { rightStart += 1; rightCount -= 1 }
                }
                if rightCount <= 0 { break }
                start = rightStart
                count = rightCount
            }
        }
        return out
    }

    /// Offset of the first occurrence of `needle` in `hay[0..<count]`.
    private func find(_ needle: [UInt8], in hay: UnsafePointer<UInt8>, _ count: Int) -> Int? {
        let m = needle.count
        guard m > 0, m <= count else { return nil }
        return needle.withUnsafeBufferPointer { nb -> Int? in
            let first = Int32(nb[0])
            var i = 0
            while i + m <= count {
                guard let hit = memchr(hay + i, first, count - m + 1 - i) else { return nil }
                let at = UnsafeRawPointer(hit) - UnsafeRawPointer(hay)
                if memcmpEqual(hay + at, nb.baseAddress!, m) { return at }
                i = at + 1
            }
            return nil
        }
    }
}

/// C `isspace` in the C locale.
@inline(__always) func isCSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
