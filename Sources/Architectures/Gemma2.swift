extension ArchitectureSpec {
    /// Gemma 2: convert_hf_to_gguf.py `Gemma2Model` (norms written as 1 + w, lm_head dropped,
    /// its own parameter list with both soft-capping values and the sliding window);
    /// llama.cpp `build_gemma2_iswa`.
    public static let gemma2 = ArchitectureSpec(
        hfNames: ["Gemma2ForCausalLM"],
        arch: "gemma2",
        converter: ConverterRules(
            vocabSources: [.sentencePiece],
            writesVocabSizeAndRopeDims: false,
            copiesAddPrefixSpace: false,
            noBOSForVocabSize: nil,
            generatesLlama3RopeFreqs: false,
            tensors: ConverterRules.gemmaGlobal + ConverterRules.gemmaLayer(qkNorm: false),
            configDefaults: [
                // transformers Gemma2Config
                "gemma2": [.int("vocab_size", 256000), .int("hidden_size", 2304), .int("intermediate_size", 9216),
                           .int("num_hidden_layers", 26), .int("num_attention_heads", 8),
                           .int("num_key_value_heads", 4), .int("head_dim", 256),
                           .int("max_position_embeddings", 8192), .double("rms_norm_eps", 1e-6),
                           .double("rope_theta", 10000), .int("query_pre_attn_scalar", 256),
                           .int("sliding_window", 4096), .double("final_logit_softcapping", 30),
                           .double("attn_logit_softcapping", 50)],
            ],
            parameters: .gemma2,
            skippedTensors: ["lm_head.weight"],
            sentencePieceAddSpacePrefix: false),
        engine: EngineWiring(layout: .sandwichNorm, feedForward: .geGLU, rope: .neox, qkvBias: .optional,
                             qkNorm: .optional, ropeFreqs: false, tiedOutputAllowed: true, alwaysTiedOutput: true,
                             scalesEmbedding: true, queryScaling: .query(fullWidthLayers: 46),
                             attentionSoftCapping: .fromKey(default: 50), finalSoftCapping: .fromKey(default: 30),
                             slidingWindow: SlidingWindowRule(defaultWindow: 4096, defaultPeriod: 2)),
        // AutoAWQ's Gemma groups: input_layernorm → q/k/v, v → o (when square),
        // pre_feedforward_layernorm (ffn_norm) → gate/up, up → down; the post norms are never scaled.
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .never))
}
