import GGUF

/// How a checkpoint that stores one tensor per expert maps onto GGUF's stacked expert tensors:
/// every projection of all experts of a layer becomes one 3-D tensor (experts outermost), written
/// when the last expert tensor of the layer has been read (b10572's `modify_tensors` merge).
public struct ExpertStacking: Sendable {
    /// One projection of an expert FFN.
    public struct Projection: Sendable {
        /// The projection's part of the HF name (`w1`, `gate_proj`).
        public let hf: String
        public let gguf: TensorName
        /// HF shape of one expert's `.weight`, outermost first.
        public let shape: [Dim]

        public init(_ hf: String, _ gguf: TensorName, _ shape: [Dim]) {
            self.hf = hf
            self.gguf = gguf
            self.shape = shape
        }
    }

    /// HF name of one expert's tensor without `.weight`: `{bid}` is the layer, `{xid}` the expert,
    /// `{proj}` the projection (`model.layers.{bid}.mlp.experts.{xid}.{proj}`).
    public let pattern: String
    /// The projections in the order their stacked tensors are written.
    public let projections: [Projection]

    public init(pattern: String, projections: [Projection]) {
        self.pattern = pattern
        self.projections = projections
    }

    /// The HF name of one expert's projection weight.
    public func hfName(layer: Int, expert: Int, projection: Int) -> String {
        var out = ""
        var rest = Substring(pattern)
        while let c = rest.first {
            if rest.hasPrefix("{bid}") {
                out += String(layer); rest = rest.dropFirst(5)
            } else if rest.hasPrefix("{xid}") {
                out += String(expert); rest = rest.dropFirst(5)
            } else if rest.hasPrefix("{proj}") {
                out += projections[projection].hf; rest = rest.dropFirst(6)
            } else {
                out.append(c); rest = rest.dropFirst()
            }
        }
        return out + ".weight"
    }

    /// (layer, expert, projection index) of an HF tensor name, or nil when it is not an expert weight.
    public func match(_ name: String) -> (layer: Int, expert: Int, projection: Int)? {
        guard name.hasSuffix(".weight") else { return nil }
        var rest = Substring(name.dropLast(".weight".count))
        var pat = Substring(pattern)
        var layer: Int?, expert: Int?, proj: Int?
        while !pat.isEmpty {
            if pat.hasPrefix("{bid}") || pat.hasPrefix("{xid}") {
                let isLayer = pat.hasPrefix("{bid}")
                pat = pat.dropFirst(5)
                let digits = rest.prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, let v = Int(digits) else { return nil }
                rest = rest.dropFirst(digits.count)
                if isLayer { layer = v } else { expert = v }
            } else if pat.hasPrefix("{proj}") {
                pat = pat.dropFirst(6)
                guard let i = projections.firstIndex(where: { rest.hasPrefix($0.hf) && rest.dropFirst($0.hf.count).hasPrefix(pat.prefix(1)) })
                else { return nil }
                rest = rest.dropFirst(projections[i].hf.count)
                proj = i
            } else {
                guard let c = rest.first, c == pat.first else { return nil }
                rest = rest.dropFirst()
                pat = pat.dropFirst()
            }
        }
        guard rest.isEmpty, let layer, let expert, let proj else { return nil }
        return (layer, expert, proj)
    }
}

extension ConverterRules {
    /// The llama-style block without its dense MLP (attention, norms), for MoE architectures.
    public static func llamaStyleAttention(qkvBias: Bool, permute: Bool, qkNorm: Bool) -> [TensorRule] {
        let dense: Set<TensorName> = [.ffnGate, .ffnUp, .ffnDown]
        return llamaStyleLayer(qkvBias: qkvBias, permute: permute, qkNorm: qkNorm).filter { !dense.contains($0.gguf) }
    }
}
