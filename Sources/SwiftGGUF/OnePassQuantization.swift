import Foundation
import Convert
import GGUF
import HFModel
import Quants

/// How a one-pass output is split (hf2gguf's `--split-max-tensors` / `--split-max-size` /
/// `--no-tensor-first-split`, as convert_hf_to_gguf.py splits its output).
public struct OutputSplit: Sendable, Equatable {
    /// At most this many tensors per file (0: no limit).
    public var maxTensors = 0
    /// At most this many bytes of tensor data per file (0: no limit).
    public var maxBytes = 0
    /// The first file holds only the metadata.
    public var noTensorsInFirst = false

    public init(maxTensors: Int = 0, maxBytes: Int = 0, noTensorsInFirst: Bool = false) {
        self.maxTensors = maxTensors
        self.maxBytes = maxBytes
        self.noTensorsInFirst = noTensorsInFirst
    }
}

/// Hugging Face folder → quantized GGUF in one pass: `hf2gguf MODEL_DIR --outtype Q4_K_M`.
public struct OnePassRequest: Sendable {
    public var modelDirectory: String
    /// `--outfile` (`{ftype}` becomes the type name), `--model-name`, `--force`, `--threads`; the
    /// outtype is ignored (the f32 conversion is what is quantized).
    public var convert: ConvertOptions
    /// The quantization (type, `--imatrix`, `--tensor-type`, `--pure`, ...); `input` and `output`
    /// are ignored. AWQ calibration runs on the checkpoint directly (its f32 conversion built in
    /// memory, `CheckpointImage`), then the quantized file is streamed.
    public var quantization: QuantizationRequest
    /// The type's name as given to `--outtype` ("Q4_K_M"): the `{ftype}` of file names.
    public var typeLabel: String
    public var split: OutputSplit?

    public init(modelDirectory: String, quantization: QuantizationRequest, typeLabel: String) {
        self.modelDirectory = modelDirectory
        self.convert = ConvertOptions()
        self.quantization = quantization
        self.typeLabel = typeLabel
    }
}

/// What a one-pass run planned or wrote.
public struct OnePassReport: Sendable {
    /// The f32 conversion that was quantized (never written).
    public var conversion: ConversionPlan
    public var summary: QuantizeSummary
    /// The files written (one, or the split files in order).
    public var outputPaths: [String]
    public var seconds: Double
    /// Seconds of AWQ calibration, the in-memory f32 model included (0 without AWQ).
    public var calibrationSeconds: Double = 0
}

/// One pass from a Hugging Face folder to a quantized GGUF, with no intermediate file: the f32
/// model `hf2gguf --outtype f32` would write is planned (metadata, tensor names and shapes) but not
/// written, the quantizer plans its types from that, and each tensor is read from the checkpoint,
/// converted and quantized a chunk of rows at a time. The bytes are those of `hf2gguf --outtype
/// f32` followed by `gguf-quantize` with the same options (and, with `split`, then cut as hf2gguf
/// cuts its output).
public enum OnePassQuantization {
    /// Plans without writing (the output paths included).
    public static func plan(_ r: OnePassRequest, events: ((QuantizationEvent) -> Void)? = nil) throws(SwiftGGUFError) -> OnePassReport {
        let (conversion, source, _) = try open(r)
        let job = try Quantization.prepare(r.quantization, file: source, events: events)
        let summary = try wrapped { try ModelQuantizer.plan(source, job: job, checking: false) }
        let path = Converter.outputPath(directory: r.modelDirectory, options: r.convert, label: r.typeLabel, metadata: conversion.metadata)
        let parts = layout(summary, split: r.split, path: path)
        return OnePassReport(conversion: conversion, summary: summary, outputPaths: parts.map(\.path), seconds: 0)
    }

    /// Converts and quantizes `r.modelDirectory`; every output file appears only once all are
    /// complete.
    public static func run(_ r: OnePassRequest, events: ((QuantizationEvent) -> Void)? = nil) throws(SwiftGGUFError) -> OnePassReport {
        let start = Date()
        let (conversion, source, model) = try open(r)
        var job = try Quantization.prepare(r.quantization, file: source, events: events)
        var summary = try wrapped { try ModelQuantizer.plan(source, job: job) }
        let path = Converter.outputPath(directory: r.modelDirectory, options: r.convert, label: r.typeLabel, metadata: conversion.metadata)
        var parts = layout(summary, split: r.split, path: path)
        var inputs = model?.files.map(\.path) ?? []
        for f in ["config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json"] {
            inputs.append((r.modelDirectory as NSString).appendingPathComponent(f))
        }
        for p in parts { try OutputPath.check(p.path, inputs: inputs, force: r.quantization.replaceExisting || r.convert.force) }
        var calibrationSeconds = 0.0
        if case .awq(let awq) = r.quantization.weighting {
            // Calibrated on the checkpoint (its f32 conversion in memory), then planned again: a
            // scale-only run keeps the float types, which may change the split.
            let calibrationStart = Date()
            try calibrate(source, awq, job: &job, threads: r.quantization.threads, events: events)
            calibrationSeconds = Date().timeIntervalSince(calibrationStart)
            summary = try wrapped { try ModelQuantizer.plan(source, job: job) }
            parts = layout(summary, split: r.split, path: path)
            for p in parts { try OutputPath.check(p.path, inputs: inputs, force: r.quantization.replaceExisting || r.convert.force) }
        }
        events?(.notice("quantizing '\(r.modelDirectory)' to '\(parts[0].path)'\(parts.count > 1 ? " (+\(parts.count - 1) files)" : "") "
                        + "as \(r.quantization.onlyCopy ? "COPY" : job.options.fileType.name) in one pass using \(job.threads) threads\n"))
        job.progress = { i, n, name in events?(.progress(.quantize, i, n, name)) }
        var writers: [GGUFWriter] = []
        do {
            for p in parts { writers.append(try GGUFWriter(path: p.path, metadata: p.metadata, tensors: p.tensors)) }
        } catch {
            for w in writers { w.abort() }
            throw SwiftGGUFError(error)
        }
        let sink = SequentialWriters(writers)
        do {
            try ModelQuantizer.run(streaming: source, job: job, summary: summary, sink: sink)
            try sink.finish(replace: r.quantization.replaceExisting || r.convert.force)
        } catch {
            sink.abort()
            throw SwiftGGUFError(error)
        }
        return OnePassReport(conversion: conversion, summary: summary, outputPaths: parts.map(\.path),
                             seconds: Date().timeIntervalSince(start), calibrationSeconds: calibrationSeconds)
    }

    /// The f32 conversion plan and the model it describes.
    static func open(_ r: OnePassRequest) throws(SwiftGGUFError) -> (ConversionPlan, ConvertedModel, SafetensorsModel?) {
        var options = r.convert
        options.outType = .f32
        options.vocabOnly = false
        let model = try Conversion.openCheckpoint(r.modelDirectory, options)
        let plan = try wrapped { try Converter.plan(directory: r.modelDirectory, options: options, model: model) }
        let source = try wrapped { try ConvertedModel(plan: plan, directory: r.modelDirectory, model: model) }
        return (plan, source, model)
    }

    /// One output file: its path, keys and tensors.
    struct Part {
        var path: String
        var metadata: GGUFMetadata
        var tensors: [GGUFTensorInfo]
    }

    /// The quantized file as `ModelQuantizer.run` writes it, cut like hf2gguf cuts its output
    /// (`GGUFSplitter.planLikeGGUFPy`): one part when there is no split or everything fits.
    static func layout(_ summary: QuantizeSummary, split: OutputSplit?, path: String) -> [Part] {
        let infos = summary.plans.map { GGUFTensorInfo(name: $0.name, shape: $0.shape, type: $0.targetType) }
        guard let split else { return [Part(path: path, metadata: summary.metadata, tensors: infos)] }
        let parts = GGUFSplitter.planLikeGGUFPy(metadata: summary.metadata, tensors: infos, maxTensors: split.maxTensors,
                                                maxBytes: split.maxBytes, smallFirstShard: split.noTensorsInFirst)
        let paths = GGUFSplitter.ggufPyShardPaths(path, count: parts.count)
        return zip(paths, parts).map { Part(path: $0, metadata: $1.metadata, tensors: $1.tensors) }
    }
}
