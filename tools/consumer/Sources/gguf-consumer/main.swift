import Foundation
import SwiftGGUF

// A program that uses swift-gguf only through `import SwiftGGUF`:
//   gguf-consumer pipeline MODEL_DIR TEXT WORK_DIR   convert → Q4_K_M → perplexity (-c 128)
//   gguf-consumer ppl MODEL.gguf TEXT CTX CHUNKS      perplexity only
// The figures (the running `[i]` values, then the final estimate) go to stdout in llama-perplexity's format.

func perplexity(_ path: String, text: String, context: Int, chunks: Int) throws -> PerplexityResult {
    let model = try GGUFModel(path: path)
    var options = PerplexityOptions()
    options.contextLength = context
    options.chunks = chunks
    options.threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: text)))
    let result = try model.perplexity(text: bytes, options: options) { line, stream in
        if stream == .result || line.hasPrefix("Final estimate") { FileHandle.standardOutput.write(Data(line.utf8)) }
    }
    FileHandle.standardError.write(Data(String(format: "perplexity: %.2f s, %.1f tokens/s\n",
                                                result.seconds, result.tokensPerSecond).utf8))
    return result
}

let args = CommandLine.arguments
do {
    switch (args.count > 1 ? args[1] : "", args.count) {
    case ("pipeline", 5):
        var convert = ConvertOptions()
        convert.outType = .f32
        convert.outFile = args[4] + "/consumer-f32.gguf"
        convert.force = true
        let plan = try Conversion.run(modelDirectory: args[2], options: convert)
        var request = QuantizationRequest(input: plan.outputPath, output: args[4] + "/consumer-Q4_K_M.gguf", fileType: .q4_K_M)
        request.replaceExisting = true
        let report = try Quantization.run(request)
        FileHandle.standardError.write(Data("quantized: \(report.summary.plans.count) tensors, \(report.summary.bitsPerWeight) BPW\n".utf8))
        _ = try perplexity(request.output, text: args[3], context: 128, chunks: -1)
    case ("ppl", 6):
        guard let c = Int(args[4]), let n = Int(args[5]) else { throw SwiftGGUFError(.invalidOptions, "CTX and CHUNKS are integers") }
        _ = try perplexity(args[2], text: args[3], context: c, chunks: n)
    default:
        FileHandle.standardError.write(Data("usage: gguf-consumer pipeline MODEL_DIR TEXT WORK_DIR | ppl MODEL.gguf TEXT CTX CHUNKS\n".utf8))
        exit(64)
    }
} catch let error as SwiftGGUFError {
    FileHandle.standardError.write(Data("error (\(error.kind)): \(error.message)\n".utf8))
    exit(1)
}
