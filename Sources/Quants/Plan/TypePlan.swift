import Architectures
import GGUF

/// `--tensor-type NAME_REGEX=TYPE`: tensors whose name the pattern finds a match in get TYPE
/// instead of the mixture's choice (the first matching pattern wins; the shape fallback still
/// applies). Like llama-quantize, the pattern is lower-cased and searched anywhere in the name
/// (`std::regex_search` with ECMAScript syntax; here Swift's regex syntax, which accepts the
/// ECMAScript constructs people use in these patterns: classes, anchors, groups, alternation,
/// quantifiers, `\d`/`\w`/`\s`).
public struct TensorTypeOverride: Sendable, Equatable {
    /// The pattern as matched (lower-cased, as llama-quantize stores it).
    public let pattern: String
    public let type: GGMLType

    /// - Throws: `QuantizeError` when the pattern is empty or not a valid regular expression.
    public init(pattern: String, type: GGMLType) throws(QuantizeError) {
        let p = pattern.lowercased()
        guard !p.isEmpty else { throw QuantizeError("--tensor-type: missing tensor name before '='") }
        do { _ = try Regex(p) } catch {
            throw QuantizeError("--tensor-type: '\(pattern)' is not a valid regular expression: \(error)")
        }
        self.pattern = p
        self.type = type
    }

    /// Parses `NAME_REGEX=TYPE` (split at the first `=`; TYPE is a ggml type name, any case).
    public init(parsing s: String) throws(QuantizeError) {
        guard let eq = s.firstIndex(of: "=") else {
            throw QuantizeError("--tensor-type: malformed '\(s)': expected NAME_REGEX=TYPE")
        }
        let name = String(s[..<eq]), typeName = String(s[s.index(after: eq)...])
        guard !name.isEmpty else { throw QuantizeError("--tensor-type: missing tensor name in '\(s)'") }
        guard !typeName.isEmpty else { throw QuantizeError("--tensor-type: missing quantization type in '\(s)'") }
        guard let t = GGMLType(name: typeName) else {
            throw QuantizeError("--tensor-type: invalid ggml type '\(typeName)' in '\(s)'; valid: "
                                + GGMLType.allCases.map(\.name).joined(separator: ", "))
        }
        try self.init(pattern: name, type: t)
    }

    /// Reads a `--tensor-type-file`: `NAME_REGEX=TYPE` items separated by white space.
    public static func parse(fileContents: String, file: String) throws(QuantizeError) -> [TensorTypeOverride] {
        var out: [TensorTypeOverride] = []
        for item in fileContents.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" }) {
            do { out.append(try TensorTypeOverride(parsing: String(item))) } catch {
                throw QuantizeError("\(file): \(error.message)")
            }
        }
        return out
    }
}

/// Options that change which type each tensor gets (llama_model_quantize_params).
public struct QuantizeOptions: Sendable {
    public var fileType: FileType
    /// `--pure`: no mixture rules, every quantizable tensor gets the default type (manual
    /// overrides and the shape fallback still apply).
    public var pure = false
    public var outputTensorType: GGMLType?
    public var tokenEmbeddingType: GGMLType?
    /// `--leave-output-tensor`: output.weight is copied as stored.
    public var leaveOutputTensor = false
    /// Whether an importance matrix is in use (changes the Q4_0/Q5_0, IQ3_XXS and IQ4 rules).
    public var hasImportance = false
    /// `--tensor-type` / `--tensor-type-file`, in order.
    public var tensorTypes: [TensorTypeOverride] = []
    /// `--prune-layers`: block numbers dropped; the later blocks are renumbered.
    public var pruneLayers: [Int] = []
    /// `COPY`: every tensor is copied as stored.
    public var onlyCopy = false
    /// `--keep-split`: tensors are planned and written in input order (file after file) instead
    /// of llama.cpp's name order.
    public var keepInputOrder = false

    public init(fileType: FileType) { self.fileType = fileType }
}

/// The decision for one tensor.
public struct TensorPlan: Equatable, Sendable {
    /// The name written (after `--prune-layers` renumbering).
    public let name: String
    /// The name in the input file (and the importance matrix).
    public let sourceName: String
    public let shape: [Int]
    public let sourceType: GGMLType
    public let targetType: GGMLType
    /// The target type replaced one the row length does not fit (Q4_K → Q5_0, ...).
    public let usedFallback: Bool
    /// A `--tensor-type` pattern chose the type.
    public let manualOverride: Bool
    /// The tensor may be converted at all (`tensor_allows_quantization`).
    public let allowsQuantization: Bool
    /// Quantizing it to `targetType` needs an importance matrix (`tensor_requires_imatrix`).
    public let requiresImportance: Bool

    public init(name: String, sourceName: String? = nil, shape: [Int], sourceType: GGMLType, targetType: GGMLType,
                usedFallback: Bool = false, manualOverride: Bool = false, allowsQuantization: Bool = true,
                requiresImportance: Bool = false) {
        self.name = name
        self.sourceName = sourceName ?? name
        self.shape = shape
        self.sourceType = sourceType
        self.targetType = targetType
        self.usedFallback = usedFallback
        self.manualOverride = manualOverride
        self.allowsQuantization = allowsQuantization
        self.requiresImportance = requiresImportance
    }

    /// Bytes are copied as stored (no conversion).
    public var isCopy: Bool { targetType == sourceType }
    public var sourceBytes: Int { sourceType.byteCount(shape: shape) ?? 0 }
    /// Rows × row size of the target type (0 when a row does not fit the type).
    public var targetBytes: Int { targetType.byteCount(shape: shape) ?? 0 }
}

/// Model facts the rules depend on (llama.cpp's hparams and model type).
public struct ModelFacts: Sendable {
    public var arch: String
    /// `{arch}.block_count` (`n_layer_all`): the layer count of the ffn rules.
    public var layerCount: Int
    public var headCount: Int
    public var headCountKV: Int
    /// `{arch}.expert_count` (0 for dense models).
    public var expertCount: Int

    public init(arch: String, layerCount: Int, headCount: Int, headCountKV: Int, expertCount: Int = 0) {
        self.arch = arch
        self.layerCount = layerCount
        self.headCount = headCount
        self.headCountKV = headCountKV
        self.expertCount = expertCount
    }

    /// Whether llama.cpp types the model as 70B (the architecture description's rule; false for an
    /// architecture without one); the attn_v rule uses it.
    var is70B: Bool {
        ArchitectureSpec.gguf(arch)?.quantization.isSeventyB(layers: layerCount, heads: headCount, headsKV: headCountKV) ?? false
    }

    /// `n_gqa()` of layer 0: query heads per key/value head (0 without key/value heads).
    var gqa: Int { headCountKV == 0 ? 0 : headCount / headCountKV }

    /// llama.cpp names two architectures in its mixture rules; neither has a description in
    /// Sources/Architectures, so they are recognized by their GGUF names.
    var isFalcon: Bool { arch == "falcon" }
    var isBailingMoE3: Bool { arch == "bailingmoe3" }
}

/// The broad role of a tensor in the mixture rules (by name, like llama.cpp's `tensor_get_category`).
enum TensorRole: Equatable {
    case tokenEmbedding, attnQ, attnV, attnK, attnQKV, attnKVB, attnOutput, ffnUp, ffnGate, ffnDown, output, other

    init(_ name: String) {
        if name == "output.weight" { self = .output; return }
        if TensorRole.isTokenEmbedding(name) { self = .tokenEmbedding; return }
        let table: [(String, TensorRole)] = [
            ("attn_qkv.weight", .attnQKV), ("attn_kv_b.weight", .attnKVB), ("attn_v.weight", .attnV),
            ("attn_k.weight", .attnK), ("attn_q.weight", .attnQ), ("attn_output.weight", .attnOutput),
            ("ffn_up", .ffnUp), ("ffn_gate", .ffnGate), ("ffn_down", .ffnDown),
        ]
        self = table.first { name.contains($0.0) }?.1 ?? .other
    }

    static func isTokenEmbedding(_ name: String) -> Bool {
        name == "token_embd.weight" || name == "per_layer_token_embd.weight"
    }

    /// The value-projection family (more sensitive to quantization; counted by `n_attention_wv`).
    var isAttnVLike: Bool { self == .attnV || self == .attnQKV || self == .attnKVB }
}

/// llama-quantize's tensor order and type selection (llama-quant.cpp b10572
/// `llama_model_quantize_impl`, `llama_tensor_get_type`, `tensor_type_fallback`).
public enum TypePlanner {
    /// `weight_name_comparer`: the layer number of `blk.N.` (−1 for other names) first, then byte order.
    public static func ordered(_ names: [String]) -> [String] {
        names.sorted { a, b in
            let la = scanLayer(a) ?? -1, lb = scanLayer(b) ?? -1
            if la != lb { return la < lb }
            return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
        }
    }

    /// `sscanf(name, "blk.%d.", &layer)`: the number after `blk.`, or nil when there is none.
    static func scanLayer(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        var s = Substring(name.dropFirst(4))
        s = s.drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" })
        var sign = 1
        if s.first == "-" || s.first == "+" { sign = s.first == "-" ? -1 : 1; s = s.dropFirst() }
        let digits = s.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, let v = Int(digits) else { return nil }
        return sign * v
    }

    /// `sscanf` with −1 when it does not match (kept for callers of the old name).
    static func sscanfLayer(_ name: String) -> Int { scanLayer(name) ?? -1 }

    /// Substrings that keep a tensor out of quantization (tiny or special tensors of various
    /// architectures; `tensor_allows_quantization`).
    static let keptByName = [
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
        ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    ]

    /// Whether llama-quantize converts this tensor at all (otherwise it is copied).
    public static func isQuantizable(name: String, shape: [Int], options: QuantizeOptions) -> Bool {
        if options.onlyCopy { return false }
        var nd = shape.count
        while nd > 1 && shape[nd - 1] == 1 { nd -= 1 }
        guard nd >= 2 else { return false }
        // llama.cpp tests `rfind("weight") == size() - 6`, which also holds for any name of 5 bytes.
        guard name.hasSuffix("weight") || name.utf8.count == 5 else { return false }
        if options.leaveOutputTensor && name == "output.weight" { return false }
        if keptByName.contains(where: { name.contains($0) }) { return false }
        if name == "position_embd.weight" || name == "token_types.weight" { return false }
        return true
    }

    static func useMoreBits(_ i: Int, _ n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// `tensor_requires_imatrix`: the very low-bit types give garbage without importances.
    static func requiresImportance(name: String, type: GGMLType, fileType: FileType) -> Bool {
        if TensorRole.isTokenEmbedding(name) || name == "output.weight" { return false }
        switch type {
        case .iq3_XXS, .iq2_XXS, .iq2_XS, .iq2_S, .iq1_M, .iq1_S: return true
        case .q2_K: return fileType == .q2_K_S
        default: return false
        }
    }

    /// `--prune-layers`: the new name of every input name (nil: dropped). Blocks before the first
    /// pruned one keep their number; later kept blocks are numbered on from there, in the order
    /// the tensors are visited (`remap_layer`).
    static func renamed(_ order: [String], prune: [Int]) -> [String: String?] {
        var out: [String: String?] = [:]
        guard !prune.isEmpty else {
            for n in order { out[n] = .some(n) }
            return out
        }
        let pruned = Array(Set(prune)).sorted()
        var mapped: [Int: Int?] = [:]
        var next = 0
        for n in order {
            guard let (blk, range) = blockNumber(n) else { out[n] = .some(n); continue }
            let id: Int?
            if let m = mapped[blk] {
                id = m
            } else if pruned.contains(blk) {
                id = nil
            } else if blk < pruned[0] {
                id = blk
                next = blk + 1
            } else {
                id = next
                next += 1
            }
            mapped[blk] = .some(id)
            if let id {
                out[n] = .some(replacing(n, range, with: String(id)))
            } else {
                out[n] = .some(nil)
            }
        }
        return out
    }

    /// The first `blk.<digits>.` in a name (`std::regex_search` of `blk\.(\d+)\.`): its number
    /// and the byte offsets of the digits.
    static func blockNumber(_ name: String) -> (Int, Range<Int>)? {
        let b = Array(name.utf8)
        let prefix = Array("blk.".utf8)
        var i = 0
        while i + prefix.count < b.count {
            if Array(b[i..<(i + prefix.count)]) == prefix {
                let start = i + prefix.count
                var end = start
                while end < b.count && b[end] >= 0x30 && b[end] <= 0x39 { end += 1 }
                if end > start, end < b.count, b[end] == UInt8(ascii: "."),
                   let v = Int(String(decoding: b[start..<end], as: UTF8.self)) {
                    return (v, start..<end)
                }
            }
            i += 1
        }
        return nil
    }

    /// `name` with the bytes in `range` replaced by `text`.
    static func replacing(_ name: String, _ range: Range<Int>, with text: String) -> String {
        let b = Array(name.utf8)
        return String(decoding: b[..<range.lowerBound] + Array(text.utf8) + b[range.upperBound...], as: UTF8.self)
    }

    /// Plans every tensor, in output order (pruned tensors are left out).
    /// - Parameter tensors: (name, ggml shape, stored type) of the input.
    /// - Throws: `QuantizeError` when a row length fits neither the chosen type nor a fallback, or a
    ///   mixture-of-experts tensor has no valid layer number.
    public static func plan(tensors: [(name: String, shape: [Int], type: GGMLType)], facts: ModelFacts,
                            options: QuantizeOptions) throws(QuantizeError) -> [TensorPlan] {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let order = options.keepInputOrder ? tensors.map(\.name) : ordered(tensors.map(\.name))
        let names = renamed(order, prune: options.pruneLayers)
        // (source name, new name) of the kept tensors, in order.
        let kept: [(String, String)] = order.compactMap { n in (names[n] ?? nil).map { (n, $0) } }
        var state = PlanState(facts: facts, options: options)
        for (_, name) in kept {
            let role = TensorRole(name)
            if role.isAttnVLike { state.nAttnV += 1 }
            if role == .output { state.tiedEmbeddings = false }
        }
        state.nFFN = facts.layerCount
        var regexes: [(Regex<AnyRegexOutput>, GGMLType)] = []
        for o in options.tensorTypes {
            do { regexes.append((try Regex(o.pattern), o.type)) } catch {
                throw QuantizeError("--tensor-type: '\(o.pattern)' is not a valid regular expression: \(error)")
            }
        }
        let defaultType = options.fileType.defaultType
        var plans: [TensorPlan] = []
        for (source, name) in kept {
            guard let t = byName[source] else { continue }
            let role = TensorRole(name)
            guard isQuantizable(name: name, shape: t.shape, options: options) else {
                plans.append(TensorPlan(name: name, sourceName: source, shape: t.shape, sourceType: t.type, targetType: t.type,
                                        allowsQuantization: false))
                continue
            }
            var newType = defaultType
            var fallback = false, manual = false
            if let e = options.tokenEmbeddingType, role == .tokenEmbedding {
                newType = e
            } else if let o = options.outputTensorType, role == .output {
                newType = o
            } else if defaultType.isQuantized {
                for (regex, type) in regexes where (try? regex.firstMatch(in: name)) != nil {
                    newType = type
                    manual = true
                    break
                }
                if !manual && !options.pure {
                    newType = try state.mixtureType(name: name, shape: t.shape, base: newType, role: role)
                }
                (newType, fallback) = try shapeFallback(newType, ne0: t.shape.first ?? 1, name: name)
            }
            plans.append(TensorPlan(name: name, sourceName: source, shape: t.shape, sourceType: t.type, targetType: newType,
                                    usedFallback: fallback, manualOverride: manual,
                                    requiresImportance: requiresImportance(name: name, type: newType, fileType: options.fileType)))
        }
        return plans
    }

    /// `tensor_type_fallback`: a row length the block does not divide gets the next type that
    /// fits (F16 when that does not fit either); types without a defined fallback are an error.
    static func shapeFallback(_ t: GGMLType, ne0: Int, name: String = "") throws(QuantizeError) -> (GGMLType, Bool) {
        guard ne0 % t.blockSize != 0 else { return (t, false) }
        var f: GGMLType
        switch t {
        case .iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq4_XS: f = .iq4_NL
        case .q2_0, .q2_K, .q3_K, .tq1_0, .tq2_0: f = .q4_0
        case .q4_K: f = .q5_0
        case .q5_K: f = .q5_1
        case .q6_K: f = .q8_0
        default:
            throw QuantizeError("tensor '\(name)': rows of \(ne0) values are not a whole number of \(t.name) blocks "
                                + "(\(t.blockSize) values) and no tensor type fallback is defined for type \(t.name)")
        }
        if ne0 % f.blockSize != 0 { f = .f16 }
        return (f, true)
    }
}

/// The counters of `quantize_state_impl` and the mixture rules of `llama_tensor_get_type_impl`.
struct PlanState {
    let facts: ModelFacts
    let options: QuantizeOptions
    var nAttnV = 0, iAttnV = 0
    var nFFN = 0, iFFNDown = 0, iFFNGate = 0, iFFNUp = 0
    /// No `output.weight`: the token embedding doubles as the output and gets its rule.
    var tiedEmbeddings = true

    init(facts: ModelFacts, options: QuantizeOptions) {
        self.facts = facts
        self.options = options
    }

    /// (layer, layer count) for the ffn rules: the running counter for dense models; the name's
    /// block number for mixture-of-experts models (their expert tensors are not one per layer).
    func layerInfo(_ counter: Int, name: String) throws(QuantizeError) -> (Int, Int) {
        guard max(1, facts.expertCount) > 1 else { return (counter, nFFN) }
        guard let l = TypePlanner.scanLayer(name) else {
            throw QuantizeError("failed to determine the layer of tensor '\(name)'")
        }
        guard l >= 0 && l < nFFN else {
            throw QuantizeError("bad layer \(l) for tensor '\(name)': must be in [0, \(nFFN))")
        }
        return (l, nFFN)
    }

    mutating func mixtureType(name: String, shape: [Int], base: GGMLType, role: TensorRole) throws(QuantizeError) -> GGMLType {
        let ftype = options.fileType
        let f = facts
        var newType = base
        let iq12: Set<FileType> = [.iq2_XXS, .iq2_XS, .iq1_S, .iq2_S, .iq2_M, .iq1_M]
        if role == .output || (tiedEmbeddings && role == .tokenEmbedding) {
            if let o = options.outputTensorType {
                newType = o
            } else {
                let nx = shape.first ?? 1
                if ftype == .mxfp4MoE {
                    newType = .q8_0
                } else if f.isFalcon || nx % newType.blockSize != 0 {
                    newType = .q8_0
                } else if [.iq2_XXS, .iq2_XS, .iq3_XXS, .iq1_S, .iq2_S, .iq2_M, .iq1_M].contains(ftype) {
                    newType = .q5_K
                } else if newType != .q8_0 {
                    newType = .q6_K
                }
            }
        } else if ftype == .mxfp4MoE {
            // Expert stacks (3-D) get MXFP4, everything else Q8_0; bailingmoe3's 3-D attention
            // projections are not experts.
            let ffn = role == .ffnUp || role == .ffnGate || role == .ffnDown
            let ne2 = shape.count > 2 ? shape[2] : 1
            newType = ne2 > 1 && (!f.isBailingMoE3 || ffn) ? .mxfp4 : .q8_0
        } else if role == .tokenEmbedding {
            if let e = options.tokenEmbeddingType {
                newType = e
            } else if [.iq2_XXS, .iq2_XS, .iq1_S, .iq1_M].contains(ftype) {
                newType = .q2_K
            } else if ftype == .iq2_S || ftype == .iq2_M || ftype == .iq3_XXS {
                newType = .iq3_S
            } else if ftype == .tq1_0 || ftype == .tq2_0 || ftype == .q2_0 {
                newType = .q4_K
            }
        } else if iq12.contains(ftype) {
            let iq2SM = ftype == .iq2_S || ftype == .iq2_M
            if role.isAttnVLike {
                if f.gqa >= 4 || f.expertCount >= 4 {
                    newType = .q4_K
                } else {
                    newType = iq2SM ? .iq3_S : .q2_K
                }
                iAttnV += 1
            } else if f.expertCount == 8 && role == .attnK {
                newType = .q4_K
            } else if role == .ffnDown {
                if iFFNDown < nFFN / 8 { newType = iq2SM ? .iq3_S : .q2_K }
                iFFNDown += 1
            } else if role == .attnOutput {
                if f.expertCount == 8 {
                    newType = .q5_K
                } else if ftype == .iq1_S || ftype == .iq1_M {
                    newType = .iq2_XXS
                } else if iq2SM {
                    newType = .iq3_S
                }
            }
        } else if role.isAttnVLike {
            switch ftype {
            case .q2_K:
                newType = f.gqa >= 4 ? .q4_K : .q3_K
            case .q2_K_S where f.gqa >= 4:
                newType = .q4_K
            case .iq3_XXS:
                newType = f.gqa >= 4 ? .q4_K : !options.hasImportance ? .iq3_S : .iq3_XXS
            case .iq3_XS where f.gqa >= 4, .iq3_S where f.gqa >= 4:
                newType = .q4_K
            case .iq3_M:
                newType = .q4_K
            case .q3_K_M:
                newType = iAttnV < 2 ? .q5_K : .q4_K
            case .q3_K_L:
                newType = .q5_K
            case .iq4_NL where f.gqa >= 4, .iq4_XS where f.gqa >= 4:
                newType = .q5_K
            case .q4_K_M where TypePlanner.useMoreBits(iAttnV, nAttnV), .q5_K_M where TypePlanner.useMoreBits(iAttnV, nAttnV):
                newType = .q6_K
            case .q4_K_S where iAttnV < 4:
                newType = .q5_K
            default:
                break
            }
            // 70B models share each attn_v among 8 query heads: more bits cost little.
            if f.is70B && (newType == .q3_K || newType == .q4_K) { newType = .q5_K }
            if f.expertCount == 8 { newType = .q8_0 }
            iAttnV += 1
        } else if role == .attnK {
            if f.expertCount == 8 {
                newType = .q8_0
            } else if ftype == .iq3_XS {
                newType = .iq3_XXS
            } else if ftype == .iq3_XXS {
                newType = .iq2_S
            }
        } else if role == .attnQ {
            if ftype == .iq3_XS {
                newType = .iq3_XXS
            } else if ftype == .iq3_XXS {
                newType = .iq2_S
            }
        } else if role == .ffnDown {
            let (i, n) = try layerInfo(iFFNDown, name: name)
            let imatrix = options.hasImportance
            if ftype == .q2_K {
                newType = .q3_K
            } else if ftype == .q2_K_S {
                if i < n / 8 { newType = .q4_K }
            } else if ftype == .iq3_XXS && !imatrix {
                newType = i < n / 8 ? .q4_K : .q3_K
            } else if ftype == .q3_K_M {
                newType = i < n / 16 ? .q5_K : (!f.isFalcon || TypePlanner.useMoreBits(i, n)) ? .q4_K : .q3_K
            } else if ftype == .iq3_M && (i < n / 8 || (f.expertCount == 8 && TypePlanner.useMoreBits(i, n))) {
                newType = .q4_K
            } else if ftype == .q3_K_L {
                newType = f.isFalcon ? .q4_K : .q5_K
            } else if ftype == .q4_K_M {
                if f.isFalcon {
                    newType = i < n / 16 ? .q6_K : TypePlanner.useMoreBits(i, n) ? .q5_K : .q4_K
                } else if TypePlanner.useMoreBits(i, n) {
                    newType = .q6_K
                }
            } else if i < n / 8 && (ftype == .iq4_NL || ftype == .iq4_XS) && !imatrix {
                newType = .q5_K
            } else if ftype == .q5_K_M && TypePlanner.useMoreBits(i, n) {
                newType = .q6_K
            } else if ftype == .q4_K_S && !f.isFalcon && i < n / 8 {
                newType = .q5_K
            } else if (ftype == .q4_0 || ftype == .q5_0) && imatrix && i < n / 8 {
                // With importances the first ffn_down layers take the offset variant.
                newType = ftype == .q4_0 ? .q4_1 : .q5_1
            }
            iFFNDown += 1
        } else if role == .attnOutput {
            if !f.isFalcon {
                if f.expertCount == 8 {
                    let raised: Set<FileType> = [.q2_K, .iq3_XS, .iq3_XXS, .q3_K_S, .q3_K_M, .iq4_NL, .q4_K_S, .q4_K_M,
                                                 .iq3_S, .iq3_M, .iq4_XS]
                    if raised.contains(ftype) { newType = .q5_K }
                } else {
                    switch ftype {
                    case .q2_K: newType = .q3_K
                    case .iq3_XXS: newType = .iq3_S
                    case .q3_K_M: newType = .q4_K
                    case .q3_K_L: newType = .q5_K
                    case .iq3_M: newType = .q4_K
                    default: break
                    }
                }
            } else if ftype == .q3_K_L {
                newType = .q4_K
            }
        } else if role == .attnQKV {
            if ftype == .q3_K_M || ftype == .q3_K_L || ftype == .iq3_M {
                newType = .q4_K
            } else if ftype == .q4_K_M {
                newType = .q5_K
            } else if ftype == .q5_K_M {
                newType = .q6_K
            }
        } else if role == .ffnGate {
            let (i, n) = try layerInfo(iFFNGate, name: name)
            if ftype == .iq3_XS && i >= n / 8 && i < 7 * n / 8 { newType = .iq3_XXS }
            iFFNGate += 1
        } else if role == .ffnUp {
            let (i, n) = try layerInfo(iFFNUp, name: name)
            if ftype == .iq3_XS && i >= n / 8 && i < 7 * n / 8 { newType = .iq3_XXS }
            iFFNUp += 1
        }
        return newType
    }
}
