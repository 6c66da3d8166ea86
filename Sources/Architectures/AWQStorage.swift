import GGUF

// Where an architecture's files keep the matrices of the AWQ groups. `AWQGroup.scaled` names the
// separate llama-style tensors; two layouts store them otherwise:
// - fused projections (Phi-3): q/k/v are row ranges of `attn_qkv`, gate/up the two halves of
//   `ffn_up` (gate first), so a group scales the columns of the fused tensor, and up → down
//   divides only the up half's rows (AutoAWQ `scale_fc_fc` on `gate_up_proj`: its last rows);
// - routed experts (Mixtral, Qwen3-MoE): the feed-forward group scales the router
//   `ffn_gate_inp` and every expert's gate and up (the 3-D `ffn_gate_exps`, `ffn_up_exps`), one
//   scale per input column shared by all of them, so that the block computes the same function
//   once the norm absorbs the inverse (the router included, unlike AutoAWQ's Mixtral, whose
//   router sees the scaled input unscaled). The down group is searched per expert: expert x's
//   slab of `ffn_up_exps` has its rows divided, its slab of `ffn_down_exps` its columns
//   multiplied, by x's own scales (exact: SwiGLU multiplies up's output elementwise, and each
//   token's expert output is down_x of that product alone).
extension ArchitectureSpec {
    /// The GGUF tensors whose input columns group `g` scales.
    public func awqScaledTensors(_ g: AWQGroup) -> [TensorName] {
        if engine.fusedProjections {
            switch g {
            case .attention: return [.attnQKV]
            case .feedForward: return [.ffnUp]
            case .valueOutput, .down: return g.scaled
            }
        }
        if let experts = converter.experts, g == .feedForward || g == .down {
            let stored = experts.projections.map(\.gguf)
            if g == .down { return stored.contains(.ffnDownExps) ? [.ffnDownExps] : [] }
            return [.ffnGateInp] + [TensorName.ffnGateExps, .ffnUpExps].filter { stored.contains($0) }
        }
        return g.scaled
    }

    /// The GGUF tensor whose output rows (some of them, for fused tensors) group `g` divides
    /// (nil: the group follows a norm).
    public func awqPreviousTensor(_ g: AWQGroup) -> TensorName? {
        guard let p = g.previousLinear else { return nil }
        if engine.fusedProjections, p == .attnV { return .attnQKV }
        if converter.experts != nil, p == .ffnUp { return .ffnUpExps }
        return p
    }

    /// Every GGUF tensor family the converter writes (the tensor rules and the stacked experts).
    public var writtenTensors: Set<TensorName> {
        Set(tensors.map(\.gguf)).union(converter.experts?.projections.map(\.gguf) ?? [])
    }
}
