extension ArchitectureSpec {
    /// Qwen3 (dense): convert_hf_to_gguf.py `Qwen3Model` (after b4748) — like Qwen2 with per-head
    /// q_norm/k_norm and no q/k/v biases; llama.cpp `build_qwen3`.
    public static let qwen3 = ArchitectureSpec(
        hfNames: ["Qwen3ForCausalLM"],
        arch: "qwen3",
        converter: ConverterRules(
            vocabSources: [.sentencePiece, .gpt2],
            writesVocabSizeAndRopeDims: false,
            copiesAddPrefixSpace: false,
            noBOSForVocabSize: nil,
            generatesLlama3RopeFreqs: false,
            tensors: ConverterRules.llamaStyleGlobal
                + ConverterRules.llamaStyleLayer(qkvBias: false, permute: false, qkNorm: true),
            configDefaults: [
                // transformers Qwen3Config
                "qwen3": [.int("max_position_embeddings", 32768), .double("rms_norm_eps", 1e-6),
                          .double("rope_theta", 10000), .int("num_key_value_heads", 32), .int("head_dim", 128)],
            ]),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .neox, qkvBias: .optional,
                             qkNorm: .required, ropeFreqs: false, tiedOutputAllowed: true),
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .never))
}
