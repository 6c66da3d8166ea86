extension ArchitectureSpec {
    /// Gemma 3 (text): convert_hf_to_gguf.py `Gemma3Model` (norms written as 1 + w, including
    /// the per-head q/k norms; out-of-vocabulary embedding rows dropped; TextModel's parameters
    /// with a local RoPE base, plus the sliding window); llama.cpp `build_gemma3_iswa`.
    public static let gemma3 = ArchitectureSpec(
        hfNames: ["Gemma3ForCausalLM"],
        arch: "gemma3",
        converter: ConverterRules(
            vocabSources: [.sentencePiece, .gpt2],
            writesVocabSizeAndRopeDims: false,
            copiesAddPrefixSpace: false,
            noBOSForVocabSize: nil,
            generatesLlama3RopeFreqs: false,
            tensors: ConverterRules.gemmaGlobal + ConverterRules.gemmaLayer(qkNorm: true),
            configDefaults: [
                // transformers Gemma3TextConfig
                "gemma3_text": [.int("vocab_size", 262208), .int("hidden_size", 2304), .int("intermediate_size", 9216),
                                .int("num_hidden_layers", 26), .int("num_attention_heads", 8),
                                .int("num_key_value_heads", 4), .int("head_dim", 256),
                                .int("max_position_embeddings", 131072), .double("rms_norm_eps", 1e-6),
                                .double("rope_theta", 1_000_000), .double("rope_local_base_freq", 10000),
                                .int("query_pre_attn_scalar", 256), .int("sliding_window", 4096)],
            ],
            parameters: .gemma3,
            sentencePieceAddSpacePrefix: false,
            trimsEmbeddingToVocabulary: true),
        engine: EngineWiring(layout: .sandwichNorm, feedForward: .geGLU, rope: .neox, qkvBias: .optional,
                             qkNorm: .required, ropeFreqs: false, tiedOutputAllowed: true,
                             scalesEmbedding: true, queryScaling: .query(fullWidthLayers: 62),
                             finalSoftCapping: .fromKey(default: 0),
                             slidingWindow: SlidingWindowRule(defaultWindow: nil, defaultPeriod: 6)),
        // AutoAWQ's Gemma groups: input_layernorm → q/k/v, v → o (when square),
        // pre_feedforward_layernorm (ffn_norm) → gate/up, up → down; the post norms are never scaled.
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .never))
}
