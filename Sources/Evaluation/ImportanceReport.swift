import Foundation
import Quants

/// llama-imatrix `--show-statistics` (b10572): per tensor the mean squared activations per column
/// (sums over counts, matrices without tokens left out) summarized — Σ, min, max, mean, standard
/// deviation, share of columns above 1e-5, entropy of the normalized distribution (bits, and as a
/// share of its maximum), share of columns more than one deviation above the mean, cosine
/// similarity of the raw sums with the same tensor one block earlier — and per block the
/// element-weighted averages. All arithmetic in f32 in llama-imatrix's order.
public struct ImportanceReport: Sendable {
    public struct Row: Sendable, Equatable {
        public var tensor: String
        /// The block number as written in the name (`-` outside blocks) and the short tensor name.
        public var layer: String
        public var shortName: String
        public var total: Float
        public var mean: Float
        public var max: Float
        public var min: Float
        public var elements: Int
        public var stddev: Float
        public var active: Float
        public var entropy: Float
        public var zd: Float
        public var cossim: Float
        /// The values the cosine similarity is taken over (the raw sums).
        var sums: [Float]
    }

    public struct Layer: Sendable, Equatable {
        public var layer: Int
        public var weightedBias: Float = 0
        public var weightedZD: Float = 0
        public var weightedCossim: Float = 0
        public var totalElements = 0
    }

    /// Rows in llama-imatrix's order (short tensor name, then larger Σ first).
    public private(set) var rows: [Row] = []
    /// Per block (and block -1 for tensors outside blocks), by block number.
    public private(set) var layers: [Layer] = []
    /// Entries left out (size mismatch, no tokens), with llama-imatrix's reason.
    public private(set) var skipped: [String] = []

    public init(_ s: ImportanceStatistics) {
        for e in s.entries {
            if let r = Self.row(e, skipped: &skipped) { rows.append(r) }
        }
        Self.cosineSimilarity(&rows)
        rows.sort { a, b in
            a.shortName.utf8.lexicographicallyPrecedes(b.shortName.utf8) || (a.shortName == b.shortName && a.total > b.total)
        }
        var byLayer: [Int: Layer] = [:]
        for r in rows {
            let blk = Self.blockNumber(r.layer)
            var w = byLayer[blk] ?? Layer(layer: blk)
            let n = Float(r.elements)
            w.weightedBias += n * r.total
            w.weightedZD += n * r.zd
            w.weightedCossim += n * r.cossim
            w.totalElements += r.elements
            byLayer[blk] = w
        }
        layers = byLayer.values.sorted { $0.layer < $1.layer }
    }

    /// `std::stoi` of the layer field: a leading integer, else -1.
    static func blockNumber(_ layer: String) -> Int {
        var s = Substring(layer)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        var digits = ""
        if let f = s.first, f == "-" || f == "+" { digits.append(f); s = s.dropFirst() }
        for c in s { if c.isASCII && c.isNumber { digits.append(c) } else { break } }
        return Int(digits) ?? -1
    }

    /// The block number after `blk.` and the component before `weight` (the whole name without one).
    static func split(_ name: String) -> (layer: String, tensor: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var layer = "", tensor = ""
        if let i = parts.firstIndex(where: { $0 == "blk" }), i + 1 < parts.count { layer = parts[i + 1] }
        if let i = parts.indices.first(where: { $0 > 0 && parts[$0] == "weight" }) { tensor = parts[i - 1] }
        return (layer.isEmpty ? "-" : layer, tensor.isEmpty ? name : tensor)
    }

    static func row(_ e: ImportanceStatistics.Entry, skipped: inout [String]) -> Row? {
        guard !e.counts.isEmpty, e.sums.count % e.counts.count == 0 else {
            skipped.append("activation size mismatch for tensor \(e.name) (\(e.counts.count) vs \(e.sums.count))")
            return nil
        }
        let columns = e.sums.count / e.counts.count
        var a: [Float] = []
        a.reserveCapacity(e.sums.count)
        for i in 0..<e.counts.count where e.counts[i] != 0 {
            let c = Float(e.counts[i])
            for j in 0..<columns { a.append(e.sums[i * columns + j] / c) }
        }
        guard !a.isEmpty, let hi = a.max(), let lo = a.min() else {
            skipped.append("all counts are zero for tensor \(e.name), skipping statistics computation")
            return nil
        }
        var total: Float = 0
        for v in a { total = total + v }
        let n = Float(a.count)
        let mean = total / n
        var squares: Float = 0
        for v in a { squares = squares + v * v }
        let variance = (squares / n) - (mean * mean)
        let dev = Swift.max(0, variance).squareRoot()
        let inactive = a.reduce(0) { $0 + (abs($1) <= 1e-5 ? 1 : 0) }
        let active = 1 - Float(inactive) / n
        var entropy: Float = 0
        if total > 0 {
            for v in a {
                let p = v / total
                if p > 0 { entropy = entropy - p * log2f(p) }
            }
        }
        var z = 0
        if dev > 0 {
            for v in a where (v - mean) / dev > 1 { z += 1 }
        }
        let (layer, short) = split(e.name)
        return Row(tensor: e.name, layer: layer, shortName: short, total: total, mean: mean, max: hi, min: lo,
                   elements: a.count, stddev: dev, active: active, entropy: entropy, zd: Float(z) / Float(a.count),
                   cossim: 0, sums: e.sums)
    }

    /// The same tensor name with the first `blk.N.` turned into `blk.(N-1).`, or nil without one.
    static func previousBlockName(_ name: String) -> String? {
        let b = Array(name.utf8)
        var i = 0
        while i + 4 <= b.count {
            if b[i] == UInt8(ascii: "b"), b[i + 1] == UInt8(ascii: "l"), b[i + 2] == UInt8(ascii: "k"), b[i + 3] == UInt8(ascii: ".") {
                var j = i + 4
                while j < b.count, b[j] >= UInt8(ascii: "0"), b[j] <= UInt8(ascii: "9") { j += 1 }
                if j > i + 4, j < b.count, b[j] == UInt8(ascii: "."), let n = Int(String(decoding: b[(i + 4)..<j], as: UTF8.self)) {
                    return String(decoding: b[..<(i + 4)], as: UTF8.self) + String(n - 1) + String(decoding: b[j...], as: UTF8.self)
                }
            }
            i += 1
        }
        return nil
    }

    static func dot(_ x: [Float], _ y: [Float]) -> Float {
        var s: Float = 0
        for i in 0..<Swift.min(x.count, y.count) { s = s + x[i] * y[i] }
        return s
    }

    static func cosineSimilarity(_ rows: inout [Row]) {
        var index: [String: Int] = [:]
        for (i, r) in rows.enumerated() where index[r.tensor] == nil { index[r.tensor] = i }
        for i in rows.indices {
            guard let prevName = previousBlockName(rows[i].tensor) else {
                rows[i].cossim = 0
                continue
            }
            guard let p = index[prevName] else { continue }
            let cur = rows[i].sums, prev = rows[p].sums
            let dp = dot(cur, prev)
            let cm = dot(cur, cur).squareRoot()
            let pm = dot(prev, prev).squareRoot()
            rows[i].cossim = dp / (cm * pm)
        }
    }

    /// The report as llama-imatrix prints it (`file`: the name shown in the first line).
    public func text(file: String) -> String {
        var s = "\nComputing statistics for \(file) (\(rows.count) tensors)\n"
        s += "\n" + [" Layer", "       Tensor", "          Σ(Act²)", "  Min", "            Max", "           μ", "   σ",
                     " % Active", "N", "   Entropy", "E (norm)", "ZD", "  CosSim"].joined(separator: "\t") + "\n"
        s += String(repeating: "=", count: 169) + "\n"
        for r in rows {
            // 100·entropy / log2(N) is evaluated in double (std::log2 of an int), then stored as a float.
            let norm: Float = r.elements > 0 ? Float(Double(100 as Float) * (Double(r.entropy) / Foundation.log2(Double(r.elements)))) : 0
            s += String(format: "%@\t%@\t%10.2f\t%8.4f\t%11.4f\t%6.2f\t%6.2f\t%8.2f%%\t%6d\t%10.4f\t%6.2f%%\t%10.2f%%\t%8.4f\n",
                        Self.pad(r.layer, 5) as NSString, Self.padRight(r.shortName, 20) as NSString,
                        Double(r.total), Double(r.min), Double(r.max), Double(r.mean), Double(r.stddev),
                        Double(r.active * 100), Int32(truncatingIfNeeded: r.elements), Double(r.entropy), Double(norm),
                        Double(100 * r.zd), Double(r.cossim))
        }
        let blocks = layers.filter { $0.layer >= 0 }
        s += "\nComputing weighted average statistics per layer (\(blocks.count) layers)\n"
        s += "\n" + ["  Layer", "     μΣ(Act²)", "      μZD", "μCosSim"].joined(separator: "\t") + "\n"
        s += String(repeating: "=", count: 48) + "\n"
        for l in blocks where l.totalElements > 0 {
            let n = Float(l.totalElements)
            s += String(format: "%5d\t%14.2f\t%10.4f%%\t%6.4f\n", Int32(truncatingIfNeeded: l.layer), Double(l.weightedBias / n),
                        Double(100 * (l.weightedZD / n)), Double(l.weightedCossim / n))
        }
        return s + "\n"
    }

    /// printf's `%Ns` / `%-Ns` width (in bytes, as C counts).
    static func pad(_ s: String, _ width: Int) -> String {
        let n = s.utf8.count
        return n >= width ? s : String(repeating: " ", count: width - n) + s
    }

    static func padRight(_ s: String, _ width: Int) -> String {
        let n = s.utf8.count
        return n >= width ? s : s + String(repeating: " ", count: width - n)
    }
}
