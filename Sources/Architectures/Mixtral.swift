import GGUF

extension ArchitectureSpec {
    /// Mixtral: b10572 converts it with `LlamaModel` (general.architecture "llama"; Q/K permuted),
    /// stacking `block_sparse_moe.experts.E.w1/w2/w3` into `ffn_gate/down/up_exps` (in that order)
    /// and the router `block_sparse_moe.gate` into `ffn_gate_inp`; llama.cpp's `build_llama` takes
    /// its MoE branch when a layer has `ffn_gate_inp`.
    public static let mixtral = ArchitectureSpec(
        hfNames: ["MixtralForCausalLM"],
        arch: "llama",
        converter: ConverterRules(
            vocabSources: [.sentencePiece, .llamaHF, .gpt2],
            writesVocabSizeAndRopeDims: true,
            copiesAddPrefixSpace: true,
            noBOSForVocabSize: 49152,
            generatesLlama3RopeFreqs: true,
            tensors: ConverterRules.llamaStyleGlobal
                + ConverterRules.llamaStyleAttention(qkvBias: false, permute: true, qkNorm: false)
                + [TensorRule("model.layers.{bid}.block_sparse_moe.gate", .ffnGateInp, [.experts, .embd])],
            configDefaults: [
                // transformers MixtralConfig (head_dim defaults to None: nothing is filled in)
                "mixtral": [.int("max_position_embeddings", 131072), .double("rms_norm_eps", 1e-5),
                            .double("rope_theta", 1e6), .int("num_key_value_heads", 8),
                            .int("num_experts_per_tok", 2), .int("num_local_experts", 8)],
            ],
            experts: ExpertStacking(
                pattern: "model.layers.{bid}.block_sparse_moe.experts.{xid}.{proj}",
                projections: [.init("w1", .ffnGateExps, [.expertFFN, .embd]),
                              .init("w2", .ffnDownExps, [.embd, .expertFFN]),
                              .init("w3", .ffnUpExps, [.expertFFN, .embd])])),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .normal, qkvBias: .optional,
                             qkNorm: .optional, ropeFreqs: true, tiedOutputAllowed: true),
        // AutoAWQ's groups for attention (input_layernorm → q/k/v, v → o when square); the
        // feed-forward group scales the router and every expert's gate and up (`awqScaledTensors`),
        // scored on the whole MoE block's output; the down group is one up → down group per
        // routed expert (its slabs of `ffn_up_exps` and `ffn_down_exps`), scored on its own rows.
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .eightyLayersWithGQA))
}
