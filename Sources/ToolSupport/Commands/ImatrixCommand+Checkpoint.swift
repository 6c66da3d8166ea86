import Foundation
import SwiftGGUF

extension ImatrixCommand {
    /// `-m`: a GGUF file, or a Hugging Face folder or cached model id (resolved as hf2gguf resolves
    /// them), which runs as the f32 GGUF `hf2gguf --outtype f32` would write, built in memory
    /// (`GGUFModel(checkpoint:)`): the sums are those of the file.
    static func openModel(_ path: String, quiet: Bool, console: any Console) throws -> GGUFModel {
        var isDir: ObjCBool = false
        var dir = path
        var options = ConvertOptions()
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { return try GGUFModel(path: path) }
        } else if HubCache.looksLikeModelID(path) {
            do { dir = try HubCache.snapshot(of: path, revision: "main") } catch { throw ToolError.failure(error.description) }
            console.err("gguf-imatrix: \(path) -> \(dir)\n")
            // As hf2gguf with a model id: general.name is the id.
            options.modelName = path
        } else {
            return try GGUFModel(path: path)
        }
        console.err("gguf-imatrix: converting '\(dir)' to f32 in memory (no file written)\n")
        var bar: ProgressLine?
        return try GGUFModel(checkpoint: dir, options: options) { done, total, name in
            if bar == nil {
                bar = ProgressLine(console: console, label: "convert", total: total)
                bar?.quiet = quiet
            }
            bar?.update(done, name)
        }
    }
}
