extension ArchitectureSpec {
    /// Qwen2 / Qwen2.5: convert_hf_to_gguf.py `Qwen2Model` (q/k/v biases, NEOX rope, no
    /// permutation), llama.cpp `build_qwen2`.
    public static let qwen2 = ArchitectureSpec(
        hfNames: ["Qwen2ForCausalLM"],
        arch: "qwen2",
        converter: ConverterRules(
            vocabSources: [.sentencePiece, .gpt2],
            writesVocabSizeAndRopeDims: false,
            copiesAddPrefixSpace: false,
            noBOSForVocabSize: nil,
            generatesLlama3RopeFreqs: false,
            tensors: ConverterRules.llamaStyleGlobal
                + ConverterRules.llamaStyleLayer(qkvBias: true, permute: false, qkNorm: false),
            configDefaults: [
                // transformers Qwen2Config
                "qwen2": [.int("max_position_embeddings", 32768), .double("rms_norm_eps", 1e-6),
                          .double("rope_theta", 10000), .int("num_key_value_heads", 32)],
            ]),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .neox, qkvBias: .required,
                             qkNorm: .optional, ropeFreqs: false, tiedOutputAllowed: true),
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .eightyLayers))
}
