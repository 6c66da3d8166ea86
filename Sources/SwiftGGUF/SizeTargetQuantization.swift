import Foundation
import GGUF
import Inference
import Quants

/// How `Quantization.planSizeTarget` measures and chooses (`gguf-quantize --target-bpw` /
/// `--target-size`).
public struct SizeTargetOptions: Sendable {
    /// The budget the plan must fit.
    public var target: SizeTarget
    /// A calibration text (UTF-8, e.g. wiki.calib.raw) for the sensitivity passes. Without it the
    /// loss of a tensor is its importance-weighted squared error alone, with the same weight for
    /// every tensor.
    public var calibrationText: String?
    /// Tokens of the calibration text run through the model per sensitivity pass.
    public var calibrationTokens = 512
    /// Tokens per calibration sequence (the sequences are taken at evenly spaced places in the text).
    public var sequenceLength = 256
    /// The decoder blocks are cut into this many consecutive groups; each (linear role, group)
    /// gets its own measured sensitivity.
    public var layerGroups = 3
    /// The types the plan may use (each tensor keeps those whose block divides its rows, that this
    /// build can quantize and the engine can run).
    public var candidateTypes: [GGMLType] = SizeTargetOptions.defaultCandidates
    /// Rows of each tensor quantized with every candidate to measure its error (evenly spaced; all
    /// rows when the tensor has fewer).
    public var sampleRows = 256

    /// The k-quants, the 32-value block types and the IQ types that need no importance matrix:
    /// Q2_K … Q6_K, IQ3_S, IQ4_XS, IQ4_NL, Q4_0 … Q5_1, Q8_0.
    public static let defaultCandidates: [GGMLType] = [
        .q2_K, .iq3_S, .q3_K, .iq4_XS, .iq4_NL, .q4_0, .q4_1, .q4_K, .q5_0, .q5_1, .q5_K, .q6_K, .q8_0,
    ]

    public init(target: SizeTarget) { self.target = target }
}

/// The type chosen for one tensor of a size-target plan.
public struct SizeTargetChoice: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var type: GGMLType
    /// Bytes of the tensor in this type.
    public var bytes: Int
    /// Predicted loss with this type (sensitivity × importance-weighted squared error).
    public var loss: Double
    /// How many types were possible for it.
    public var candidateCount: Int
}

/// A size-target plan: per-tensor types and what they are predicted to cost.
public struct SizeTargetPlan: Sendable {
    public var target: SizeTarget
    /// The tensors whose type was chosen, in output order.
    public var choices: [SizeTargetChoice]
    /// Bytes of every tensor's data (the chosen ones and those with a fixed type), without padding.
    public var tensorBytes: Int
    /// The whole output file in bytes, as it will be written.
    public var fileBytes: Int
    /// `tensorBytes × 8 / input elements`, llama-quantize's BPW.
    public var bitsPerWeight: Double
    /// The smallest file the candidates allow, and its bits per weight.
    public var minimumFileBytes: Int
    public var minimumBitsPerWeight: Double
    /// The sum of the chosen tensors' predicted losses (mean KL-divergence units when calibrated).
    public var predictedLoss: Double
    /// Measured sensitivity per tensor class (`attn_v@0` is attn_v in the first layer group), when a
    /// calibration text was given: KL-divergence per unit of importance-weighted squared error.
    public var sensitivities: [(name: String, value: Double)]
    /// The request that writes this plan (`--tensor-type` items with every chosen type).
    public var request: QuantizationRequest
    /// Every chosen tensor's options (type, bytes in the budget, predicted loss), in the order of
    /// `choices`: what the allocator chose from.
    public var candidates: [SizeTargetCandidates] = []
}

extension Quantization {
    /// Chooses a type for every quantizable tensor so that the output fits `options.target` at
    /// the least predicted loss; nothing is written.
    ///
    /// The algorithm:
    /// 1. **Candidates.** Each quantizable tensor may take each type of `options.candidateTypes`
    ///    whose block size divides its row length (the types llama-quantize's shape fallbacks lead
    ///    to are in the list), that this build quantizes and the engine multiplies. Tensors given a
    ///    type by `tensorTypes`, `tokenEmbeddingType` or `outputTensorType` keep it, and the
    ///    others (norms, ...) stay as llama-quantize keeps them; their bytes count in the budget.
    /// 2. **Error.** For each candidate, `sampleRows` evenly spaced rows are quantized as the
    ///    writer will (with the importance matrix when there is one) and dequantized; the error is
    ///    `Σ_rows Σ_j imp_j (w_j − ŵ_j)²` scaled to all rows (imp = 1 without importances): the
    ///    expected squared error this tensor adds to its output.
    /// 3. **Sensitivity** (with a calibration text). The text runs through the model once
    ///    unchanged (its importances, mean x² per column, replace a missing importance matrix), then
    ///    once per class, a class being one linear role (attn_q … ffn_down) in one of
    ///    `layerGroups` groups of consecutive blocks, plus the token embedding (with the tied
    ///    output) and the output: the class's tensors are replaced by their quantization to a
    ///    probe type (the candidate nearest 4.5 bits per weight that changes the tensor: one whose
    ///    grid already holds the weights would measure nothing) and the mean KL-divergence to the
    ///    unchanged model's next-token distributions is measured. The class's sensitivity is that
    ///    KL-divergence over the sum of its tensors' errors at the probe types; tensors in no
    ///    class get the mean sensitivity.
    /// 4. **Loss** of a tensor in a type = its class's sensitivity × its error in that type (the
    ///    second-order picture: small independent errors add up in the KL-divergence).
    /// 5. **Allocation.** `SizeTargetAllocator` solves the multiple-choice knapsack (least total
    ///    loss with the bytes within the budget) exactly by dynamic programming. For a file-size
    ///    target the budget is the size minus the header and the fixed tensors, each tensor
    ///    counted with its alignment padding; for bits per weight it is `bpw × elements / 8`
    ///    minus the fixed tensors.
    /// - Throws: `SwiftGGUFError` (`.invalidOptions` when the target is below the smallest
    ///   possible size, naming that size; `.invalidInput` for an unreadable calibration text).
    public static func planSizeTarget(_ request: QuantizationRequest, options: SizeTargetOptions,
                                      events: ((QuantizationEvent) -> Void)? = nil) throws(SwiftGGUFError) -> SizeTargetPlan {
        try SizeTargetPlanner(request: request, options: options, events: events).plan()
    }

    /// `planSizeTarget`, then writes the plan (as `run` writes a fixed mix).
    public static func runSizeTarget(_ request: QuantizationRequest, options: SizeTargetOptions,
                                     events: ((QuantizationEvent) -> Void)? = nil) throws(SwiftGGUFError) -> (SizeTargetPlan, QuantizationReport) {
        let file = try wrapped { try GGUFFile.openModel(path: request.input) }
        try OutputPath.check(request.output, inputs: file.splitPaths, force: request.replaceExisting)
        let plan = try planSizeTarget(request, options: options, events: events)
        let report = try run(plan.request, events: events)
        return (plan, report)
    }
}

/// The steps of `Quantization.planSizeTarget`.
struct SizeTargetPlanner {
    let request: QuantizationRequest
    let options: SizeTargetOptions
    let events: ((QuantizationEvent) -> Void)?

    /// A tensor whose type is chosen.
    struct Free {
        let plan: TensorPlan
        let info: GGUFTensorInfo
        let types: [GGMLType]
        var errors: [Double] = []
        var sensitivityClass: String?
    }

    func say(_ s: String) { events?(.message("size-target: " + s + "\n")) }

    func plan() throws(SwiftGGUFError) -> SizeTargetPlan {
        guard options.calibrationTokens > 0, options.sequenceLength > 0, options.layerGroups > 0, options.sampleRows > 0 else {
            throw SwiftGGUFError(.invalidOptions, "size target: calibration tokens, sequence length, layer groups and sample rows must be positive")
        }
        switch options.target {
        case .bitsPerWeight(let b) where !(b.isFinite && b > 0):
            throw SwiftGGUFError(.invalidOptions, "invalid target bits per weight \(b): expected a positive number")
        case .fileSize(let n) where n <= 0:
            throw SwiftGGUFError(.invalidOptions, "invalid target size \(n): expected a positive number of bytes")
        default: break
        }
        let file = try wrapped { try GGUFFile.openModel(path: request.input) }
        // The plan of a placeholder mix tells which tensors are quantizable and which are fixed
        // (by --tensor-type and friends); its metadata is the output's (only file_type's value changes).
        var probe = request
        probe.fileType = .q8_0
        let job = try Quantization.prepare(probe, file: file, events: events)
        let summary = try wrapped { try ModelQuantizer.plan(file, job: job, checking: false) }
        let hasImportance = !job.importance.isEmpty || job.options.hasImportance
        var free: [Free] = []
        var fixed: [TensorPlan] = []
        for p in summary.plans {
            let role = p.name
            let pinned = p.manualOverride
                || (request.tokenEmbeddingType != nil && (role == "token_embd.weight" || role == "per_layer_token_embd.weight"))
                || (request.outputTensorType != nil && role == "output.weight")
            guard p.allowsQuantization, !pinned, let info = file.tensor(named: p.sourceName) else {
                fixed.append(p)
                continue
            }
            let ne0 = p.shape.first ?? 0
            var types: [GGMLType] = []
            for t in options.candidateTypes where !types.contains(t) && ne0 % t.blockSize == 0
                && Quantizer.canQuantize(t) && Quantizer.canMultiply(t)
                && (hasImportance || !Self.needsImportance(t)) {
                types.append(t)
            }
            if types.isEmpty { types = [p.targetType] }
            types.sort { ($0.byteCount(shape: p.shape) ?? 0) < ($1.byteCount(shape: p.shape) ?? 0) }
            free.append(Free(plan: p, info: info, types: types))
        }
        guard !free.isEmpty else {
            throw SwiftGGUFError(.invalidOptions, "size target: '\(request.input)' has no tensor whose type can be chosen")
        }

        // Sizes: the header and the fixed tensors are the same for every plan.
        let alignment = Self.alignment(summary.metadata)
        let header = Self.headerBytes(summary.metadata, plans: summary.plans, alignment: alignment)
            + (Self.isAWQ(request.weighting) ? 65536 : 0)
        let elements = summary.inputElementCount
        let fixedBytes = fixed.reduce(0) { $0 + $1.targetBytes }
        let fixedPadded = fixed.reduce(0) { $0 + Self.pad($1.targetBytes, alignment) }
        let fileMode: Bool
        let budget: Int
        switch options.target {
        case .fileSize(let n):
            fileMode = true
            budget = n - header - fixedPadded
        case .bitsPerWeight(let b):
            fileMode = false
            budget = Int((b * Double(elements) / 8).rounded(.down)) - fixedBytes
        }
        func cost(_ t: GGMLType, _ p: TensorPlan) -> Int {
            let n = t.byteCount(shape: p.shape) ?? 0
            return fileMode ? Self.pad(n, alignment) : n
        }
        let minimumPadded = free.reduce(0) { $0 + Self.pad($1.types[0].byteCount(shape: $1.plan.shape) ?? 0, alignment) }
        let minimumRaw = free.reduce(0) { $0 + ($1.types[0].byteCount(shape: $1.plan.shape) ?? 0) }
        let minimumFile = header + fixedPadded + minimumPadded
        let minimumBPW = Double(fixedBytes + minimumRaw) * 8 / Double(max(1, elements))
        let smallest = fileMode ? minimumPadded : minimumRaw
        guard budget >= smallest else {
            throw SwiftGGUFError(.invalidOptions, "target \(Self.describe(options.target)) is below the smallest possible: "
                                 + "\(minimumFile) bytes (\(String(format: "%.2f", Double(minimumFile) / 1048576)) MiB, "
                                 + "\(String(format: "%.4f", minimumBPW)) bits per weight) with the smallest candidate type of every tensor")
        }

        // Sensitivity passes first: they may supply the importances the error measure uses.
        var importance = job.importance
        var sensitivities: [String: Double] = [:]
        var calibration: SensitivityProbe?
        if let text = options.calibrationText {
            let c = try SensitivityProbe(file: file, textPath: text, options: options, threads: request.threads, say: say)
            if importance.isEmpty {
                importance = c.importance
                say("importances from the calibration text (\(c.importance.count) tensors)")
            }
            calibration = c
        }
        let groups = options.layerGroups
        let layerCount = calibration?.layerCount ?? 0
        say("measuring the quantization error of \(free.count) tensors in their candidate types")
        for i in free.indices {
            free[i].errors = try errors(free[i], file: file, importance: importance[free[i].plan.sourceName],
                                        writerImportance: job.importance[free[i].plan.sourceName])
            free[i].sensitivityClass = Self.sensitivityClass(free[i].plan.name, layers: layerCount, groups: groups,
                                                             tied: calibration?.tiedOutput ?? true)
        }
        // A zero error is exact, not a failure: the tensor's values already lie on that type's grid
        // (an input dequantized from it, e.g. an F32 rebuilt from a Q4_1 file), so that type costs
        // the tensor nothing and the plan prefers it to every larger type.
        var exact: [GGMLType: Int] = [:]
        for f in free {
            if let k = f.errors.firstIndex(of: 0), k < f.types.count { exact[f.types[k], default: 0] += 1 }
        }
        for (t, n) in exact.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            say("\(n) tensor(s) are exactly representable in \(t.name) (the input looks dequantized from it): "
                + "\(t.name) has zero predicted loss for them")
        }
        if let c = calibration {
            sensitivities = try c.sensitivities(free: free, writerImportance: job.importance, say: say)
        }
        let fallback = sensitivities.isEmpty ? 1.0 : sensitivities.values.reduce(0, +) / Double(sensitivities.count)
        var candidates: [SizeTargetCandidates] = []
        for f in free {
            let s = f.sensitivityClass.flatMap { sensitivities[$0] } ?? fallback
            candidates.append(SizeTargetCandidates(name: f.plan.name, options: zip(f.types, f.errors).map {
                SizeTargetCandidates.Option(type: $0.0, bytes: cost($0.0, f.plan), loss: s * $0.1)
            }))
        }
        guard let allocation = SizeTargetAllocator.allocate(candidates, budget: budget, minimumUnit: fileMode ? alignment : 1) else {
            throw SwiftGGUFError(.invalidOptions, "target \(Self.describe(options.target)) is below the smallest possible: \(minimumFile) bytes")
        }
        var choices: [SizeTargetChoice] = []
        var overrides = request.tensorTypes
        var byType: [GGMLType: Int] = [:]
        var chosenRaw = 0, chosenPadded = 0
        for (f, k) in zip(free, allocation.choices) {
            let t = f.types[k]
            let n = t.byteCount(shape: f.plan.shape) ?? 0
            chosenRaw += n
            chosenPadded += Self.pad(n, alignment)
            byType[t, default: 0] += n
            choices.append(SizeTargetChoice(name: f.plan.name, shape: f.plan.shape, type: t, bytes: n,
                                            loss: candidates[choices.count].options[k].loss, candidateCount: f.types.count))
            do throws(QuantizeError) {
                overrides.append(try TensorTypeOverride(pattern: "^" + Self.escape(f.plan.name) + "$", type: t))
            } catch {
                throw SwiftGGUFError(.invalidInput, error.message)
            }
        }
        var out = request
        out.tensorTypes = overrides
        let main = byType.max { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }?.key ?? .q8_0
        out.fileType = Self.fileType(for: main)
        let tensorBytes = fixedBytes + chosenRaw
        let fileBytes = header - (Self.isAWQ(request.weighting) ? 65536 : 0) + fixedPadded + chosenPadded
        let ordered = sensitivities.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        return SizeTargetPlan(target: options.target, choices: choices, tensorBytes: tensorBytes, fileBytes: fileBytes,
                              bitsPerWeight: Double(tensorBytes) * 8 / Double(max(1, elements)),
                              minimumFileBytes: minimumFile, minimumBitsPerWeight: minimumBPW,
                              predictedLoss: allocation.loss, sensitivities: ordered, request: out, candidates: candidates)
    }

    /// The importance-weighted squared error of `f` in each candidate type, on sampled rows
    /// scaled to the whole tensor. `importance` weights the error; `writerImportance` is what
    /// the writer will quantize with.
    func errors(_ f: Free, file: GGUFFile, importance: [Float]?, writerImportance: [Float]?) throws(SwiftGGUFError) -> [Double] {
        let ne0 = f.info.rowLength
        let rows = f.info.rowCount
        let picked = Self.sampleRows(rows, options.sampleRows)
        let values = try Self.rows(f.info, picked, file: file)
        let experts = f.info.shape.count > 2 ? max(1, f.info.shape[2]) : 1
        let perExpert = max(1, rows / experts)
        func slice(_ v: [Float]?, _ row: Int) -> ArraySlice<Float>? {
            guard let v else { return nil }
            if v.count == ne0 { return v[...] }
            if v.count == ne0 * experts {
                let e = min(experts - 1, row / perExpert)
                return v[(e * ne0)..<((e + 1) * ne0)]
            }
            return nil
        }
        var out: [Double] = []
        var q = [UInt8](repeating: 0, count: (GGMLType.f32.rowSize(ne0) ?? 4 * ne0) + 64)
        var back = [Float](repeating: 0, count: ne0)
        for t in f.types {
            var total = 0.0
            for (i, r) in picked.enumerated() {
                let w = values[(i * ne0)..<((i + 1) * ne0)]
                let wi = slice(writerImportance, r)
                w.withUnsafeBufferPointer { src in
                    q.withUnsafeMutableBytes { dst in
                        if let wi {
                            wi.withUnsafeBufferPointer { imp in
                                Quantizer.quantize(t, src.baseAddress!, dst.baseAddress!, rows: 1, rowLength: ne0, importance: imp.baseAddress)
                            }
                        } else {
                            Quantizer.quantize(t, src.baseAddress!, dst.baseAddress!, rows: 1, rowLength: ne0)
                        }
                        back.withUnsafeMutableBufferPointer { b in Quantizer.dequantize(t, dst.baseAddress!, b.baseAddress!, count: ne0) }
                    }
                }
                let imp = slice(importance, r)
                var s = 0.0
                var j = w.startIndex
                for c in 0..<ne0 {
                    let d = Double(w[j]) - Double(back[c])
                    let weight = imp.map { Double($0[$0.startIndex + c]) } ?? 1
                    s += weight * d * d
                    j += 1
                }
                total += s
            }
            out.append(total * Double(rows) / Double(max(1, picked.count)))
        }
        return out
    }

    // MARK: - Helpers

    static func needsImportance(_ t: GGMLType) -> Bool {
        [.iq3_XXS, .iq2_XXS, .iq2_XS, .iq2_S, .iq1_M, .iq1_S].contains(t) || Quantizer.requiresImportance(t)
    }

    static func isAWQ(_ w: Weighting) -> Bool {
        if case .awq = w { return true }
        return false
    }

    static func describe(_ t: SizeTarget) -> String {
        switch t {
        case .bitsPerWeight(let b): return "\(b) bits per weight"
        case .fileSize(let n): return "\(n) bytes"
        }
    }

    static func pad(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }

    static func alignment(_ md: GGUFMetadata) -> Int {
        if case .uint32(let v)? = md[GGUFKey.General.alignment], v != 0, v & (v - 1) == 0 { return Int(v) }
        return GGUFLimits.defaultAlignment
    }

    /// Bytes before the tensor data, as `GGUFWriter` lays them out (the types do not change them).
    static func headerBytes(_ md: GGUFMetadata, plans: [TensorPlan], alignment: Int) -> Int {
        var enc = GGUFEncoder()
        enc.append(contentsOf: GGUFLimits.magic)
        enc.append(UInt32(3))
        enc.append(UInt64(plans.count))
        enc.append(UInt64(md.count))
        for kv in md { enc.append(key: kv.key, value: kv.value) }
        for p in plans {
            enc.append(string: p.name)
            enc.append(UInt32(p.shape.count))
            for d in p.shape { enc.append(UInt64(d)) }
            enc.append(p.targetType.rawValue)
            enc.append(UInt64(0))
        }
        enc.pad(to: alignment)
        return enc.bytes.count
    }

    /// `n` evenly spaced row indices of `rows` (all when there are fewer).
    static func sampleRows(_ rows: Int, _ n: Int) -> [Int] {
        guard rows > n else { return Array(0..<rows) }
        return (0..<n).map { $0 * rows / n }
    }

    /// The f32 values of the given rows of a tensor (dequantized or widened from its stored type).
    static func rows(_ t: GGUFTensorInfo, _ picked: [Int], file: GGUFFile) throws(SwiftGGUFError) -> [Float] {
        let ne0 = t.rowLength
        let rowBytes = t.rowSize
        let data = file.data(t)
        guard data.count >= t.rowCount * rowBytes, let base = data.baseAddress else {
            throw SwiftGGUFError(.invalidInput, "\(file.path): tensor '\(t.name)' is truncated")
        }
        guard t.type == .f32 || t.type == .f16 || t.type == .bf16 || Quantizer.canDequantize(t.type) else {
            throw SwiftGGUFError(.unsupported, "\(file.path): tensor '\(t.name)' has type \(t.type.name), which cannot be read here")
        }
        var out = [Float](repeating: 0, count: picked.count * ne0)
        out.withUnsafeMutableBufferPointer { o in
            for (i, r) in picked.enumerated() {
                let from = base + r * rowBytes
                let to = o.baseAddress! + i * ne0
                switch t.type {
                case .f32: to.update(from: from.assumingMemoryBound(to: Float.self), count: ne0)
                case .f16: FP16.expand(from.assumingMemoryBound(to: UInt16.self), to, count: ne0)
                case .bf16: BF16.expand(from.assumingMemoryBound(to: UInt16.self), to, count: ne0)
                default: Quantizer.dequantize(t.type, from, to, count: ne0)
                }
            }
        }
        for v in out where !v.isFinite {
            throw SwiftGGUFError(.invalidInput, "\(file.path): tensor '\(t.name)' has a non-finite value")
        }
        return out
    }

    /// `blk.7.attn_v.weight` → `attn_v@g` (g: the group of block 7), the embedding and output by
    /// name; nil for tensors no sensitivity pass perturbs (expert stacks, fused projections).
    static func sensitivityClass(_ name: String, layers: Int, groups: Int, tied: Bool) -> String? {
        if name == "token_embd.weight" { return "token_embd" }
        if name == "output.weight" { return "output" }
        guard layers > 0, let l = layerNumber(name), l < layers else { return nil }
        for role in LinearRole.allCases where role.weightName(layer: l) == name {
            let prefix = "blk.\(l).", suffix = ".weight"
            guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
            let short = name.dropFirst(prefix.count).dropLast(suffix.count)
            return "\(short)@\(l * groups / layers)"
        }
        return nil
    }

    /// `blk.N.…` → N.
    static func layerNumber(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let digits = name.dropFirst(4).prefix { $0.isASCII && $0.isNumber }
        return Int(digits)
    }

    /// The name as a regular expression matching only itself.
    static func escape(_ name: String) -> String {
        var s = ""
        for ch in name {
            if "\\^$.|?*+()[]{}".contains(ch) { s.append("\\") }
            s.append(ch)
        }
        return s
    }

    /// The `general.file_type` a plan is labelled with: the mix named after the type holding the most bytes.
    static func fileType(for t: GGMLType) -> FileType {
        switch t {
        case .q2_K: return .q2_K
        case .q3_K: return .q3_K_M
        case .iq3_S: return .iq3_S
        case .iq4_XS: return .iq4_XS
        case .iq4_NL: return .iq4_NL
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q4_K: return .q4_K_M
        case .q5_0: return .q5_0
        case .q5_1: return .q5_1
        case .q5_K: return .q5_K_M
        case .q6_K: return .q6_K
        default: return .q8_0
        }
    }
}
