import GGUF

extension ArchitectureSpec {
    /// Phi-3 / Phi-3.5 / Phi-4 mini: convert_hf_to_gguf.py `Phi3MiniModel` (fused `qkv_proj` stored as
    /// `attn_qkv`, fused `gate_up_proj` as `ffn_up` of 2·ffn rows, no permutation), llama.cpp
    /// `llama_model_phi3` (NeoX RoPE, Q scaled before attention, sliding window disabled).
    public static let phi3 = ArchitectureSpec(
        hfNames: ["Phi3ForCausalLM"],
        arch: "phi3",
        converter: ConverterRules(
            vocabSources: [.phi3],
            writesVocabSizeAndRopeDims: false,
            copiesAddPrefixSpace: false,
            noBOSForVocabSize: nil,
            generatesLlama3RopeFreqs: false,
            tensors: ConverterRules.llamaStyleGlobal + [
                TensorRule("model.layers.{bid}.input_layernorm", .attnNorm, [.embd]),
                TensorRule("model.layers.{bid}.self_attn.qkv_proj", .attnQKV, [.qkvDim, .embd]),
                TensorRule("model.layers.{bid}.self_attn.o_proj", .attnOutput, [.embd, .qDim]),
                TensorRule("model.layers.{bid}.post_attention_layernorm", .ffnNorm, [.embd]),
                TensorRule("model.layers.{bid}.mlp.gate_up_proj", .ffnUp, [.ffnPair, .embd]),
                TensorRule("model.layers.{bid}.mlp.down_proj", .ffnDown, [.embd, .ffn]),
            ],
            configDefaults: [
                // transformers Phi3Config
                "phi3": [.int("max_position_embeddings", 4096), .int("original_max_position_embeddings", 4096),
                         .double("rms_norm_eps", 1e-5), .double("rope_theta", 10000),
                         .copy("num_key_value_heads", from: "num_attention_heads")],
            ],
            parameters: .phi3),
        engine: EngineWiring(layout: .preNorm, feedForward: .swiGLU, rope: .neox, qkvBias: .optional,
                             qkNorm: .optional, ropeFreqs: false, tiedOutputAllowed: true,
                             // Q × 1/√head_dim after RoPE, softmax scale 1 (no full-width rule: -1 layers).
                             queryScaling: .query(fullWidthLayers: -1),
                             fusedProjections: true, longContextRopeFactors: true),
        // AutoAWQ's Phi-3 groups (awq/models/phi3.py): input_layernorm → qkv_proj, post_attention_layernorm
        // → gate_up_proj, gate_up_proj (its up half) → down_proj; it leaves out qkv_proj → o_proj. The fused
        // tensors are scaled as stored (`awqScaledTensors`).
        awqGroups: [.attention, .feedForward, .down],
        quantization: QuantizationQuirks(seventyB: .never))
}
