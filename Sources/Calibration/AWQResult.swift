import Architectures
import GGUF
import Inference

/// What calibration found for one decoder block.
public struct AWQLayerResult: Sendable, Equatable {
    /// Scales per group (one per input column of the scaled linears).
    public var scales: [AWQGroup: [Float]] = [:]
    /// The grid ratio chosen per group; nil when no candidate beat the unscaled weights.
    public var ratios: [AWQGroup: Float?] = [:]
    /// Output error (mean squared) of the inspected module with the chosen scales and without.
    public var loss: [AWQGroup: Double] = [:]
    public var baseLoss: [AWQGroup: Double] = [:]
    /// Clip limits per linear: `rows × (columns / ScaleMath.groupSize)` magnitudes (infinity:
    /// not clipped), applied after scaling.
    public var clips: [LinearRole: [Float]] = [:]
    /// Per-column mean of x² of each linear input over every calibration token, on the float
    /// model before any scaling, keyed by the first linear reading it (see
    /// `AWQResult.inputReaders`): attn_q (also k and v), attn_output, ffn_gate (also up), ffn_down.
    public var inputMeanSquares: [LinearRole: [Float]] = [:]

    public init() {}
}

/// The calibration of a whole model, and how to fold it into the weights (spec §6.6).
public struct AWQResult: Sendable, Equatable {
    public var layers: [AWQLayerResult]
    /// The calibration settings, recorded in the output's metadata.
    public var calibrationFile: String
    public var samples: Int
    public var sequenceLength: Int
    public var grid: Int
    public var clip: Bool
    /// Whether `importance` was handed to the quantizer (recorded as `quantize.awq.importance`;
    /// the key is written only when true, so plain `--awq` files keep their metadata).
    public var importanceUsed = false

    public init(layers: [AWQLayerResult], calibrationFile: String, samples: Int, sequenceLength: Int, grid: Int, clip: Bool) {
        self.layers = layers
        self.calibrationFile = calibrationFile
        self.samples = samples
        self.sequenceLength = sequenceLength
        self.grid = grid
        self.clip = clip
    }

    /// Scaled groups over all layers.
    public var groupCount: Int { layers.reduce(0) { $0 + $1.scales.count } }

    /// The `quantize.awq.*` keys (after llama-quantize's `quantize.imatrix.*`: strings cut to 127
    /// bytes, counts as INT32): file, samples (lines used), seqlen, grid, clip, groups.
    public var metadata: [GGUFKeyValue] {
        var b = Array(calibrationFile.utf8.prefix(127))
        while !b.isEmpty, String(validating: b, as: UTF8.self) == nil { b.removeLast() }
        typealias K = GGUFKey.Quantize
        return [GGUFKeyValue(K.awqFile, .string(String(decoding: b, as: UTF8.self))),
                GGUFKeyValue(K.awqSamples, .int32(Int32(clamping: samples))),
                GGUFKeyValue(K.awqSeqLen, .int32(Int32(clamping: sequenceLength))),
                GGUFKeyValue(K.awqGrid, .int32(Int32(clamping: grid))),
                GGUFKeyValue(K.awqClip, .bool(clip)),
                GGUFKeyValue(K.awqGroups, .int32(Int32(clamping: groupCount)))]
            + (importanceUsed ? [GGUFKeyValue(K.awqImportance, .bool(true))] : [])
    }

    /// The linears of a block that read each captured input: q, k and v read attn_norm's
    /// output, gate and up read ffn_norm's output.
    public static let inputReaders: [(input: LinearRole, readers: [LinearRole])] = [
        (.attnQ, [.attnQ, .attnK, .attnV]), (.attnOutput, [.attnOutput]),
        (.ffnGate, [.ffnGate, .ffnUp]), (.ffnDown, [.ffnDown]),
    ]

    /// Per-tensor, per-column importances for the weighted quantizers (a `QuantizeJob.importance`),
    /// from the calibration's own inputs and valid for the **folded** weights: a linear whose
    /// columns are multiplied by scales s sees inputs x/s, so its importance is mean(x²)/s² per
    /// column; linears with no column scale keep mean(x²). Row scales (v before o, up before
    /// down) and clipping leave a linear's own inputs unchanged. Keyed by weight name
    /// (`blk.3.attn_q.weight`); layers calibrated without input statistics have no entries.
    public var importance: [String: [Float]] {
        let table = folds()
        var out: [String: [Float]] = [:]
        for (il, l) in layers.enumerated() {
            for (input, readers) in Self.inputReaders {
                guard let ms = l.inputMeanSquares[input] else { continue }
                for role in readers {
                    let name = role.weightName(layer: il)
                    guard let s = table[name]?.columnScale, s.count == ms.count else {
                        out[name] = ms
                        continue
                    }
                    out[name] = (0..<ms.count).map { c in
                        let v = ms[c] / (s[c] * s[c])
                        return v.isFinite ? v : Float.greatestFiniteMagnitude
                    }
                }
            }
        }
        return out
    }

    /// How one tensor is rewritten.
    struct Fold {
        var columnScale: [Float]?
        var rowScale: [Float]?
        /// For vectors (norm weights, biases): divide elementwise.
        var divide: [Float]?
        var clip: [Float]?
    }

    /// The rewrite of every affected tensor, by name.
    func folds() -> [String: Fold] {
        var out: [String: Fold] = [:]
        for (il, l) in layers.enumerated() {
            func edit(_ name: String, _ body: (inout Fold) -> Void) {
                var f = out[name] ?? Fold()
                body(&f)
                out[name] = f
            }
            for (group, s) in l.scales {
                if let norm = group.previousNorm { edit(norm.weight(il)) { $0.divide = s } }
                if let prev = group.previousLinear {
                    edit(prev.weight(il)) { $0.rowScale = s }
                    if prev == .attnV { edit(TensorName.attnV.bias(il)) { $0.divide = s } }
                }
                for name in group.scaled { edit(name.weight(il)) { $0.columnScale = s } }
            }
            for (role, limits) in l.clips { edit(role.weightName(layer: il)) { $0.clip = limits } }
        }
        return out
    }

    /// A `QuantizeJob.transform`: folds the scales (and clips) into the tensors they concern.
    /// Returns whether the tensor changed.
    /// - Throws: `AWQError(.invalid)` when a tensor's shape does not match its scales.
    public func transform() -> @Sendable (String, [Int], UnsafeMutableBufferPointer<Float>) throws -> Bool {
        let table = folds()
        return { name, shape, values in
            guard let f = table[name] else { return false }
            try Self.apply(f, name: name, shape: shape, values: values)
            return true
        }
    }

    static func apply(_ f: Fold, name: String, shape: [Int], values: UnsafeMutableBufferPointer<Float>) throws(AWQError) {
        if let d = f.divide {
            guard values.count == d.count else {
                throw AWQError(.invalid, "tensor '\(name)' has shape \(shape), expected \(d.count) values for its AWQ scales")
            }
            for i in 0..<d.count { values[i] /= d[i] }
            return
        }
        let columns = shape.first ?? 0
        let rows = columns == 0 ? 0 : values.count / columns
        guard columns > 0, rows * columns == values.count,
              f.columnScale.map({ $0.count == columns }) ?? true, f.rowScale.map({ $0.count == rows }) ?? true else {
            throw AWQError(.invalid, "tensor '\(name)' has shape \(shape), expected \(f.columnScale?.count ?? columns) columns"
                           + " and \(f.rowScale?.count ?? rows) rows for its AWQ scales")
        }
        ScaleMath.scale(values, rows: rows, columns: columns, columnScale: f.columnScale, rowScale: f.rowScale)
        if let c = f.clip {
            guard columns % ScaleMath.groupSize == 0, c.count == rows * (columns / ScaleMath.groupSize) else {
                throw AWQError(.invalid, "tensor '\(name)' has shape \(shape), which does not match its \(c.count) AWQ clip limits")
            }
            ClipSearch.apply(values, rows: rows, columns: columns, limits: c)
        }
    }
}
