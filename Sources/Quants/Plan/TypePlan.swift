import Architectures
import GGUF

/// Options that change which type each tensor gets (llama_model_quantize_params).
public struct QuantizeOptions: Sendable {
    public var fileType: FileType
    /// `--pure`: no mixture rules, every quantizable tensor gets the default type (shape fallback still applies).
    public var pure = false
    public var outputTensorType: GGMLType?
    public var tokenEmbeddingType: GGMLType?
    /// `--leave-output-tensor`: output.weight is copied as stored.
    public var leaveOutputTensor = false
    /// Whether an importance matrix is in use (changes the Q4_0/Q5_0 ffn_down rule).
    public var hasImportance = false

    public init(fileType: FileType) { self.fileType = fileType }
}

/// The decision for one tensor.
public struct TensorPlan: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let sourceType: GGMLType
    public let targetType: GGMLType
    /// The target type replaced one the row length does not fit (Q4_K → Q5_0, ...).
    public let usedFallback: Bool
    /// Bytes are copied as stored (no conversion).
    public var isCopy: Bool { targetType == sourceType }
    public var sourceBytes: Int { sourceType.byteCount(shape: shape) ?? 0 }
    public var targetBytes: Int { targetType.byteCount(shape: shape) ?? 0 }
}

/// Model facts the rules depend on.
public struct ModelFacts: Sendable {
    public var arch: String
    public var layerCount: Int
    public var headCount: Int
    public var headCountKV: Int

    public init(arch: String, layerCount: Int, headCount: Int, headCountKV: Int) {
        self.arch = arch
        self.layerCount = layerCount
        self.headCount = headCount
        self.headCountKV = headCountKV
    }

    /// Whether llama.cpp types the model as 70B (the architecture description's rule; false for an
    /// architecture without one); the attn_v rule uses it.
    var is70B: Bool {
        ArchitectureSpec.gguf(arch)?.quantization.isSeventyB(layers: layerCount, heads: headCount, headsKV: headCountKV) ?? false
    }
}

/// llama-quantize's tensor order and type selection (llama-quant.cpp b4748 `llama_model_quantize_impl`,
/// `llama_tensor_get_type`), for the ftypes in `FileType`.
public enum TypePlanner {
    /// `weight_name_comparer`: the layer number of `blk.N.` (−1 for other names) first, then byte order.
    public static func ordered(_ names: [String]) -> [String] {
        names.sorted { a, b in
            let la = sscanfLayer(a), lb = sscanfLayer(b)
            if la != lb { return la < lb }
            return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
    }

    /// `sscanf(name, "blk.%d.", &layer)` with −1 when it does not match.
    static func sscanfLayer(_ name: String) -> Int {
        guard name.hasPrefix("blk.") else { return -1 }
        var s = Substring(name.dropFirst(4))
        s = s.drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" })
        var sign = 1
        if s.first == "-" || s.first == "+" { sign = s.first == "-" ? -1 : 1; s = s.dropFirst() }
        let digits = s.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, let v = Int(digits) else { return -1 }
        return sign * v
    }

    /// Whether llama-quantize quantizes this tensor at all (otherwise it is copied).
    public static func isQuantizable(name: String, shape: [Int], options: QuantizeOptions) -> Bool {
        guard name.hasSuffix("weight") else { return false }
        var nd = shape.count
        while nd > 1 && shape[nd - 1] == 1 { nd -= 1 }
        guard nd >= 2 else { return false }
        if name.contains("_norm.weight") { return false }
        if options.leaveOutputTensor && name == TensorName.output.weight() { return false }
        let excluded = ["ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight", "time_mix_w1.weight",
                        "time_mix_w2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
                        "time_mix_lerp_fused.weight", "attn_rel_b.weight"]
        if excluded.contains(where: { name.contains($0) }) { return false }
        if name == "position_embd.weight" || name == "token_types.weight" { return false }
        return true
    }

    static func useMoreBits(_ i: Int, _ n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// Plans every tensor, in output order.
    /// - Parameter tensors: (name, ggml shape, stored type) of the input.
    public static func plan(tensors: [(name: String, shape: [Int], type: GGMLType)], facts: ModelFacts,
                            options: QuantizeOptions) -> [TensorPlan] {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let order = ordered(tensors.map(\.name))
        let hasOutput = byName[TensorName.output.weight()] != nil
        let nAttnV = order.filter { $0.contains("attn_v.weight") || $0.contains("attn_qkv.weight") || $0.contains("attn_kv_b.weight") }.count
        var iAttnV = 0, iFFNDown = 0
        let ftype = options.fileType
        let defaultType = ftype.defaultType
        var plans: [TensorPlan] = []
        for name in order {
            guard let t = byName[name] else { continue }
            guard isQuantizable(name: name, shape: t.shape, options: options) else {
                plans.append(TensorPlan(name: name, shape: t.shape, sourceType: t.type, targetType: t.type, usedFallback: false))
                continue
            }
            var newType = defaultType
            var fallback = false
            if !options.pure && defaultType.isQuantized {
                newType = mixtureType(name: name, ne0: t.shape.first ?? 1, base: defaultType, ftype: ftype,
                                      hasOutput: hasOutput, facts: facts, options: options,
                                      iAttnV: &iAttnV, nAttnV: nAttnV, iFFNDown: &iFFNDown)
            }
            if defaultType.isQuantized {
                (newType, fallback) = shapeFallback(newType, ne0: t.shape.first ?? 1)
            }
            if let e = options.tokenEmbeddingType, name == TensorName.tokenEmbd.weight() { newType = e; fallback = false }
            if let o = options.outputTensorType, name == TensorName.output.weight() { newType = o; fallback = false }
            plans.append(TensorPlan(name: name, shape: t.shape, sourceType: t.type, targetType: newType, usedFallback: fallback))
        }
        return plans
    }

    /// The mixture rules of `llama_tensor_get_type` for the supported ftypes (before the fallback).
    static func mixtureType(name: String, ne0: Int, base: GGMLType, ftype: FileType, hasOutput: Bool, facts: ModelFacts,
                            options: QuantizeOptions, iAttnV: inout Int, nAttnV: Int, iFFNDown: inout Int) -> GGMLType {
        var newType = base
        let nLayer = facts.layerCount
        if name == TensorName.output.weight() || (!hasOutput && name == TensorName.tokenEmbd.weight()) {
            if let o = options.outputTensorType {
                newType = o
            } else if ne0 % newType.blockSize != 0 {
                newType = .q8_0
            } else if newType != .q8_0 {
                newType = .q6_K
            }
        } else if name == TensorName.tokenEmbd.weight() {
            if let e = options.tokenEmbeddingType { newType = e }
        } else if name.contains("attn_v.weight") {
            if (ftype == .q4_K_M || ftype == .q5_K_M) && useMoreBits(iAttnV, nAttnV) {
                newType = .q6_K
            } else if ftype == .q4_K_S && iAttnV < 4 {
                newType = .q5_K
            }
            if facts.is70B && (newType == .q3_K || newType == .q4_K) { newType = .q5_K }
            iAttnV += 1
        } else if name.contains("ffn_down") {
            let i = iFFNDown
            if ftype == .q4_K_M {
                if useMoreBits(i, nLayer) { newType = .q6_K }
            } else if ftype == .q5_K_M && useMoreBits(i, nLayer) {
                newType = .q6_K
            } else if ftype == .q4_K_S && i < nLayer / 8 {
                newType = .q5_K
            } else if (ftype == .q4_0 || ftype == .q5_0) && options.hasImportance && i < nLayer / 8 {
                newType = ftype == .q4_0 ? .q4_1 : .q5_1
            }
            iFFNDown += 1
        } else if name.contains("attn_qkv.weight") {
            if ftype == .q4_K_M { newType = .q5_K } else if ftype == .q5_K_M { newType = .q6_K }
        }
        return newType
    }

    /// `tensor_type_fallback`: a row length the block does not divide gets the next type that fits.
    static func shapeFallback(_ t: GGMLType, ne0: Int) -> (GGMLType, Bool) {
        guard ne0 % t.blockSize != 0 else { return (t, false) }
        var f: GGMLType
        switch t {
        case .q4_K: f = .q5_0
        case .q5_K: f = .q5_1
        case .q6_K: f = .q8_0
        case .q2_K, .q3_K, .tq1_0, .tq2_0: f = .q4_0
        default: f = .f16
        }
        if ne0 % f.blockSize != 0 { f = .f16 }
        return (f, true)
    }
}
