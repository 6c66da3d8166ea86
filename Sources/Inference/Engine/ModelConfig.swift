import Architectures
import GGUF

/// Hyper-parameters of a llama-family decoder, read from `{arch}.*` keys with llama.cpp's
/// defaults (llama-model.cpp `llama_model::load_hparams`, llama.cpp `llama_init_from_model`).
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    /// How llama.cpp's graph wires a block of this architecture (its `ArchitectureSpec`).
    public var wiring: EngineWiring
    public var embeddingLength: Int
    public var blockCount: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var headCountKV: Int
    /// Per-head dimension of Q/K (`attention.key_length`, default embedding/heads) and of V.
    public var headDimK: Int
    public var headDimV: Int
    public var rmsEpsilon: Float
    public var contextLengthTrain: Int
    public var ropeStyle: RopeStyle { wiring.rope }
    /// Rotated dimensions (`rope.dimension_count`, default headDimK).
    public var ropeDimensions: Int
    public var ropeFreqBase: Float
    /// 1/`rope.scaling.factor` (1 when absent or the scaling type is "none").
    public var ropeFreqScale: Float
    /// YaRN extrapolation mix (1 for "yarn", else 0), magnitude factor, correction betas and
    /// original context, as llama.cpp's context parameters default them.
    public var yarnExtFactor: Float
    public var yarnAttnFactor: Float
    public var yarnBetaFast: Float
    public var yarnBetaSlow: Float
    public var yarnOrigContext: Int
    /// Routed experts (`expert_count`, 0 for a dense model), experts per token
    /// (`expert_used_count`) and one expert's hidden width (`expert_feed_forward_length`, default
    /// `feed_forward_length`).
    public var expertCount = 0
    public var expertUsedCount = 0
    public var expertFeedForwardLength = 0

    /// Multiplies the token embeddings (sqrt(n_embd) for Gemma, else 1).
    public var embeddingScale: Float = 1
    /// Multiplies Q after RoPE (Gemma, Phi-3: `EngineWiring.queryScaling`), in which case the
    /// softmax scale is 1; nil: softmax scale `attentionScale`.
    public var queryScale: Float?
    /// tanh soft-capping of the attention scores and of the logits (0: off).
    public var attentionSoftCap: Float = 0
    public var finalSoftCap: Float = 0
    /// Sliding window of the sliding layers (0: none) and their period.
    public var slidingWindow: Int = 0
    public var slidingWindowPeriod: Int = 0
    /// RoPE base of the sliding layers.
    public var ropeFreqBaseSWA: Float = 10000

    /// Whether layer `il` attends through the sliding window (llama.cpp `set_swa_pattern`).
    public func isSlidingWindowLayer(_ il: Int) -> Bool {
        slidingWindow > 0 && (slidingWindowPeriod == 0 || il % slidingWindowPeriod < slidingWindowPeriod - 1)
    }

    /// Width of the KV rows.
    public var kvDimK: Int { headCountKV * headDimK }
    public var kvDimV: Int { headCountKV * headDimV }
    /// Softmax scale of the attention scores, `1/sqrtf(head_dim)`.
    public var attentionScale: Float { 1 / Float(headDimV).squareRoot() }

    /// Reads the hyper-parameters of `file`.
    /// - Throws: `InferenceError` for an unsupported architecture, a missing required key, or
    ///   inconsistent values (heads not dividing the width, an unknown RoPE scaling type...).
    public init(file: GGUFFile) throws(InferenceError) {
        let path = file.path
        guard let arch = file.architecture else {
            throw InferenceError(.missing, file: path, "key '\(GGUFKey.General.architecture)' is absent")
        }
        guard let spec = ArchitectureSpec.gguf(arch) else {
            let names = ArchitectureSpec.supportedGGUFNames.joined(separator: ", ")
            throw InferenceError(.unsupportedArchitecture, file: path,
                                 "architecture '\(arch)' is not supported (expected one of \(names))")
        }
        let md = file.metadata
        func int(_ key: String, _ def: Int? = nil) throws(InferenceError) -> Int {
            guard let v = md[key] else {
                if let def { return def }
                throw InferenceError(.missing, file: path, "key '\(key)' is absent")
            }
            if let i = v.intValue { return i }
            // llama.cpp's get_key_or_arr: an array with one value per layer.
            if let a = v.arrayValue?.integers, let f = a.first, a.allSatisfy({ $0 == f }) { return f }
            throw InferenceError(.invalid, file: path, "key '\(key)' has type \(v.type), expected an integer")
        }
        func float(_ key: String, _ def: Float? = nil) throws(InferenceError) -> Float {
            guard let v = md[key] else {
                if let def { return def }
                throw InferenceError(.missing, file: path, "key '\(key)' is absent")
            }
            guard let d = v.doubleValue else {
                throw InferenceError(.invalid, file: path, "key '\(key)' has type \(v.type), expected a float")
            }
            return Float(d)
        }
        typealias K = GGUFKey.LLM
        architecture = arch
        wiring = spec.engine
        embeddingLength = try int(K.embeddingLength(arch))
        blockCount = try int(K.blockCount(arch))
        feedForwardLength = try int(K.feedForwardLength(arch))
        headCount = try int(K.headCount(arch))
        headCountKV = try int(K.headCountKV(arch), headCount)
        contextLengthTrain = try int(K.contextLength(arch))
        guard embeddingLength > 0, blockCount > 0, feedForwardLength > 0, headCount > 0, headCountKV > 0,
              headCount % headCountKV == 0 else {
            throw InferenceError(.invalid, file: path, "invalid sizes: embedding \(embeddingLength), blocks \(blockCount), "
                                 + "feed-forward \(feedForwardLength), heads \(headCount)/\(headCountKV)")
        }
        headDimK = try int(K.keyLength(arch), embeddingLength / headCount)
        headDimV = try int(K.valueLength(arch), embeddingLength / headCount)
        ropeDimensions = try int(K.ropeDimensionCount(arch), headDimK)
        guard headDimK > 0, headDimK == headDimV, ropeDimensions == headDimK else {
            throw InferenceError(.invalid, file: path, "head dimensions K \(headDimK), V \(headDimV), rope \(ropeDimensions): "
                                 + "expected all equal, as llama.cpp's llama/qwen2 graphs require")
        }
        rmsEpsilon = try float(K.layerNormRMSEpsilon(arch))
        ropeFreqBase = try float(K.ropeFreqBase(arch), 10000)
        let scaling = md[K.ropeScalingType(arch)]?.stringValue ?? "linear"
        guard ["none", "linear", "yarn"].contains(scaling) else {
            throw InferenceError(.invalid, file: path, "key '\(K.ropeScalingType(arch))' is '\(scaling)', "
                                 + "expected none, linear or yarn")
        }
        var factor = try float(K.ropeScalingFactor(arch), 0)
        if md[K.ropeScalingFactor(arch)] == nil { factor = try float(GGUFKey.LLM.ropeScaleLinear(arch), 0) }
        ropeFreqScale = (scaling == "none" || factor == 0) ? 1 : 1 / factor
        yarnExtFactor = scaling == "yarn" ? 1 : 0
        yarnAttnFactor = try float(K.ropeScalingAttnFactor(arch), 1)
        yarnBetaFast = 32
        yarnBetaSlow = 1
        yarnOrigContext = try int(K.ropeScalingOrigContext(arch), contextLengthTrain)
        ropeFreqBaseSWA = ropeFreqBase
        try readGemmaParameters(spec.engine, int: int, float: float)
        expertCount = try int(K.expertCount(arch), 0)
        expertUsedCount = try int(K.expertUsedCount(arch), 0)
        expertFeedForwardLength = try int(K.expertFeedForwardLength(arch), feedForwardLength)
        guard expertCount >= 0, expertUsedCount >= 0, expertUsedCount <= expertCount, expertFeedForwardLength > 0 else {
            throw InferenceError(.invalid, file: path, "\(expertUsedCount) experts used per token of \(expertCount) "
                                 + "(expert feed-forward \(expertFeedForwardLength)): expected at most as many as there are")
        }
    }
}
