extension ArchitectureSpec {
    /// Llama 1/2/3, Mistral, SmolLM, TinyLlama: convert_hf_to_gguf.py `LlamaModel` (Q/K rows
    /// permuted for ggml's rope), llama.cpp `build_llama`.
    public static let llama = ArchitectureSpec(
        hfNames: ["LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM"],
        arch: "llama",
        converter: ConverterRules(
            vocabSources: [.sentencePiece, .llamaHF, .gpt2],
            writesVocabSizeAndRopeDims: true,
            copiesAddPrefixSpace: true,
            noBOSForVocabSize: 49152,
            generatesLlama3RopeFreqs: true,
            tensors: ConverterRules.llamaStyleGlobal
                + ConverterRules.llamaStyleLayer(qkvBias: false, permute: true, qkNorm: false),
            configDefaults: [
                // transformers LlamaConfig / MistralConfig
                "llama": [.int("max_position_embeddings", 2048), .double("rms_norm_eps", 1e-6),
                          .double("rope_theta", 10000), .copy("num_key_value_heads", from: "num_attention_heads"),
                          .headDimFromHeads],
                "mistral": [.int("max_position_embeddings", 131072), .double("rms_norm_eps", 1e-6),
                            .double("rope_theta", 10000), .int("num_key_value_heads", 8), .headDimFromHeads],
            ]),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .normal, qkvBias: .optional,
                             qkNorm: .optional, ropeFreqs: true, tiedOutputAllowed: true),
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .eightyLayersWithGQA))
}
