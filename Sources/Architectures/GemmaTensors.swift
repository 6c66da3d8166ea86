import GGUF

// The HF → GGUF tensor families of Gemma 2 and 3 (llama.cpp tensor_mapping.py). Every RMS norm
// weight is stored by transformers as `w` and applied as `x * (1 + w)`, so the converter writes
// `1 + w` (gemma.py `modify_tensors`: names ending in "norm.weight").
extension ConverterRules {
    /// Embedding, final norm and the optional untied output head.
    public static let gemmaGlobal: [TensorRule] = [
        TensorRule("model.embed_tokens", .tokenEmbd, [.vocab, .embd]),
        TensorRule("model.norm", .outputNorm, [.embd], shift: 1),
        TensorRule("lm_head", .output, [.vocab, .embd], required: false),
    ]

    /// One Gemma 2/3 block: a norm before and after attention and before and after the MLP;
    /// Gemma 3 adds per-head q/k norms.
    public static func gemmaLayer(qkNorm: Bool) -> [TensorRule] {
        var t: [TensorRule] = [
            TensorRule("model.layers.{bid}.input_layernorm", .attnNorm, [.embd], shift: 1),
            TensorRule("model.layers.{bid}.self_attn.q_proj", .attnQ, [.qDim, .embd]),
            TensorRule("model.layers.{bid}.self_attn.k_proj", .attnK, [.kvDim, .embd]),
            TensorRule("model.layers.{bid}.self_attn.v_proj", .attnV, [.kvDim, .embd]),
            TensorRule("model.layers.{bid}.self_attn.o_proj", .attnOutput, [.embd, .qDim]),
            TensorRule("model.layers.{bid}.post_attention_layernorm", .postAttentionNorm, [.embd], shift: 1),
            TensorRule("model.layers.{bid}.pre_feedforward_layernorm", .ffnNorm, [.embd], shift: 1),
            TensorRule("model.layers.{bid}.post_feedforward_layernorm", .postFFWNorm, [.embd], shift: 1),
            TensorRule("model.layers.{bid}.mlp.gate_proj", .ffnGate, [.ffn, .embd]),
            TensorRule("model.layers.{bid}.mlp.up_proj", .ffnUp, [.ffn, .embd]),
            TensorRule("model.layers.{bid}.mlp.down_proj", .ffnDown, [.embd, .ffn]),
        ]
        if qkNorm {
            t.append(TensorRule("model.layers.{bid}.self_attn.q_norm", .attnQNorm, [.headDim], shift: 1))
            t.append(TensorRule("model.layers.{bid}.self_attn.k_norm", .attnKNorm, [.headDim], shift: 1))
        }
        return t
    }
}
