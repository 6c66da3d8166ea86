import GGUF

/// A size budget for `gguf-quantize --target-bpw` / `--target-size`: the quantized model must not
/// be larger than this.
public enum SizeTarget: Sendable, Equatable, CustomStringConvertible {
    /// Bits per weight as llama-quantize prints them: the bytes of every output tensor times 8,
    /// over the element count of the input (norms and other kept tensors count too).
    case bitsPerWeight(Double)
    /// The whole output file in bytes (header, metadata, tensor data and alignment padding).
    case fileSize(Int)

    public var description: String {
        switch self {
        case .bitsPerWeight(let b): return "\(b) bits per weight"
        case .fileSize(let n): return "\(n) bytes"
        }
    }

    /// Parses a size: a whole number of bytes (`3435973837`) or a number with a unit, any case:
    /// `K`, `M`, `G`, `T` are powers of 1000 (as `gguf-split --split-max-size` reads them),
    /// `KiB`, `MiB`, `GiB`, `TiB` powers of 1024; a trailing `B` is allowed (`3.2GB`).
    /// - Throws: `QuantizeError` naming the text when it is not a positive size.
    public static func parseSize(_ text: String) throws(QuantizeError) -> Int {
        let s = text.trimmingWhitespace
        var digits = ""
        var unit = Substring("")
        if let i = s.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) {
            digits = String(s[..<i])
            unit = s[i...]
        } else {
            digits = s
        }
        let scale: Double
        switch unit.lowercased() {
        case "", "b": scale = 1
        case "k", "kb": scale = 1e3
        case "m", "mb": scale = 1e6
        case "g", "gb": scale = 1e9
        case "t", "tb": scale = 1e12
        case "kib": scale = 1024
        case "mib": scale = 1024 * 1024
        case "gib": scale = 1024 * 1024 * 1024
        case "tib": scale = 1024 * 1024 * 1024 * 1024
        default:
            throw QuantizeError("invalid size '\(text)': expected bytes or a number with K, M, G, T (powers of 1000) "
                                + "or KiB, MiB, GiB, TiB (powers of 1024), e.g. 3.2G")
        }
        guard !digits.isEmpty, digits.filter({ $0 == "." }).count <= 1, let v = Double(digits), v.isFinite, v > 0 else {
            throw QuantizeError("invalid size '\(text)': expected a positive number of bytes, e.g. 3435973837 or 3.2G")
        }
        let bytes = (v * scale).rounded(.down)
        guard bytes >= 1, bytes < 9.0e18 else {
            throw QuantizeError("invalid size '\(text)': \(bytes) bytes is out of range")
        }
        return Int(bytes)
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

/// One tensor the allocator chooses a type for: its candidate types, each with the bytes it
/// would take and its predicted loss (lower is better).
public struct SizeTargetCandidates: Sendable, Equatable {
    /// One way to store the tensor.
    public struct Option: Sendable, Equatable {
        public var type: GGMLType
        /// Bytes this option takes in the budget (with alignment padding for a file-size target).
        public var bytes: Int
        /// Predicted loss of the model when this tensor has this type (the other tensors exact).
        public var loss: Double

        public init(type: GGMLType, bytes: Int, loss: Double) {
            self.type = type
            self.bytes = bytes
            self.loss = loss
        }
    }

    public var name: String
    public var options: [Option]

    public init(name: String, options: [Option]) {
        self.name = name
        self.options = options
    }
}

/// The choice of the allocator: one option per tensor, in input order.
public struct SizeTargetAllocation: Sendable, Equatable {
    /// Index into each tensor's `options`.
    public var choices: [Int]
    /// Bytes of the chosen options (without the fixed bytes).
    public var bytes: Int
    /// The sum of the chosen options' losses.
    public var loss: Double
}

/// Chooses one type per tensor so that the bytes fit a budget at the least total loss: a
/// multiple-choice knapsack solved exactly by dynamic programming over the budget counted in
/// units of `unit` bytes (each option's bytes rounded **up** to whole units, so the exact byte
/// total never exceeds the budget).
///
/// The loss model is additive (the model's loss is the sum of the tensors' losses), which is
/// how second-order estimates of the KL-divergence behave for independent quantization errors.
/// Because the program is solved exactly for each budget, a larger budget never gives a larger
/// total loss (monotonicity), which a greedy marginal-gain search does not guarantee.
///
/// The unit is at least `minimumUnit` and large enough that the table for the largest options
/// has at most `maxUnits` columns (it depends on the tensors, not on the budget), so the work is `tensors × options × maxUnits`; the bytes lost to rounding are at
/// most one unit per tensor.
public enum SizeTargetAllocator {
    /// - Parameters:
    ///   - tensors: the tensors and their options (at least one option each).
    ///   - budget: bytes available for these tensors.
    ///   - minimumUnit: the smallest rounding unit in bytes (e.g. the file's alignment).
    ///   - maxUnits: the largest table width.
    /// - Returns: nil when even the smallest option of every tensor does not fit the budget.
    public static func allocate(_ tensors: [SizeTargetCandidates], budget: Int, minimumUnit: Int = 32,
                                maxUnits: Int = 200_000) -> SizeTargetAllocation? {
        guard budget >= 0 else { return nil }
        let smallest = tensors.reduce(0) { $0 + ($1.options.map(\.bytes).min() ?? 0) }
        guard smallest <= budget, tensors.allSatisfy({ !$0.options.isEmpty }) else { return nil }
        if tensors.isEmpty { return SizeTargetAllocation(choices: [], bytes: 0, loss: 0) }
        // Only what the largest options need matters: a budget beyond that changes nothing.
        let largest = tensors.reduce(0) { $0 + ($1.options.map(\.bytes).max() ?? 0) }
        // The unit depends on the tensors only (not on the budget), so that every budget is solved
        // on the same grid and a larger budget can only do better.
        var unit = max(1, minimumUnit)
        if largest / unit > maxUnits { unit = (largest + maxUnits - 1) / maxUnits }
        // Costs in units, rounded up.
        let costs = tensors.map { $0.options.map { ($0.bytes + unit - 1) / unit } }
        // A budget that holds the largest options holds any choice, whatever the rounding.
        let capUnits = costs.reduce(0) { $0 + ($1.max() ?? 0) }
        let units = budget >= largest ? capUnits : min(budget / unit, capUnits)
        let width = units + 1
        var dp = [Double](repeating: 0, count: width)
        var next = [Double](repeating: 0, count: width)
        var choice = [UInt8](repeating: 0, count: tensors.count * width)
        for (i, t) in tensors.enumerated() {
            let c = costs[i]
            dp.withUnsafeBufferPointer { prev in
                next.withUnsafeMutableBufferPointer { cur in
                    choice.withUnsafeMutableBufferPointer { ch in
                        let row = i * width
                        for b in 0..<width {
                            var best = Double.infinity
                            var arg = 0
                            for (k, o) in t.options.enumerated() where c[k] <= b {
                                let v = prev[b - c[k]] + o.loss
                                // Ties go to the smaller option (stable, deterministic).
                                if v < best || (v == best && o.bytes < t.options[arg].bytes) {
                                    best = v
                                    arg = k
                                }
                            }
                            cur[b] = best
                            ch[row + b] = UInt8(truncatingIfNeeded: arg)
                        }
                    }
                }
            }
            swap(&dp, &next)
        }
        // The rounding may leave no feasible entry even though the exact bytes fit.
        guard dp[units].isFinite else { return fallbackSmallest(tensors) }
        var choices = [Int](repeating: 0, count: tensors.count)
        var b = units
        for i in stride(from: tensors.count - 1, through: 0, by: -1) {
            let k = Int(choice[i * width + b])
            choices[i] = k
            b -= costs[i][k]
        }
        let bytes = zip(tensors, choices).reduce(0) { $0 + $1.0.options[$1.1].bytes }
        let loss = zip(tensors, choices).reduce(0.0) { $0 + $1.0.options[$1.1].loss }
        return SizeTargetAllocation(choices: choices, bytes: bytes, loss: loss)
    }

    /// Every tensor at its smallest option (used when rounding to units makes the table too coarse
    /// to hold a budget the exact bytes fit).
    static func fallbackSmallest(_ tensors: [SizeTargetCandidates]) -> SizeTargetAllocation {
        var choices: [Int] = []
        for t in tensors {
            var best = 0
            for (k, o) in t.options.enumerated() where o.bytes < t.options[best].bytes
                || (o.bytes == t.options[best].bytes && o.loss < t.options[best].loss) { best = k }
            choices.append(best)
        }
        let bytes = zip(tensors, choices).reduce(0) { $0 + $1.0.options[$1.1].bytes }
        let loss = zip(tensors, choices).reduce(0.0) { $0 + $1.0.options[$1.1].loss }
        return SizeTargetAllocation(choices: choices, bytes: bytes, loss: loss)
    }
}
