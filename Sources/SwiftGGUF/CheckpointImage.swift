import Foundation
import Convert
import GGUF
import HFModel
import Quants

/// A Hugging Face folder as the engine's model, without writing a GGUF: the f32 file `hf2gguf
/// --outtype f32` would write (its metadata, tensor table and values) is built in anonymous
/// memory (`GGUFImage`) and opened as a `GGUFFile`. The tensor values come from the converter's
/// plan (`ConvertedModel`: bf16/f16 widened exactly, rope rows permuted, experts stacked).
///
/// Memory: a weight matrix whose values are the checkpoint's own bf16/f16 elements is kept at that
/// width (`ConvertedModel.exactStorage`), and the image is marked `widensFloats`: the engine
/// multiplies those weights as the f32 tensors they stand for (`WeightMatrix.productType`), so
/// every figure is the f32 file's, while memory holds one copy of the checkpoint's weights at its
/// own width, not twice that. Each checkpoint tensor's pages are dropped once it is converted.
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

    /// Converts every tensor of `source` into an in-memory GGUF (named by `source.path`): F32
    /// tensors, except matrices kept at the checkpoint's bf16/f16 width (`widensFloats`).
    public static func build(from source: ConvertedModel,
                             progress: ((Int, Int, String) -> Void)? = nil) throws(SwiftGGUFError) -> GGUFFile {
        let count = source.tensors.count
        var done = 0
        var stored = source.tensors
        for i in stored.indices {
            guard stored[i].type == .f32 else {
                throw SwiftGGUFError(ConvertError("\(source.path): tensor '\(stored[i].name)' is \(stored[i].type.name); "
                                                  + "the in-memory model holds f32 tensors only"))
            }
            stored[i].type = source.exactStorage(stored[i])
        }
        return try wrapped {
            try GGUFImage.build(name: source.path, metadata: source.metadata, tensors: stored, widensFloats: true) { t, bytes in
                if t.elementCount > 0, let base = bytes.baseAddress {
                    try fill(t, base, from: source)
                }
                source.finished(t)
                done += 1
                progress?(done, count, t.name)
            }
        }
    }

    /// Rows read at a time when a tensor is narrowed (about 16 MiB of f32 at most).
    static let narrowingElements = 1 << 22

    /// Writes tensor `t`'s values at its storage type: f32 directly; bf16/f16 through an f32
    /// buffer of a few rows, each value checked to narrow exactly.
    static func fill(_ t: GGUFTensorInfo, _ base: UnsafeMutableRawPointer, from source: ConvertedModel) throws {
        if t.type == .f32 {
            try source.readRows(t, first: 0, count: t.rowCount, into: base.bindMemory(to: Float.self, capacity: t.elementCount))
            return
        }
        let rowLength = t.rowLength, rows = t.rowCount
        let step = Swift.max(1, Swift.min(rows, narrowingElements / Swift.max(1, rowLength)))
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: step * rowLength)
        defer { buffer.deallocate() }
        let out = base.bindMemory(to: UInt16.self, capacity: t.elementCount)
        var first = 0
        while first < rows {
            let n = Swift.min(step, rows - first)
            try source.readRows(t, first: first, count: n, into: buffer)
            let offset = first * rowLength
            if let bad = narrow(buffer, into: out + offset, count: n * rowLength, as: t.type) {
                throw ConvertError("\(source.path): tensor '\(t.name)' element \(offset + bad) does not fit \(t.type.name) exactly")
            }
            first += n
        }
    }

    /// `dst[i] = src[i]` as bf16/f16 bits; the index of the first value that does not round-trip,
    /// or nil.
    static func narrow(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int, as type: GGMLType) -> Int? {
        if type == .bf16 {
            var low: UInt32 = 0
            for i in 0..<count {
                let u = src[i].bitPattern
                low |= u & 0xFFFF
                dst[i] = UInt16(truncatingIfNeeded: u >> 16)
            }
            guard low != 0 else { return nil }
            return (0..<count).first { src[$0].bitPattern & 0xFFFF != 0 }
        }
        FP16.convert(src, dst, count: count)
        for i in 0..<count {
            let back = FP16.toFloat(dst[i])
            if back.bitPattern != src[i].bitPattern && !(back.isNaN && src[i].isNaN) { return i }
        }
        return nil
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
