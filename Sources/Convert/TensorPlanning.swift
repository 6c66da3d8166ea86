import Foundation
import Architectures
import GGUF
import HFModel

/// `--outtype`: the converter's file type (gguf-py `LlamaFileType`).
public enum OutType: String, CaseIterable, Sendable {
    case f32, f16, bf16, q8_0, auto

    /// `general.file_type` for a resolved (non-auto) outtype.
    var fileType: Int {
        switch self {
        case .f32: return 0
        case .f16, .auto: return 1
        case .bf16: return 32
        case .q8_0: return 7
        }
    }

    /// The type of ordinary 2-D weights.
    var tensorType: GGMLType {
        switch self {
        case .f32: return .f32
        case .f16, .auto: return .f16
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        }
    }

    /// The encoding part of default file names ("F16", "Q8_0").
    var label: String { self == .q8_0 ? "Q8_0" : rawValue.uppercased() }
}

/// One tensor of the output, in write order.
public struct PlannedTensor: Sendable {
    public let ggufName: String
    /// HF name (nil for generated tensors such as rope_freqs).
    public let hfName: String?
    /// HF (PyTorch) shape, outermost first; the GGUF shape is its reverse.
    public let hfShape: [Int]
    public let sourceDType: SafetensorsDType
    public let type: GGMLType
    /// Interleave rows of dim 0 in this many head groups (llama Q/K), or nil.
    public let permuteHeads: Int?
    /// Data for generated tensors (f32).
    public let generated: [Float]?
    /// Added to every element after widening (Gemma norms: 1).
    public var shift: Float = 0
    /// For a stacked expert tensor: the HF names of its experts' slices, expert 0 first (hfName
    /// is nil); each is converted and written in turn.
    public var expertSources: [String]? = nil

    public var ggmlShape: [Int] { hfShape.reversed() }
    public var elementCount: Int { hfShape.reduce(1, *) }
}

enum TensorPlanning {
    /// `prepare_tensors`' type rule: 1-D tensors, norms and anything not ending in `.weight` stay F32;
    /// everything else takes the outtype, Q8_0 falling back to F16 when a row is not whole blocks.
    static func outputType(name: String, nDims: Int, rowLength: Int, outType: OutType) -> GGMLType {
        if nDims <= 1 || name.hasSuffix("_norm.weight") || !name.hasSuffix(".weight") { return .f32 }
        if name.hasSuffix(".ffn_gate_inp.weight") { return .f32 }  // MoE routers stay F32
        let t = outType.tensorType
        if t == .q8_0 && rowLength % GGMLType.q8_0.blockSize != 0 { return .f16 }
        return t
    }

    /// Maps an HF tensor name through the architecture table: (rule, GGUF name, layer, is bias).
    static func map(_ hf: String, spec: ArchitectureSpec) -> (TensorRule, String, Int?, Bool)? {
        let isBias = hf.hasSuffix(".bias")
        guard isBias || hf.hasSuffix(".weight") else { return nil }
        let base = String(hf.dropLast(isBias ? 5 : 7))
        for rule in spec.tensors {
            if rule.isPerLayer {
                let parts = rule.hf.components(separatedBy: "{bid}")
                guard parts.count == 2, base.hasPrefix(parts[0]), base.hasSuffix(parts[1]),
                      base.count > parts[0].count + parts[1].count else { continue }
                let mid = base.dropFirst(parts[0].count).dropLast(parts[1].count)
                guard mid.allSatisfy({ $0.isASCII && $0.isNumber }), let layer = Int(mid) else { continue }
                let name = rule.gguf.name(layer: layer) + (isBias ? ".bias" : ".weight")
                return (rule, name, layer, isBias)
            } else if base == rule.hf {
                return (rule, rule.gguf.name() + (isBias ? ".bias" : ".weight"), nil, isBias)
            }
        }
        return nil
    }

    /// Plans every checkpoint tensor: name mapping, shape checks against config.json, permutation,
    /// output type. Checks that no required tensor is missing.
    static func plan(model: SafetensorsModel, spec: ArchitectureSpec, dims: ModelDims, outType: OutType,
                     configPath: String, extra: [PlannedTensor]) throws(ConvertError) -> [PlannedTensor] {
        var out = extra
        var seen = Set<String>()
        var experts = try ExpertCollector(spec: spec, dims: dims, configPath: configPath, outType: outType)
        for t in model.tensors {
            if ArchitectureSpec.ignoredSuffixes.contains(where: { t.name.hasSuffix($0) }) { continue }
            if spec.converter.skippedTensors.contains(t.name) { continue }
            if let stacked = try experts.add(t, model: model) {
                out += stacked
                continue
            }
            guard let (rule, name, layer, isBias) = map(t.name, spec: spec) else {
                throw ConvertError("\(t.file): cannot map tensor '\(t.name)' to a GGUF tensor of architecture '\(spec.arch)'")
            }
            if let layer, layer >= dims.layers {
                throw ConvertError("\(t.file): tensor '\(t.name)' is in layer \(layer), but \(configPath) has \(dims.layers) layers")
            }
            var expected = isBias ? [dims.value(rule.shape[0])] : rule.shape.map(dims.value)
            var hfShape = t.shape
            if spec.converter.trimsEmbeddingToVocabulary, rule.gguf == .tokenEmbd, !isBias {
                hfShape = try trimmedEmbeddingShape(t, model: model, dims: dims, configPath: configPath)
                if hfShape != t.shape { expected[0] = hfShape[0] }
            }
            guard hfShape == expected else {
                throw ConvertError("\(t.file): tensor '\(t.name)' has shape \(t.shape), but \(configPath) implies \(expected)")
            }
            let dtype: SafetensorsDType
            do { dtype = try model.dtype(of: t) } catch { throw ConvertError(error.description) }
            var heads: Int?
            switch rule.permutation {
            case .none: heads = nil
            case .queryHeads: heads = dims.heads
            case .keyHeads: heads = dims.headsKV
            }
            if let h = heads, (t.shape[0] % h != 0 || (t.shape[0] / h) % 2 != 0) {
                throw ConvertError("\(t.file): tensor '\(t.name)' has \(t.shape[0]) rows, not an even number per head for \(h) heads")
            }
            let type = outputType(name: name, nDims: t.shape.count, rowLength: t.shape.last ?? 1, outType: outType)
            seen.insert(name)
            out.append(PlannedTensor(ggufName: name, hfName: t.name, hfShape: hfShape, sourceDType: dtype, type: type,
                                     permuteHeads: heads, generated: nil, shift: isBias ? 0 : rule.shift))
        }
        try experts.finish(model: model)
        var missing: [String] = []
        for rule in spec.tensors {
            let layers: [Int?] = rule.isPerLayer ? Array(0..<dims.layers) : [nil]
            for l in layers {
                let base = rule.gguf.name(layer: l)
                if rule.required && !seen.contains(base + ".weight") { missing.append(rule.hf.replacingOccurrences(of: "{bid}", with: String(l ?? 0)) + ".weight") }
                if rule.biasRequired && !seen.contains(base + ".bias") { missing.append(rule.hf.replacingOccurrences(of: "{bid}", with: String(l ?? 0)) + ".bias") }
            }
        }
        if !missing.isEmpty {
            let shown = missing.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            throw ConvertError("\(model.directory): \(missing.count) tensor(s) expected for \(spec.hfNames[0]) are missing: \(shown)\(missing.count > 5 ? ", ..." : "")")
        }
        return out
    }

    /// llama3 `rope_freqs.weight` (LlamaModel.generate_extra_tensors), computed in f32 like torch.
    static func llama3RopeFactors(config: ModelConfig, dims: ModelDims) throws(ConvertError) -> [Float]? {
        let rope: JSONObject?
        do { rope = try config.ropeScaling() } catch { throw ConvertError(error.description) }
        guard let rope, (rope["rope_type"]?.string ?? "").lowercased() == "llama3" else { return nil }
        let base = Float((try? config.double(["rope_theta"])).flatMap { $0 } ?? 10000)
        let dim = dims.headDim
        let factor = Float(rope["factor"]?.double ?? 8)
        let low = Float(rope["low_freq_factor"]?.double ?? 1)
        let high = Float(rope["high_freq_factor"]?.double ?? 4)
        let old = Float(rope["original_max_position_embeddings"]?.double
                        ?? (try? config.double(["original_max_position_embeddings"])).flatMap { $0 } ?? 8192)
        let lowWavelen = old / low, highWavelen = old / high
        guard lowWavelen != highWavelen else { throw ConvertError("\(config.path): rope_scaling low and high frequency factors are equal") }
        var out: [Float] = []
        var i = 0
        while i < dim {
            let freq = 1 / powf(base, Float(i) / Float(dim))
            let wavelen = 2 * Float.pi / freq
            if wavelen < highWavelen {
                out.append(1)
            } else if wavelen > lowWavelen {
                out.append(factor)
            } else {
                let smooth = (old / wavelen - low) / (high - low)
                out.append(1 / ((1 - smooth) / factor + smooth))
            }
            i += 2
        }
        return out
    }
}
