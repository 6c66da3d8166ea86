import Foundation
import Inference

/// The settings of a llama-perplexity run (the values the CLI parsed).
public struct PerplexityOptions: Sendable, Equatable {
    /// `-c`: tokens per chunk (llama-perplexity's default 512).
    public var contextLength = 512
    /// `-b`: tokens per decode (default 2048); chunks are evaluated `max(1, b / c)` at a time.
    public var batchSize = 2048
    /// `--chunks`: at most this many chunks (negative: all).
    public var chunks = -1
    /// `-t`.
    public var threads = 2
    /// `--ppl-output-type`: 0 prints `[i]ppl,`, 1 prints one line per chunk.
    public var outputType = 0
    /// `--kl-divergence-base FILE`: written in a perplexity run, read with `klDivergence`.
    public var klDivergenceBase: String?
    /// `--kl-divergence`: compare with the base file instead of scoring a text.
    public var klDivergence = false
    /// `-fa on|off|auto`: flash attention (llama.cpp b10572's default `auto`, on for the CPU).
    /// `off` reproduces b4748's figures (and b10572's with `-fa off`).
    public var flashAttention: FlashAttentionMode = .auto

    public init() {}
}

/// Where llama-perplexity sends a message: `LOG_INF` (information, stderr), `LOG` (the figures,
/// stdout), `LOG_ERR`.
public enum PerplexityStream: Sendable, Equatable {
    case info, result, error
}

/// Progress after each pass.
public struct PerplexityProgress: Sendable, Equatable {
    public var chunksDone: Int
    public var chunks: Int
    public var tokensPerSecond: Double
    public var etaSeconds: Double
}

/// Final KL-divergence statistics (the `====== ... ======` sections).
public struct KLDivergenceSummary: Codable, Sendable, Equatable {
    public var meanPPLQ: Double, meanPPLQUncertainty: Double
    public var meanPPLBase: Double, meanPPLBaseUncertainty: Double
    public var lnPPLCorrelation: Double
    public var meanLnPPLRatio: Double, meanLnPPLRatioUncertainty: Double
    public var meanPPLRatio: Double, meanPPLRatioUncertainty: Double
    public var meanPPLDifference: Double, meanPPLDifferenceUncertainty: Double
    public var meanKLD: Double, meanKLDUncertainty: Double
    /// Maximum, 99.9, 99, 95, 90, median, 10, 5, 1, 0.1 %, minimum.
    public var kldPercentiles: [String: Double]
    public var meanDeltaP: Double, meanDeltaPUncertainty: Double
    /// Maximum, 99.9, 99, 95, 90, 75, median, 25, 10, 5, 1, 0.1 %, minimum (as fractions).
    public var deltaPPercentiles: [String: Double]
    public var rmsDeltaP: Double, rmsDeltaPUncertainty: Double
    public var sameTop: Double, sameTopUncertainty: Double
}

/// What a run produced, also as JSON (`json()`).
public struct PerplexityResult: Codable, Sendable, Equatable {
    /// "perplexity" or "kl-divergence".
    public var mode: String
    public var contextLength: Int
    public var batchSize: Int
    public var sequences: Int
    public var threads: Int
    public var chunks: Int
    /// Tokens scored (`chunks · (n_ctx - 1 - n_ctx/2)`).
    public var tokensScored: Int
    /// The running `[i]` figures: perplexity after each chunk.
    public var runningPerplexity: [Double]
    /// Final perplexity and its uncertainty (nil when the variance is not positive).
    public var perplexity: Double
    public var uncertainty: Double?
    /// Time in the forward passes and scoring, and tokens evaluated per second (`chunks · n_ctx` tokens).
    public var seconds: Double
    public var tokensPerSecond: Double
    public var klDivergence: KLDivergenceSummary?

    /// Pretty-printed JSON with sorted keys.
    public func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        // A model compared with itself has zero variances: NaN correlations must not drop the result.
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let d = try? enc.encode(self) else { return "{}" }
        return String(decoding: d, as: UTF8.self)
    }
}

/// printf-style formatting, as llama-perplexity's `LOG` calls do it.
@inline(__always)
func cFormat(_ f: String, _ args: any CVarArg...) -> String {
    String(format: f, arguments: args)
}
