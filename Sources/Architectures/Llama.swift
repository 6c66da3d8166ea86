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
                + ConverterRules.llamaStyleLayer(qkvBias: false, permute: true, qkNorm: false)),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .normal, qkvBias: .optional,
                             qkNorm: .optional, ropeFreqs: true, tiedOutputAllowed: true),
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .eightyLayersWithGQA))
}
