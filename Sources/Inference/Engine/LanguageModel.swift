import Architectures
import GGUF
import Quants

/// A llama / qwen2 / qwen3 decoder loaded from a GGUF file, as llama.cpp b4748's llama.cpp
/// (`build_llama`, `build_qwen2`) and later versions (`qwen3`) lay it out. The weight matrices
/// stay in the file's memory map; only norms, biases and RoPE factors are copied.
///
/// The model is immutable after loading; run it through an `InferenceSession`.
public final class LanguageModel {
    public let file: GGUFFile
    public let config: ModelConfig
    /// Rows of the output matrix: the logits per position.
    public let vocabularySize: Int
    /// `token_embd`: vocabularySize rows of embeddingLength.
    public let tokenEmbedding: Linear
    /// `output`, or `token_embd` when the file ties them.
    public let output: Linear
    public let outputNorm: [Float]
    /// llama3 `rope_freqs` (one divisor per rotated pair), if present.
    public let ropeFactors: [Float]?
    /// Phi-3 `rope_factors_long` / `rope_factors_short`, if present: a session uses the long ones
    /// when its context exceeds the original training context (llama.cpp `get_rope_factors`).
    public let ropeFactorsLong: [Float]?, ropeFactorsShort: [Float]?
    public let layers: [LayerWeights]

    /// Opens and validates the GGUF file at `path`.
    /// - Throws: `InferenceError` (`.unreadable` wraps the reader's message).
    public convenience init(path: String) throws(InferenceError) {
        let f: GGUFFile
        do {
            f = try GGUFFile.openModel(path: path)
        } catch {
            throw InferenceError(.unreadable, file: "", error.description)
        }
        try self.init(file: f)
    }

    /// Loads the model from an open file: reads the hyper-parameters, checks every tensor's
    /// presence, shape and type.
    /// - Throws: `InferenceError` naming the key or tensor at fault.
    public init(file: GGUFFile) throws(InferenceError) {
        self.file = file
        let c = try ModelConfig(file: file)
        let loader = WeightLoader(file: file)
        let embd = try loader.info(TensorName.tokenEmbd.weight())
        guard embd.shape.count >= 2, embd.shape[0] == c.embeddingLength, embd.shape[1] > 0 else {
            throw InferenceError(.invalid, file: file.path,
                                 "tensor '\(embd.name)' has shape \(embd.shape), expected [\(c.embeddingLength), n_vocab]")
        }
        let nVocab = embd.shape[1]
        tokenEmbedding = try loader.matrix(embd.name, columns: c.embeddingLength, rows: nVocab)
        if c.wiring.alwaysTiedOutput {
            output = tokenEmbedding
        } else if file.tensor(named: TensorName.output.weight()) != nil || !c.wiring.tiedOutputAllowed {
            output = try loader.matrix(TensorName.output.weight(), columns: c.embeddingLength, rows: nVocab)
        } else {
            output = tokenEmbedding
        }
        vocabularySize = nVocab
        outputNorm = try loader.required(TensorName.outputNorm.weight(), count: c.embeddingLength)
        ropeFactors = c.wiring.ropeFreqs
            ? try loader.vector(TensorName.ropeFreqs.weight(), count: c.ropeDimensions / 2, optional: true) : nil
        if c.wiring.longContextRopeFactors {
            ropeFactorsLong = try loader.vector(TensorName.ropeFactorsLong.weight(), count: c.ropeDimensions / 2, optional: true)
            ropeFactorsShort = try loader.vector(TensorName.ropeFactorsShort.weight(), count: c.ropeDimensions / 2, optional: true)
        } else {
            ropeFactorsLong = nil
            ropeFactorsShort = nil
        }
        var ls: [LayerWeights] = []
        ls.reserveCapacity(c.blockCount)
        for il in 0..<c.blockCount { ls.append(try loader.layer(il, c)) }
        layers = ls
        config = c
    }
}
