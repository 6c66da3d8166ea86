import GGUF

extension ArchitectureSpec {
    /// Qwen3-MoE: b10572 `Qwen3MoeModel` (a `Qwen2MoeModel`): Qwen3's attention (q/k norms, no
    /// biases), `mlp.experts.E.down_proj/gate_proj/up_proj` stacked into `ffn_down/gate/up_exps`
    /// (in that order), the router `mlp.gate` into `ffn_gate_inp`, and
    /// `expert_feed_forward_length`; llama.cpp `build_qwen3moe`.
    public static let qwen3moe = ArchitectureSpec(
        hfNames: ["Qwen3MoeForCausalLM"],
        arch: "qwen3moe",
        converter: ConverterRules(
            vocabSources: [.sentencePiece, .gpt2],
            writesVocabSizeAndRopeDims: false,
            copiesAddPrefixSpace: false,
            noBOSForVocabSize: nil,
            generatesLlama3RopeFreqs: false,
            tensors: ConverterRules.llamaStyleGlobal
                + ConverterRules.llamaStyleAttention(qkvBias: false, permute: false, qkNorm: true)
                + [TensorRule("model.layers.{bid}.mlp.gate", .ffnGateInp, [.experts, .embd])],
            configDefaults: [
                // transformers Qwen3MoeConfig: `num_experts` is an alias of `num_local_experts`
                "qwen3_moe": [.int("max_position_embeddings", 32768), .double("rms_norm_eps", 1e-6),
                              .double("rope_theta", 10000), .int("num_key_value_heads", 4),
                              .int("moe_intermediate_size", 768), .int("num_experts_per_tok", 8),
                              .copy("num_local_experts", from: "num_experts"), .int("num_local_experts", 128)],
            ],
            experts: ExpertStacking(
                pattern: "model.layers.{bid}.mlp.experts.{xid}.{proj}",
                projections: [.init("down_proj", .ffnDownExps, [.embd, .expertFFN]),
                              .init("gate_proj", .ffnGateExps, [.expertFFN, .embd]),
                              .init("up_proj", .ffnUpExps, [.expertFFN, .embd])]),
            writesExpertFeedForwardLengths: true),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .neox, qkvBias: .optional,
                             qkNorm: .required, ropeFreqs: false, tiedOutputAllowed: true),
        // AutoAWQ's groups for attention (input_layernorm → q/k/v, v → o when square); the
        // feed-forward group scales the router and every expert's gate and up (`awqScaledTensors`),
        // scored on the whole MoE block's output; the down group is one up → down group per
        // routed expert (its slabs of `ffn_up_exps` and `ffn_down_exps`), scored on its own rows.
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .never))
}
