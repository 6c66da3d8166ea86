import Foundation
import Architectures
import GGUF
import HFModel
import Quants

/// Options of `hf2gguf` (convert_hf_to_gguf.py's flags).
public struct ConvertOptions: Sendable {
    public var outType: OutType = .f16
    /// `--outfile`; nil writes `<naming convention>.gguf` inside the model folder. `{ftype}` is filled in.
    public var outFile: String?
    public var vocabOnly = false
    /// `--model-name`: overrides general.name.
    public var modelName: String?
    public var force = false
    public var threads = 2

    public init() {}
}

/// What a conversion will write (`--dry-run` prints it).
public struct ConversionPlan: Sendable {
    public let architecture: String
    public let outType: OutType
    public let outputPath: String
    public let metadata: GGUFMetadata
    public let tensors: [PlannedTensor]
    public let notes: [String]

    public var totalParameters: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    public var outputBytes: Int { tensors.reduce(0) { $0 + ($1.type.byteCount(shape: $1.ggmlShape) ?? 0) } }
}

/// Hugging Face folder → GGUF, as llama.cpp's convert_hf_to_gguf.py (b4748) writes it.
public enum Converter {
    /// Reads config.json, the checkpoint's headers and the tokenizer, and decides everything:
    /// architecture table, tensor names/types/order, metadata in order, output path.
    public static func plan(directory: String, options: ConvertOptions, model: SafetensorsModel? = nil) throws(ConvertError) -> ConversionPlan {
        var config: ModelConfig
        do { config = try ModelConfig(directory: directory) } catch { throw ConvertError(error.description) }
        let hfArch: String
        do {
            guard let a = try config.architecture() else { throw ConvertError("\(config.path): 'architectures' is missing") }
            hfArch = a
        } catch let e as ConvertError { throw e } catch { throw ConvertError(String(describing: error)) }
        guard let spec = ArchitectureSpec.named(hfArch) else {
            throw ConvertError("\(config.path): architecture '\(hfArch)' is not supported; supported: \(ArchitectureSpec.supportedNames.joined(separator: ", "))")
        }
        let rawConfig = config
        config = try ConfigDefaults.apply(spec.converter.configDefaults, to: config)
        let dims = try ModelDims(config: config)

        var outType = options.outType
        var tensors: [PlannedTensor] = []
        var longRopeAttnFactor: Float?
        if !options.vocabOnly {
            let st: SafetensorsModel
            if let model { st = model } else {
                do { st = try SafetensorsModel(directory: directory) } catch { throw ConvertError(error.description) }
            }
            if outType == .auto {
                // b10572's heuristic: the first tensor of two or more dimensions stored as bf16 or
                // f16 decides; when every such tensor is f32 (or another dtype), F16.
                outType = .f16
                for t in st.tensors where t.shape.count >= 2 {
                    let d = try? st.dtype(of: t)
                    if d == .bf16 { outType = .bf16; break }
                    if d == .f16 { outType = .f16; break }
                }
            }
            var extra: [PlannedTensor] = []
            if spec.converter.generatesLlama3RopeFreqs, let factors = try TensorPlanning.llama3RopeFactors(config: config, dims: dims) {
                extra.append(PlannedTensor(ggufName: TensorName.ropeFreqs.weight(), hfName: nil, hfShape: [factors.count],
                                           sourceDType: .f32, type: .f32, permuteHeads: nil, generated: factors))
            }
            if spec.converter.parameters == .phi3, let lr = try Hyperparameters.phi3LongRope(config: config, dims: dims) {
                longRopeAttnFactor = lr.attnFactor
                for (name, values) in [(TensorName.ropeFactorsLong, lr.long), (.ropeFactorsShort, lr.short)] {
                    extra.append(PlannedTensor(ggufName: name.weight(), hfName: nil, hfShape: [values.count],
                                               sourceDType: .f32, type: .f32, permuteHeads: nil, generated: values))
                }
            }
            do {
                tensors = try TensorPlanning.plan(model: st, spec: spec, dims: dims, outType: outType,
                                                  configPath: config.path, extra: extra)
            } catch {
                throw ConfigDefaults.explainShapeError(error, table: spec.converter.configDefaults, raw: rawConfig, filled: config)
            }
        } else if outType == .auto {
            outType = .f16
        }

        let total = tensors.reduce(0) { $0 + $1.elementCount }
        let split = ParameterSplit(tensors)
        var notes: [String] = []
        var general = GeneralMetadata.gather(directory: directory,
                                             card: ModelCard.load(directory: directory) { notes.append($0) },
                                             nameOrPath: config["_name_or_path"]?.string, totalParams: total,
                                             shared: split.shared, expert: split.expert, expertCount: split.expertCount)
        if let n = options.modelName { general.name = n }

        var md = GGUFMetadata()
        md.set(GGUFKey.General.architecture, .string(spec.arch))
        // Phi-3 writes this key while generating its extra tensors, before any other metadata.
        if let f = longRopeAttnFactor { md.set(GGUFKey.LLM.ropeScalingAttnFactors(spec.arch), .float32(f)) }
        md.set(GGUFKey.General.type, .string("model"))
        for kv in general.keyValues() { md.set(kv.key, kv.value) }
        for kv in try Hyperparameters.metadata(config: config, spec: spec, fileType: outType.fileType) { md.set(kv.key, kv.value) }
        // b10572: `prepare_metadata` writes the quantization version right after the parameters;
        // the vocabulary follows (b4748 wrote it last).
        md.set(GGUFKey.General.quantizationVersion, .uint32(2))
        var vocab = VocabBuilder(directory: directory, config: config, spec: spec)
        for kv in try vocab.build() { md.set(kv.key, kv.value) }
        notes += vocab.notes

        let output = outputPath(directory: directory, options: options, outType: outType, general: general)
        return ConversionPlan(architecture: spec.arch, outType: outType, outputPath: output, metadata: md,
                              tensors: tensors, notes: notes)
    }

    static func outputPath(directory: String, options: ConvertOptions, outType: OutType, general: GeneralMetadata) -> String {
        if let f = options.outFile {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: f, isDirectory: &isDir), isDir.boolValue {
                return (f as NSString).appendingPathComponent(defaultName(general, outType, options.vocabOnly))
            }
            let dir = (f as NSString).deletingLastPathComponent
            let name = ModelNaming.fillTemplate((f as NSString).lastPathComponent, outputType: outType.label)
            return dir.isEmpty ? name : (dir as NSString).appendingPathComponent(name)
        }
        return (directory as NSString).appendingPathComponent(defaultName(general, outType, options.vocabOnly))
    }

    static func defaultName(_ g: GeneralMetadata, _ t: OutType, _ vocabOnly: Bool) -> String {
        ModelNaming.defaultFileName(name: g.name, basename: g.basename, finetune: g.finetune, version: g.version,
                                    sizeLabel: vocabOnly ? nil : g.sizeLabel, outputType: vocabOnly ? nil : t.label,
                                    vocabOnly: vocabOnly) + ".gguf"
    }

    /// Writes the planned file: one tensor at a time, each streamed in bounded chunks from the
    /// memory-mapped checkpoint, whose pages are released after use.
    public static func write(_ plan: ConversionPlan, directory: String, options: ConvertOptions, model: SafetensorsModel? = nil,
                             progress: ((Int, Int, String) -> Void)? = nil) throws {
        let st: SafetensorsModel?
        if plan.tensors.contains(where: { $0.hfName != nil || $0.expertSources != nil }) {
            if let model { st = model } else { st = try SafetensorsModel(directory: directory) }
        } else {
            st = nil
        }
        let infos = plan.tensors.map { GGUFTensorInfo(name: $0.ggufName, shape: $0.ggmlShape, type: $0.type) }
        let writer = try GGUFWriter(path: plan.outputPath, metadata: plan.metadata, tensors: infos)
        let streamer = TensorStreamer(threads: options.threads)
        for (i, t) in plan.tensors.enumerated() {
            if let g = t.generated {
                try g.withUnsafeBytes { try streamer.write(source: $0, dtype: .f32, shape: t.hfShape, to: t.type, heads: nil, writer: writer) }
            } else if let st, let sources = t.expertSources {
                try writeStacked(t, sources: sources, model: st, streamer: streamer, writer: writer, directory: directory)
            } else if let st, let name = t.hfName, let src = st.tensor(named: name) {
                let whole = try st.data(src)
                // A trimmed tensor (Gemma 3's embedding) keeps the leading rows.
                let kept = t.elementCount * t.sourceDType.size
                let bytes = kept < whole.count ? UnsafeRawBufferPointer(rebasing: whole[0..<kept]) : whole
                let mapping = st.files.first { $0.path == src.file }?.mapping
                let base = src.byteRange.lowerBound
                try streamer.write(source: bytes, dtype: t.sourceDType, shape: t.hfShape, to: t.type, heads: t.permuteHeads,
                                   shift: t.shift, writer: writer) { r in mapping?.release((base + r.lowerBound)..<(base + r.upperBound)) }
                st.release(src)
            } else {
                throw ConvertError("\(directory): tensor '\(t.hfName ?? t.ggufName)' disappeared from the checkpoint")
            }
            progress?(i + 1, plan.tensors.count, t.ggufName)
        }
        try writer.finish(replace: options.force)
    }
}
