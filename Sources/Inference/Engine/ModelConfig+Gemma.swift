import Architectures
import GGUF

extension ModelConfig {
    /// The parameters of the Gemma wiring (llama.cpp `load_arch_hparams` of gemma2/gemma3):
    /// embedding scale, query scale, soft-capping values, sliding window and its RoPE base.
    mutating func readGemmaParameters(_ w: EngineWiring, int: (String, Int?) throws(InferenceError) -> Int,
                                      float: (String, Float?) throws(InferenceError) -> Float) throws(InferenceError) {
        typealias K = GGUFKey.LLM
        let a = architecture
        if w.scalesEmbedding { embeddingScale = Float(embeddingLength).squareRoot() }
        if case .query(let layers) = w.queryScaling {
            let width = blockCount == layers ? embeddingLength / headCount : headDimK
            queryScale = 1 / Float(width).squareRoot()
        }
        if case .fromKey(let d) = w.attentionSoftCapping { attentionSoftCap = try float(K.attnLogitSoftcapping(a), d) }
        if case .fromKey(let d) = w.finalSoftCapping { finalSoftCap = try float(K.finalLogitSoftcapping(a), d) }
        if let rule = w.slidingWindow {
            let window = try int(K.slidingWindow(a), rule.defaultWindow ?? 0)
            if window > 0 {
                slidingWindow = window
                slidingWindowPeriod = try int(K.slidingWindowPattern(a), rule.defaultPeriod)
                ropeFreqBaseSWA = try float(K.ropeFreqBaseSWA(a), ropeFreqBase)
            }
        }
    }
}
