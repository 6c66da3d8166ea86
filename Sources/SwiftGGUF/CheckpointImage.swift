import Foundation
import Convert
import GGUF
import HFModel
import Quants

/// A Hugging Face folder as the engine's model, without writing a GGUF: the f32 file `hf2gguf
/// --outtype f32` would write (its metadata, tensor table and f32 values, byte for byte) is built
/// in anonymous memory (`GGUFImage`) and opened as a `GGUFFile`. The tensor values come from the
/// converter's plan (`ConvertedModel`: bf16/f16 widened exactly, rope rows permuted, experts
/// stacked), written straight into the image; each checkpoint tensor's pages are dropped once it
/// is converted, so memory holds one copy of the f32 weights (the image), as the GGUF path holds
/// the mapped f32 file.
///
/// ```swift
/// let (file, _) = try CheckpointImage.open(modelDirectory: "SmolLM2-135M-Instruct")
/// let model = try GGUFModel(file: file)     // perplexity, importance matrix, ...
/// ```
public enum CheckpointImage {
    /// Plans the f32 conversion of `modelDirectory` with `options` (its `outType`, `vocabOnly` and
    /// output path are ignored; `modelName` sets general.name as with hf2gguf) and builds it.
    /// - Parameters:
    ///   - modelDirectory: the Hugging Face folder (config.json, safetensors, tokenizer files).
    ///   - options: the converter's options, as hf2gguf takes them.
    ///   - progress: called after each tensor with (tensors done, tensor count, GGUF name).
    /// - Throws: `SwiftGGUFError` naming the folder, file, tensor or key at fault (the converter's
    ///   errors, a checkpoint tensor cut short, memory that cannot be mapped).
    public static func open(modelDirectory: String, options: ConvertOptions = ConvertOptions(),
                            progress: ((Int, Int, String) -> Void)? = nil) throws(SwiftGGUFError) -> (file: GGUFFile, plan: ConversionPlan) {
        let (plan, source) = try f32Plan(modelDirectory, options)
        return (try build(from: source, progress: progress), plan)
    }

    /// The f32 conversion plan of a folder and the model it describes (nothing read yet).
    static func f32Plan(_ dir: String, _ options: ConvertOptions) throws(SwiftGGUFError) -> (ConversionPlan, ConvertedModel) {
        var o = options
        o.outType = .f32
        o.vocabOnly = false
        let model = try Conversion.openCheckpoint(dir, o)
        let plan = try wrapped { try Converter.plan(directory: dir, options: o, model: model) }
        let source = try wrapped { try ConvertedModel(plan: plan, directory: dir, model: model) }
        return (plan, source)
    }

    /// Converts every tensor of `source` into an in-memory GGUF (named by `source.path`).
    public static func build(from source: ConvertedModel,
                             progress: ((Int, Int, String) -> Void)? = nil) throws(SwiftGGUFError) -> GGUFFile {
        let count = source.tensors.count
        var done = 0
        return try wrapped {
            try GGUFImage.build(name: source.path, metadata: source.metadata, tensors: source.tensors) { t, bytes in
                guard t.type == .f32 else {
                    throw ConvertError("\(source.path): tensor '\(t.name)' is \(t.type.name); the in-memory model holds f32 tensors only")
                }
                if t.elementCount > 0, let base = bytes.baseAddress {
                    let values = base.bindMemory(to: Float.self, capacity: t.elementCount)
                    try source.readRows(t, first: 0, count: t.rowCount, into: values)
                }
                source.finished(t)
                done += 1
                progress?(done, count, t.name)
            }
        }
    }

    /// Metadata only (no tensors): enough for the vocabulary and the architecture checks that
    /// come before converting the weights.
    static func header(of source: ConvertedModel) throws(SwiftGGUFError) -> GGUFFile {
        try wrapped { try GGUFImage.build(name: source.path, metadata: source.metadata, tensors: []) { _, _ in } }
    }
}

extension GGUFModel {
    /// A Hugging Face folder (config.json, safetensors, tokenizer) opened as the f32 GGUF
    /// `hf2gguf --outtype f32` would write, built in memory (`CheckpointImage`): perplexity and
    /// importance matrices run on the checkpoint directly, with the same results as on the file.
    /// - Throws: `SwiftGGUFError` naming the folder, file, tensor or key at fault.
    public convenience init(checkpoint directory: String, options: ConvertOptions = ConvertOptions(),
                            progress: ((Int, Int, String) -> Void)? = nil) throws(SwiftGGUFError) {
        let (file, _) = try CheckpointImage.open(modelDirectory: directory, options: options, progress: progress)
        try self.init(file: file)
    }
}
