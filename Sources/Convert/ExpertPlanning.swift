import Architectures
import GGUF
import HFModel

/// Gathers a checkpoint's per-expert tensors layer by layer and plans one stacked 3-D tensor per
/// projection once every expert of a layer has been seen — at the position of the layer's last
/// expert tensor in checkpoint order, where b10572's `modify_tensors` yields its merged tensors.
/// Only names are kept: the data is read expert by expert when the file is written.
struct ExpertCollector {
    let spec: ArchitectureSpec
    let dims: ModelDims
    let configPath: String
    let outType: OutType
    /// layer → (expert, projection) → tensor
    private var pending: [Int: [Int: SafetensorsTensor]] = [:]
    private var stacked = Set<Int>()

    /// - Throws: when the architecture has experts and config.json routes each token to more
    ///   experts than it has.
    init(spec: ArchitectureSpec, dims: ModelDims, configPath: String, outType: OutType) throws(ConvertError) {
        self.spec = spec
        self.dims = dims
        self.configPath = configPath
        self.outType = outType
        if spec.converter.experts != nil, let used = dims.expertsUsed {
            guard used > 0, used <= dims.experts else {
                throw ConvertError("\(configPath): 'num_experts_per_tok' is \(used), but the model has \(dims.experts) experts (expected 1...\(dims.experts))")
            }
        }
    }

    /// Takes `t` when it is an expert weight: nil when it is not; the stacked tensors of its layer
    /// when it completes the layer; an empty list otherwise.
    mutating func add(_ t: SafetensorsTensor, model: SafetensorsModel) throws(ConvertError) -> [PlannedTensor]? {
        guard let rules = spec.converter.experts, let m = rules.match(t.name) else { return nil }
        let n = dims.experts
        guard n > 0 else {
            throw ConvertError("\(t.file): tensor '\(t.name)' is an expert weight, but \(configPath) sets no expert count (num_local_experts / num_experts)")
        }
        guard m.layer < dims.layers else {
            throw ConvertError("\(t.file): tensor '\(t.name)' is in layer \(m.layer), but \(configPath) has \(dims.layers) layers")
        }
        guard m.expert < n else {
            throw ConvertError("\(t.file): tensor '\(t.name)' is expert \(m.expert), but \(configPath) has \(n) experts")
        }
        guard !stacked.contains(m.layer) else {
            throw ConvertError("\(t.file): tensor '\(t.name)' appears after the experts of layer \(m.layer) were complete")
        }
        let expected = rules.projections[m.projection].shape.map(dims.value)
        guard t.shape == expected else {
            throw ConvertError("\(t.file): expert tensor '\(t.name)' has shape \(t.shape), but \(configPath) implies \(expected) for every expert")
        }
        do { _ = try model.dtype(of: t) } catch { throw ConvertError(error.description) }
        let p = rules.projections.count
        pending[m.layer, default: [:]][m.expert * p + m.projection] = t
        guard let have = pending[m.layer], have.count == n * p else { return [] }

        var out: [PlannedTensor] = []
        for (j, proj) in rules.projections.enumerated() {
            var names: [String] = []
            for x in 0..<n {
                guard let s = have[x * p + j] else { return [] }
                names.append(s.name)
            }
            guard let first = have[j] else { return [] }
            let dtype: SafetensorsDType
            do { dtype = try model.dtype(of: first) } catch { throw ConvertError(error.description) }
            let name = proj.gguf.weight(m.layer)
            let shape = [n] + proj.shape.map(dims.value)
            let type = TensorPlanning.outputType(name: name, nDims: shape.count, rowLength: shape.last ?? 1, outType: outType)
            out.append(PlannedTensor(ggufName: name, hfName: nil, hfShape: shape, sourceDType: dtype, type: type,
                                     permuteHeads: nil, generated: nil, expertSources: names))
        }
        pending[m.layer] = nil
        stacked.insert(m.layer)
        return out
    }

    /// Fails when a layer's experts are incomplete, naming the first missing expert tensor.
    func finish(model: SafetensorsModel) throws(ConvertError) {
        guard let rules = spec.converter.experts else { return }
        let n = dims.experts, p = rules.projections.count
        if n == 0 {
            throw ConvertError("\(configPath): \(spec.hfNames[0]) needs an expert count (num_local_experts / num_experts)")
        }
        for layer in 0..<dims.layers where !stacked.contains(layer) {
            let have = pending[layer] ?? [:]
            var missing: [String] = []
            for x in 0..<n { for j in 0..<p where have[x * p + j] == nil { missing.append(rules.hfName(layer: layer, expert: x, projection: j)) } }
            let file = have.values.first?.file ?? model.indexPath ?? model.directory
            let shown = missing.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            throw ConvertError("\(file): expert tensor \(shown)\(missing.count > 3 ? ", ..." : "") of layer \(layer) is missing (\(missing.count) of \(n * p) expert tensors absent)")
        }
    }
}
