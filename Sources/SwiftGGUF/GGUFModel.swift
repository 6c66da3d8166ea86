import Foundation
import Evaluation
import GGUF
import Inference

/// A GGUF model opened for tokenizing, perplexity / KL-divergence and importance matrices.
///
/// ```swift
/// let model = try GGUFModel(path: "model-Q4_K_M.gguf")
/// let ids = model.tokenize("Hello world")
/// var options = PerplexityOptions()
/// options.chunks = 4
/// let result = try model.perplexity(text: Array(try String(contentsOfFile: "wiki.test.raw", encoding: .utf8).utf8),
///                                   options: options)
/// print(result.perplexity, result.uncertainty ?? 0)
/// ```
public final class GGUFModel {
    public let path: String
    public let file: GGUFFile
    /// The vocabulary (read from the metadata; a vocabulary-only file is enough for `tokenize`).
    public let vocabulary: GGUFVocabulary
    private var loaded: LanguageModel?

    /// Opens `path` and reads its vocabulary.
    /// - Throws: `SwiftGGUFError` (`.invalidInput` for a malformed file or vocabulary).
    public init(path: String) throws(SwiftGGUFError) {
        self.path = path
        let f = try wrapped { try GGUFFile.openModel(path: path) }
        file = f
        vocabulary = try wrapped { try GGUFVocabulary(file: f) }
    }

    /// A model over an open file: one from disk, or one built in memory (`CheckpointImage`: a
    /// Hugging Face folder as its f32 conversion). `path` is the file's.
    /// - Throws: `SwiftGGUFError` (`.invalidInput` for a malformed vocabulary).
    public init(file f: GGUFFile) throws(SwiftGGUFError) {
        path = f.path
        file = f
        vocabulary = try wrapped { try GGUFVocabulary(file: f) }
    }

    /// The weights for the forward pass, loaded (mapped and checked) on first use.
    /// - Throws: `SwiftGGUFError` (`.unsupported` for an architecture or tensor type the engine
    ///   does not run; `.invalidInput` for a vocabulary that does not fit the embedding).
    public func languageModel() throws(SwiftGGUFError) -> LanguageModel {
        if let loaded { return loaded }
        let m = try wrapped { try LanguageModel(file: file) }
        guard vocabulary.count == m.vocabularySize else {
            throw SwiftGGUFError(.invalidInput, "\(path): the vocabulary has \(vocabulary.count) tokens but token_embd.weight "
                                 + "has \(m.vocabularySize) rows")
        }
        loaded = m
        return m
    }

    /// Token ids of `text`, as `llama-tokenize` gives them.
    /// - Parameters:
    ///   - text: the text to tokenize (escapes are not processed).
    ///   - addSpecial: add BOS (and EOS) when the vocabulary asks for them.
    ///   - parseSpecial: cut special and control tokens out of the text.
    public func tokenize(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        vocabulary.tokenize(text, addSpecial: addSpecial, parseSpecial: parseSpecial)
    }

    /// Perplexity of `text` with llama-perplexity's tokenization, chunking, scoring and printed
    /// figures. With `options.klDivergenceBase` the log-probabilities are also saved there
    /// (replacing that file; never the model or an input).
    /// - Parameters:
    ///   - text: the raw bytes of the text (e.g. wiki.test.raw).
    ///   - options: llama-perplexity's settings (`-c`, `-b`, `--chunks`, `-t`, `--kl-divergence-base`).
    ///   - processEscapes: interpret `\n`, `\t`, `\xHH`... as llama.cpp's argument parser does by default.
    ///   - output: receives every line llama-perplexity prints, with the stream it prints it on.
    ///   - progress: called after each pass.
    public func perplexity(text: [UInt8], options: PerplexityOptions, processEscapes: Bool = true,
                           output: ((String, PerplexityStream) -> Void)? = nil,
                           progress: ((PerplexityProgress) -> Void)? = nil) throws(SwiftGGUFError) -> PerplexityResult {
        guard !options.klDivergence else {
            throw SwiftGGUFError(.invalidOptions, "options.klDivergence is set: use klDivergence(options:) to compare with the base file")
        }
        if let base = options.klDivergenceBase { try OutputPath.check(base, inputs: [path], force: true) }
        let model = try languageModel()
        let bytes = processEscapes ? TokenizeOutput.processEscapes(text) : text
        output?("perplexity: tokenizing the input ..\n", .info)
        let t0 = Date()
        // With --chunks, only those chunks' tokens are read (at least two chunks', which the
        // runner's length check asks for): the same ids as the whole text's first ones.
        var minimum: Int?
        if options.chunks >= 0 {
            let (n, o) = Swift.max(options.chunks, 2).multipliedReportingOverflow(by: Swift.max(options.contextLength, 1))
            if !o { minimum = n }
        }
        let tokens = bytes.withUnsafeBufferPointer {
            vocabulary.tokenize(bytes: $0, addSpecial: true, parseSpecial: false, minimum: minimum)
        }
        output?(String(format: "perplexity: tokenization took %g ms\n", Date().timeIntervalSince(t0) * 1000), .info)
        let runner = try wrapped { try PerplexityRunner(model: model, options: options, output: output ?? { _, _ in }, progress: progress) }
        return try wrapped {
            try runner.run(tokens: tokens, addBOS: vocabulary.addBOS, bos: vocabulary.bos ?? 0, addEOS: vocabulary.addEOS)
        }
    }

    /// KL-divergence (and the perplexity figures) of this model against the log-probabilities a
    /// base model saved at `options.klDivergenceBase`: llama-perplexity `--kl-divergence`.
    /// - Parameters:
    ///   - options: llama-perplexity's settings; `klDivergenceBase` names the base file.
    ///   - output: receives every line llama-perplexity prints, with its stream.
    ///   - progress: called after each pass.
    public func klDivergence(options: PerplexityOptions, output: ((String, PerplexityStream) -> Void)? = nil,
                             progress: ((PerplexityProgress) -> Void)? = nil) throws(SwiftGGUFError) -> PerplexityResult {
        guard options.klDivergenceBase != nil else {
            throw SwiftGGUFError(.invalidOptions, "KL-divergence needs options.klDivergenceBase (the base model's saved log-probabilities)")
        }
        var o = options
        o.klDivergence = true
        let model = try languageModel()
        let runner = try wrapped { try PerplexityRunner(model: model, options: o, output: output ?? { _, _ in }, progress: progress) }
        return try wrapped { try runner.run(tokens: [], addBOS: vocabulary.addBOS, bos: vocabulary.bos ?? 0, addEOS: vocabulary.addEOS) }
    }

    /// The importance matrix of `text`, as llama-imatrix collects it: per-column mean squared
    /// activations of every `blk.*` matrix over the text's chunks.
    /// - Parameters:
    ///   - text: the raw bytes of the calibration text.
    ///   - dataset: the name recorded in the matrix (llama-imatrix records the file name as given).
    ///   - options: llama-imatrix's settings.
    ///   - output: llama-imatrix's printed lines (the running perplexity unless `computePerplexity` is off).
    ///   - progress: called after each pass.
    /// - Returns: the matrix (write it with `ImportanceMatrix.write(to:replace:)`) and the perplexity figures.
    public func importanceMatrix(text: [UInt8], dataset: String, options: ImatrixOptions = ImatrixOptions(),
                                 output: ((String, PerplexityStream) -> Void)? = nil,
                                 progress: ((PerplexityProgress) -> Void)? = nil)
        throws(SwiftGGUFError) -> (matrix: ImportanceMatrix, perplexity: PerplexityResult?) {
        let model = try languageModel()
        guard !vocabulary.addEOS else {
            throw SwiftGGUFError(.invalidInput, "\(path): the vocabulary adds EOS; llama-imatrix requires it not to")
        }
        let bytes = options.processEscapes ? TokenizeOutput.processEscapes(text) : text
        output?("compute_imatrix: tokenizing the input ..\n", .info)
        var tokens = vocabulary.tokenize(bytes: bytes, addSpecial: true, parseSpecial: false)
        if options.skipChunks > 0 {
            let (need, o1) = (options.skipChunks + 2).multipliedReportingOverflow(by: options.contextLength)
            guard !o1, need < tokens.count else {
                throw SwiftGGUFError(.invalidInput, "\(dataset): there will be not enough tokens left after removing "
                                     + "\(options.skipChunks) chunks")
            }
            tokens.removeFirst(options.skipChunks * options.contextLength)
        }
        let collector = ImportanceCollector(processOutput: options.processOutput)
        let runner = try wrapped {
            try ImatrixRunner(model: model, contextLength: options.contextLength, chunks: options.chunks, threads: options.threads,
                              batchSize: max(options.batchSize, options.contextLength),
                              computePerplexity: options.computePerplexity, output: output ?? { _, _ in }, progress: progress)
        }
        runner.flashAttention = options.flashAttention.enabled
        let result = try wrapped {
            try runner.run(tokens: tokens, addBOS: vocabulary.addBOS, bos: vocabulary.bos ?? 0, collector: collector)
        }
        return (collector.matrix(dataset: dataset), result)
    }
}

/// The settings of an importance-matrix collection (llama-imatrix's flags).
public struct ImatrixOptions: Sendable, Equatable {
    /// `-c`: tokens per chunk.
    public var contextLength = 512
    /// `-b`: tokens per pass (chunks side by side; the sums are the same).
    public var batchSize = 2048
    /// `--chunks`: at most this many chunks (negative: all).
    public var chunks = -1
    /// `--chunk`: skip this many chunks at the start of the text.
    public var skipChunks = 0
    public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// `--process-output`: also collect `output.weight`.
    public var processOutput = false
    /// Print the running perplexity (`--no-ppl` turns it off).
    public var computePerplexity = true
    /// Interpret escapes in the text (`--no-escape` turns it off).
    public var processEscapes = true
    /// `-fa`: attention as llama.cpp's flash attention (the sums of llama-imatrix b10572 with the
    /// same setting; the default, auto, is on, as b10572 decides for the CPU).
    public var flashAttention: FlashAttentionMode = .auto

    public init() {}
}
