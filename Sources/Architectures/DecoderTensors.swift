import GGUF

// The HF → GGUF tensor families shared by the llama-style decoders (llama.cpp tensor_mapping.py).
extension ConverterRules {
    /// Embedding, final norm and the optional untied output head.
    public static let llamaStyleGlobal: [TensorRule] = [
        TensorRule("model.embed_tokens", .tokenEmbd, [.vocab, .embd]),
        TensorRule("model.norm", .outputNorm, [.embd]),
        TensorRule("lm_head", .output, [.vocab, .embd], required: false),
    ]

    /// One pre-norm block: self-attention q/k/v/o and a gated MLP.
    public static func llamaStyleLayer(qkvBias: Bool, permute: Bool, qkNorm: Bool) -> [TensorRule] {
        var t: [TensorRule] = [
            TensorRule("model.layers.{bid}.input_layernorm", .attnNorm, [.embd]),
            TensorRule("model.layers.{bid}.self_attn.q_proj", .attnQ, [.qDim, .embd], bias: qkvBias,
                       permutation: permute ? .queryHeads : .none),
            TensorRule("model.layers.{bid}.self_attn.k_proj", .attnK, [.kvDim, .embd], bias: qkvBias,
                       permutation: permute ? .keyHeads : .none),
            TensorRule("model.layers.{bid}.self_attn.v_proj", .attnV, [.kvDim, .embd], bias: qkvBias),
            TensorRule("model.layers.{bid}.self_attn.o_proj", .attnOutput, [.embd, .qDim]),
            TensorRule("model.layers.{bid}.post_attention_layernorm", .ffnNorm, [.embd]),
            TensorRule("model.layers.{bid}.mlp.gate_proj", .ffnGate, [.ffn, .embd]),
            TensorRule("model.layers.{bid}.mlp.up_proj", .ffnUp, [.ffn, .embd]),
            TensorRule("model.layers.{bid}.mlp.down_proj", .ffnDown, [.embd, .ffn]),
        ]
        if qkNorm {
            t.append(TensorRule("model.layers.{bid}.self_attn.q_norm", .attnQNorm, [.headDim]))
            t.append(TensorRule("model.layers.{bid}.self_attn.k_norm", .attnKNorm, [.headDim]))
        }
        return t
    }
}
