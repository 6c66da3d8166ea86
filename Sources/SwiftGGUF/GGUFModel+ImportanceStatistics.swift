import Evaluation
import GGUF
import Inference
import Quants

extension GGUFModel {
    /// The raw importance sums of `text` as llama-imatrix (b10572) keeps them: per `blk.*` matrix
    /// the sum of every token's squared activation per input column and the token count, on top
    /// of `inputs` (earlier files, `--in-file`) when given. Save it with
    /// `ImportanceStatistics.write(to:replace:)` (GGUF) or `.legacy(chunkSize:dataset:)` (.dat).
    /// - Parameters:
    ///   - text: the raw bytes of the calibration text.
    ///   - dataset: the name recorded after the datasets of `inputs` (llama-imatrix records the
    ///     prompt file as given).
    ///   - options: llama-imatrix's settings (`processEscapes`: b10572's `-e`, off by default there).
    ///   - parseSpecial: `--parse-special`.
    ///   - inputs: sums to start from (`ImportanceMatrixFile.statistics(chunkSize:file:)`, merged).
    ///   - microBatch: b10572's micro-batch size (`-ub`, 512): with several chunks per pass the sums
    ///     follow its order (see `ImportanceCollector.microBatch`); nil adds rows in order, as with
    ///     b10572's unified KV cache (`-kvu`) and b4748.
    ///   - output: receives llama-imatrix's log lines (and the perplexity lines with their stream).
    ///   - progress: called as chunks complete.
    /// - Returns: the sums (chunk size `options.contextLength`) and the perplexity figures.
    public func importanceStatistics(text: [UInt8], dataset: String, options: ImatrixOptions = ImatrixOptions(),
                                     parseSpecial: Bool = false, inputs: ImportanceStatistics? = nil, microBatch: Int? = 512,
                                     output: ((String, PerplexityStream) -> Void)? = nil,
                                     progress: ((PerplexityProgress) -> Void)? = nil)
        throws(SwiftGGUFError) -> (statistics: ImportanceStatistics, perplexity: PerplexityResult?) {
        let model = try languageModel()
        guard !vocabulary.addEOS else {
            throw SwiftGGUFError(.invalidInput, "\(path): the vocabulary adds EOS; llama-imatrix requires it not to")
        }
        let bytes = options.processEscapes ? TokenizeOutput.processEscapes(text) : text
        output?("compute_imatrix: tokenizing the input ..\n", .info)
        var tokens = vocabulary.tokenize(bytes: bytes, addSpecial: true, parseSpecial: parseSpecial)
        if options.skipChunks > 0 {
            let (need, o1) = (options.skipChunks + 2).multipliedReportingOverflow(by: options.contextLength)
            guard !o1, need < tokens.count else {
                throw SwiftGGUFError(.invalidInput, "\(dataset): there will be not enough tokens left after removing "
                                     + "\(options.skipChunks) chunks")
            }
            tokens.removeFirst(options.skipChunks * options.contextLength)
        }
        let collector = ImportanceCollector(processOutput: options.processOutput)
        collector.microBatch = microBatch
        if let inputs { collector.seed(with: inputs) }
        let runner = try wrapped {
            try ImatrixRunner(model: model, contextLength: options.contextLength, chunks: options.chunks, threads: options.threads,
                              batchSize: max(options.batchSize, options.contextLength),
                              computePerplexity: options.computePerplexity, output: output ?? { _, _ in }, progress: progress)
        }
        runner.flashAttention = options.flashAttention.enabled
        let result = try wrapped {
            try runner.run(tokens: tokens, addBOS: vocabulary.addBOS, bos: vocabulary.bos ?? 0, collector: collector)
        }
        let stats = try wrapped {
            try collector.statistics(seed: inputs, datasets: (inputs?.datasets ?? []) + [dataset], chunkSize: options.contextLength)
        }
        return (stats, result)
    }
}
