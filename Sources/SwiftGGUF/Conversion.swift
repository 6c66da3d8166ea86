import Foundation
import Convert
import GGUF
import HFModel

/// Hugging Face folder → GGUF, as llama.cpp's `convert_hf_to_gguf.py` writes it.
///
/// ```swift
/// var options = ConvertOptions()
/// options.outType = .f32
/// options.outFile = "/tmp/model-f32.gguf"
/// let plan = try Conversion.run(modelDirectory: "Fixtures/tiny-bpe-llama", options: options)
/// print(plan.outputPath, plan.tensors.count)
/// ```
public enum Conversion {
    /// Decides everything the conversion will write (architecture, tensors and their types,
    /// metadata, output path) without writing anything: `hf2gguf --dry-run`.
    /// - Throws: `SwiftGGUFError` naming the folder, file, tensor or key at fault.
    public static func plan(modelDirectory: String, options: ConvertOptions) throws(SwiftGGUFError) -> ConversionPlan {
        let model = try openCheckpoint(modelDirectory, options)
        return try wrapped { try Converter.plan(directory: modelDirectory, options: options, model: model) }
    }

    /// Converts the folder and returns what was written. The output appears only when complete
    /// (written under a temporary name, then renamed); an existing file is replaced only with
    /// `options.force`, and never one of the inputs.
    /// - Parameters:
    ///   - modelDirectory: the Hugging Face folder (config.json, safetensors, tokenizer files).
    ///   - options: output type, path and the other `hf2gguf` flags.
    ///   - planned: called with the plan once it is made, before anything is written.
    ///   - progress: called after each tensor with (tensors done, tensor count, GGUF name).
    public static func run(modelDirectory: String, options: ConvertOptions, planned: ((ConversionPlan) -> Void)? = nil,
                           progress: ((Int, Int, String) -> Void)? = nil) throws(SwiftGGUFError) -> ConversionPlan {
        let model = try openCheckpoint(modelDirectory, options)
        let plan = try wrapped { try Converter.plan(directory: modelDirectory, options: options, model: model) }
        planned?(plan)
        var inputs = model?.files.map(\.path) ?? []
        for f in ["config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"] {
            inputs.append((modelDirectory as NSString).appendingPathComponent(f))
        }
        try OutputPath.check(plan.outputPath, inputs: inputs, force: options.force)
        try wrapped { try Converter.write(plan, directory: modelDirectory, options: options, model: model, progress: progress) }
        return plan
    }

    /// The checkpoint's safetensors (nil for a vocabulary-only conversion).
    static func openCheckpoint(_ dir: String, _ options: ConvertOptions) throws(SwiftGGUFError) -> SafetensorsModel? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw SwiftGGUFError(.invalidInput, "\(dir): not a directory (expected a Hugging Face model folder)")
        }
        if options.vocabOnly { return nil }
        return try wrapped { try SafetensorsModel(directory: dir) }
    }
}
