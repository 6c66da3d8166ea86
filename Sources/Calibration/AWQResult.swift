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
    /// The up → down scales of an MoE block's routed experts, by expert (one per column of the
    /// expert's down projection); experts whose unscaled weights scored best have none. The
    /// group's summed losses are under `.down` in `loss` and `baseLoss`.
    public var expertDownScales: [Int: [Float]] = [:]
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
    /// Where the scaled matrices are stored (fused Phi-3 tensors, routed experts); set by the
    /// calibrator from the model.
    public var layout = AWQTensorLayout.separate

    public init(layers: [AWQLayerResult], calibrationFile: String, samples: Int, sequenceLength: Int, grid: Int, clip: Bool) {
        self.layers = layers
        self.calibrationFile = calibrationFile
        self.samples = samples
        self.sequenceLength = sequenceLength
        self.grid = grid
        self.clip = clip
    }

    /// Scaled groups over all layers.
    public var groupCount: Int { layers.reduce(0) { $0 + $1.scales.count + $1.expertDownScales.count } }

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
                    // The tensor holding the linear (fused: once per tensor); none for an MoE
                    // block's experts, whose inputs are each expert's routed rows.
                    guard let name = layout.place(role)?.tensor.weight(il), out[name] == nil else { continue }
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
        /// Divisors of the rows from a first row on (a fused tensor's part; else the first row is 0
        /// and the divisors cover every row).
        var rowScale: [Float]?
        var firstRow = 0
        /// The row scales, divisors and clips cover parts of a fused tensor (Phi-3's `attn_qkv`,
        /// `ffn_up`), not necessarily all of its rows.
        var partialRows = false
        /// For vectors (norm weights, biases): divide elementwise (from `firstRow` on for a
        /// fused tensor's bias; else every value).
        var divide: [Float]?
        /// Column multipliers per equal slab of rows, slab after slab (`columns × slabs` values):
        /// each routed expert's own columns in a stacked `[columns, rows, experts]` tensor.
        var slabColumnScale: [Float]?
        /// Clip limits of the rows of one or more parts: (first row, limits).
        var clips: [(row: Int, limits: [Float])] = []
    }

    /// The rewrite of every affected tensor, by name.
    func folds() -> [String: Fold] {
        var out: [String: Fold] = [:]
        for (il, l) in layers.enumerated() {
            func edit(_ name: String, _ body: (inout Fold) -> Void) {
                var f = out[name] ?? Fold()
                f.partialRows = layout.fused != nil && (name == TensorName.attnQKV.weight(il) || name == TensorName.attnQKV.bias(il)
                                                        || name == TensorName.ffnUp.weight(il))
                body(&f)
                out[name] = f
            }
            for (group, s) in l.scales {
                if let norm = group.previousNorm { edit(norm.weight(il)) { $0.divide = s } }
                if let prev = group.previousLinear.flatMap(LinearRole.init(tensorName:)), let (t, row) = layout.place(prev) {
                    edit(t.weight(il)) { $0.rowScale = s; $0.firstRow = row }
                    if prev == .attnV { edit(t.bias(il)) { $0.divide = s; $0.firstRow = row } }
                }
                for t in layout.scaledTensors(group) { edit(t.weight(il)) { $0.columnScale = s } }
            }
            // Per-expert up → down: expert x's rows of ffn_up_exps are divided by its scales and
            // its columns of ffn_down_exps multiplied by them (1 for experts left unscaled).
            if layout.experts > 0, let width = l.expertDownScales.values.first?.count {
                var s = [Float](repeating: 1, count: layout.experts * width)
                for (x, e) in l.expertDownScales where x >= 0 && x < layout.experts && e.count == width {
                    for i in 0..<width { s[x * width + i] = e[i] }
                }
                edit(TensorName.ffnUpExps.weight(il)) { $0.rowScale = s }
                edit(TensorName.ffnDownExps.weight(il)) { $0.slabColumnScale = s }
            }
            for (role, limits) in l.clips {
                guard let (t, row) = layout.place(role) else { continue }
                edit(t.weight(il)) { $0.clips.append((row, limits)) }
            }
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
        // A part of a fused tensor is divided where it lies; the other rows are divided by 1,
        // which leaves them unchanged.
        let partial = f.partialRows
        if let d = f.divide {
            guard partial ? f.firstRow + d.count <= values.count : values.count == d.count else {
                throw AWQError(.invalid, "tensor '\(name)' has shape \(shape), expected \(d.count) values for its AWQ scales")
            }
            for i in 0..<d.count { values[f.firstRow + i] /= d[i] }
            return
        }
        let columns = shape.first ?? 0
        let rows = columns == 0 ? 0 : values.count / columns
        let rowsFit = f.rowScale.map { partial ? f.firstRow + $0.count <= rows : $0.count == rows } ?? true
        guard columns > 0, rows * columns == values.count, f.columnScale.map({ $0.count == columns }) ?? true, rowsFit else {
            throw AWQError(.invalid, "tensor '\(name)' has shape \(shape), expected \(f.columnScale?.count ?? columns) columns"
                           + " and \(f.rowScale?.count ?? rows) rows for its AWQ scales")
        }
        var rowScale = f.rowScale
        if let r = rowScale, r.count != rows {
            var full = [Float](repeating: 1, count: rows)
            for i in 0..<r.count { full[f.firstRow + i] = r[i] }
            rowScale = full
        }
        ScaleMath.scale(values, rows: rows, columns: columns, columnScale: f.columnScale, rowScale: rowScale)
        if let b = f.slabColumnScale {
            let slabs = b.count / columns
            guard b.count % columns == 0, slabs > 0, rows % slabs == 0 else {
                throw AWQError(.invalid, "tensor '\(name)' has shape \(shape), which does not hold \(b.count / max(1, columns)) "
                               + "experts of \(columns) columns for its AWQ scales")
            }
            let perSlab = rows / slabs
            for r in 0..<rows {
                let base = r * columns, sb = (r / perSlab) * columns
                for c in 0..<columns { values[base + c] *= b[sb + c] }
            }
        }
        guard !f.clips.isEmpty else { return }
        let groups = columns / ScaleMath.groupSize
        var limits = [Float](repeating: .infinity, count: rows * groups)
        for (row, c) in f.clips {
            guard columns % ScaleMath.groupSize == 0, c.count % max(1, groups) == 0, row * groups + c.count <= limits.count,
                  partial || c.count == limits.count else {
                throw AWQError(.invalid, "tensor '\(name)' has shape \(shape), which does not match its \(c.count) AWQ clip limits")
            }
            for i in 0..<c.count { limits[row * groups + i] = c[i] }
        }
        ClipSearch.apply(values, rows: rows, columns: columns, limits: limits)
    }
}
