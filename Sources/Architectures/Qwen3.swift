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
                + ConverterRules.llamaStyleLayer(qkvBias: false, permute: false, qkNorm: true)),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .neox, qkvBias: .optional,
                             qkNorm: .required, ropeFreqs: false, tiedOutputAllowed: true),
        awqGroups: [.attention, .valueOutput, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .never))
}
