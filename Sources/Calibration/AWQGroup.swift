import GGUF
import Inference

/// One AWQ scaling group of a decoder block (spec §6.4, AutoAWQ `get_layers_for_scaling` for
/// llama, qwen2 and qwen3): the operation before the scaled linears, the linears whose input
/// columns are multiplied by the scales, and the module whose output error scores a candidate.
public enum AWQGroup: String, CaseIterable, Sendable, Hashable {
    /// input_layernorm → q_proj, k_proj, v_proj; loss on the attention output (`self_attn`).
    case attention = "attn_norm>attn_q,attn_k,attn_v"
    /// v_proj → o_proj (only without GQA); loss on o_proj's output.
    case valueOutput = "attn_v>attn_output"
    /// post_attention_layernorm → gate_proj, up_proj; loss on the feed-forward output (`mlp`).
    case feedForward = "ffn_norm>ffn_gate,ffn_up"
    /// up_proj → down_proj; loss on down_proj's output.
    case down = "ffn_up>ffn_down"

    /// The linears whose input columns are scaled.
    public var scaled: [LinearRole] {
        switch self {
        case .attention: return [.attnQ, .attnK, .attnV]
        case .valueOutput: return [.attnOutput]
        case .feedForward: return [.ffnGate, .ffnUp]
        case .down: return [.ffnDown]
        }
    }

    /// The linear whose input is the group's input feature (the first scaled one).
    public var inputRole: LinearRole { scaled[0] }

    /// The linear before the group whose output rows are divided by the scales (nil: an RMS norm).
    public var previousLinear: LinearRole? {
        switch self {
        case .valueOutput: return .attnV
        case .down: return .ffnUp
        case .attention, .feedForward: return nil
        }
    }

    /// The norm before the group whose weight is divided by the scales (nil: a linear).
    public var previousNorm: TensorName? {
        switch self {
        case .attention: return .attnNorm
        case .feedForward: return .ffnNorm
        case .valueOutput, .down: return nil
        }
    }

    /// Architectures (GGUF `general.architecture`) whose blocks have these groups. Mistral
    /// checkpoints convert to `llama`.
    public static let architectures = ["llama", "qwen2", "qwen3"]

    /// The groups of one block, in AutoAWQ's order. v → o exists only when v_proj and o_proj
    /// have the same shape (`v_proj.weight.shape == o_proj.weight.shape`: no GQA and
    /// heads · head_dim = embedding length).
    public static func groups(for c: ModelConfig) -> [AWQGroup] {
        let e = c.embeddingLength
        let vShapeEqualsO = c.kvDimV == e && c.headCount * c.headDimV == e
        return vShapeEqualsO ? [.attention, .valueOutput, .feedForward, .down] : [.attention, .feedForward, .down]
    }
}
