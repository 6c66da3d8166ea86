import Foundation
import Convert
import Evaluation
import GGUF
import Quants

/// The settings of a quantization sweep (`gguf-sweep`).
public struct SweepOptions: Sendable {
    /// The llama-quantize types to try (`Q8_0`, `Q4_K_M`, ...), in the order given.
    public var types: [QuantOption]
    /// The evaluation text (e.g. wiki.eval.raw): the unquantized model's log-probabilities over it
    /// are computed once, and every quantized model is compared with them.
    public var textPath: String
    /// Context, batch, chunk count, threads and flash attention of the evaluation
    /// (`klDivergenceBase` and `klDivergence` are set by the sweep).
    public var evaluation = PerplexityOptions()
    /// What steers the quantizers (an importance matrix or AWQ), the same for every type.
    public var weighting = Weighting.none
    /// The float type a Hugging Face folder is converted to first (`.f32`, or `.auto` for the
    /// checkpoint's own precision). Ignored for a GGUF input.
    public var convertType: OutType = .f32
    /// Where the temporary files (converted model, base log-probabilities, quantized models) go:
    /// a new folder is made inside it (default: the system's temporary folder).
    public var workDirectory: String?
    /// Keep the temporary folder (and its quantized models) instead of removing it.
    public var keepFiles = false
    /// Threads of the quantizers (the evaluation uses `evaluation.threads`).
    public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// A sweep of `types` over the text at `textPath`.
    public init(types: [QuantOption], textPath: String) {
        self.types = types
        self.textPath = textPath
    }

    /// Parses a comma-separated list of llama-quantize type names (`Q8_0,Q6_K,Q4_K_M`).
    /// - Throws: `SwiftGGUFError` (`.invalidOptions`) naming an unknown, repeated or copy-only type.
    public static func parseTypes(_ list: String) throws(SwiftGGUFError) -> [QuantOption] {
        var out: [QuantOption] = []
        for raw in list.split(separator: ",", omittingEmptySubsequences: false) {
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard let o = QuantOption.parse(name), Int(name) == nil, !o.onlyCopy else {
                throw SwiftGGUFError(.invalidOptions, "unknown quantization type '\(name)' in '\(list)'; valid types: "
                                     + QuantOption.table.filter { !$0.onlyCopy }.map(\.name).joined(separator: ", "))
            }
            guard !out.contains(where: { $0.fileType == o.fileType }) else {
                throw SwiftGGUFError(.invalidOptions, "quantization type '\(name)' is given twice in '\(list)'")
            }
            out.append(o)
        }
        guard !out.isEmpty else { throw SwiftGGUFError(.invalidOptions, "no quantization type given") }
        return out
    }
}

/// One step of a sweep, as reported by ``SweepEvent``.
public enum SweepStage: Sendable, Equatable {
    /// Converting the Hugging Face folder (units: tensors).
    case convert
    /// Computing the unquantized model's log-probabilities (units: chunks).
    case baseline
    /// AWQ calibration for a type (units: decoder blocks).
    case calibrate(String)
    /// Quantizing to a type (units: tensors).
    case quantize(String)
    /// Comparing the quantized model with the base (units: chunks).
    case evaluate(String)
}

/// Progress of a sweep: the current step and the whole sweep, with an estimate of the time left.
public struct SweepProgress: Sendable, Equatable {
    public var stage: SweepStage
    /// Units of this step done, and their count.
    public var done: Int
    public var total: Int
    /// A detail of the step (tensor name, tokens per second).
    public var detail: String
    /// Steps finished and their count (conversion, baseline, then quantize + evaluate per type).
    public var step: Int
    public var steps: Int
    /// Seconds since the sweep started.
    public var elapsedSeconds: Double
    /// The fraction of the whole sweep done (0...1), counting each step as one share.
    public var fraction: Double
    /// Seconds left at the pace so far (nil before anything is done and in the first 5 seconds).
    public var etaSeconds: Double?
}

/// What a sweep reports while it runs.
public enum SweepEvent: Sendable {
    /// A line of information (what is done, each type's figures once measured).
    case message(String)
    /// Progress of the current step and of the whole sweep.
    case progress(SweepProgress)
}

/// The figures of one model of a sweep (the base or one quantized type).
public struct SweepEntry: Codable, Sendable, Equatable {
    /// The llama-quantize type name, or the base's (`F32`, `BF16`, ...).
    public var type: String
    /// Size of the GGUF file in bytes.
    public var fileBytes: Int
    /// Bits per weight: tensor data bits over the model's element count (as llama-quantize prints).
    public var bitsPerWeight: Double
    /// Perplexity over the evaluation chunks and its uncertainty.
    public var perplexity: Double
    public var perplexityUncertainty: Double?
    /// Mean KL-divergence from the base, its uncertainty, and the 99th percentile
    /// (llama-perplexity `--kl-divergence`'s `Mean KLD` and `99.0% KLD`); 0 for the base.
    public var meanKLD: Double
    public var meanKLDUncertainty: Double
    public var kld99: Double
    /// The fraction of scored positions whose most likely token is the base's (`Same top p`).
    public var sameTop: Double
    /// Seconds spent quantizing (with calibration) and evaluating.
    public var quantizeSeconds: Double
    public var evaluateSeconds: Double
    /// True when no other quantized type is both at most as large and at most as divergent
    /// (and better in one of the two): see ``Sweep/paretoFront(_:)``.
    public var paretoOptimal: Bool

    public init(type: String, fileBytes: Int, bitsPerWeight: Double, perplexity: Double, perplexityUncertainty: Double?,
                meanKLD: Double, meanKLDUncertainty: Double, kld99: Double, sameTop: Double, quantizeSeconds: Double,
                evaluateSeconds: Double, paretoOptimal: Bool) {
        self.type = type
        self.fileBytes = fileBytes
        self.bitsPerWeight = bitsPerWeight
        self.perplexity = perplexity
        self.perplexityUncertainty = perplexityUncertainty
        self.meanKLD = meanKLD
        self.meanKLDUncertainty = meanKLDUncertainty
        self.kld99 = kld99
        self.sameTop = sameTop
        self.quantizeSeconds = quantizeSeconds
        self.evaluateSeconds = evaluateSeconds
        self.paretoOptimal = paretoOptimal
    }

    /// Quantize and evaluation time together.
    public var seconds: Double { quantizeSeconds + evaluateSeconds }
}

/// A whole sweep: the base, every type, and the evaluation settings.
public struct SweepResult: Codable, Sendable, Equatable {
    /// The model as given (GGUF file or Hugging Face folder) and its name (`general.name` or the file name).
    public var model: String
    public var modelName: String
    /// The evaluation text as given.
    public var text: String
    public var contextLength: Int
    public var chunks: Int
    public var tokensScored: Int
    /// The weighting, in words (`none`, `imatrix FILE`, `awq CALIB`).
    public var weighting: String
    /// The unquantized model the others are compared with.
    public var base: SweepEntry
    /// One entry per type, in the order of ``SweepOptions/types``.
    public var entries: [SweepEntry]
    /// Seconds for the whole sweep.
    public var seconds: Double

    public init(model: String, modelName: String, text: String, contextLength: Int, chunks: Int, tokensScored: Int,
                weighting: String, base: SweepEntry, entries: [SweepEntry], seconds: Double) {
        self.model = model
        self.modelName = modelName
        self.text = text
        self.contextLength = contextLength
        self.chunks = chunks
        self.tokensScored = tokensScored
        self.weighting = weighting
        self.base = base
        self.entries = entries
        self.seconds = seconds
    }
}

/// Quantizes a model to several types and measures each against the unquantized model: file
/// size, bits per weight, perplexity, KL-divergence (mean and 99th percentile) and same-top-token
/// rate, as `llama-perplexity --kl-divergence` computes them. The base log-probabilities are
/// computed once; each quantized model lives in a temporary folder only while it is measured.
///
/// ```swift
/// var options = SweepOptions(types: try SweepOptions.parseTypes("Q8_0,Q4_K_M"), textPath: "wiki.eval.raw")
/// options.evaluation.chunks = 8
/// let result = try Sweep.run(model: "model-f32.gguf", options: options)
/// try Sweep.write(result, prefix: "/tmp/sweep/model")   // .md, .json, .svg
/// ```
public enum Sweep {
    /// The extensions of the files ``write(_:prefix:force:inputs:)`` writes, in order.
    public static let reportExtensions = ["md", "json", "svg"]

    /// Runs the sweep.
    /// - Parameters:
    ///   - model: a GGUF file (F32, F16 or BF16) or a Hugging Face folder (converted first).
    ///   - options: types, text and evaluation settings.
    ///   - events: progress and information lines.
    /// - Throws: `SwiftGGUFError`: an unreadable text or model, a type that needs an importance
    ///   matrix without one, a text too short for the KL-divergence statistics (100 scored tokens).
    public static func run(model: String, options: SweepOptions,
                           events: ((SweepEvent) -> Void)? = nil) throws(SwiftGGUFError) -> SweepResult {
        guard !options.types.isEmpty else { throw SwiftGGUFError(.invalidOptions, "no quantization type given") }
        guard options.threads > 0 else { throw SwiftGGUFError(.invalidOptions, "threads must be positive, got \(options.threads)") }
        let text = try readText(options.textPath)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir) else {
            throw SwiftGGUFError(.io, "\(model): no such file or folder")
        }
        let work = try makeWorkDirectory(options.workDirectory)
        var registered: [Int] = []
        defer {
            for slot in registered { TemporaryFiles.unregister(slot) }
            if !options.keepFiles { try? FileManager.default.removeItem(atPath: work) }
        }
        func temporary(_ name: String) -> String {
            let p = (work as NSString).appendingPathComponent(name)
            registered.append(TemporaryFiles.register(p))
            return p
        }

        let start = Date()
        let steps = (isDir.boolValue ? 1 : 0) + 1 + 2 * options.types.count
        var step = 0
        func report(_ stage: SweepStage, _ done: Int, _ total: Int, _ detail: String) {
            let part = total > 0 ? min(1, Double(done) / Double(total)) : 0
            let fraction = min(1, (Double(step) + part) / Double(steps))
            let elapsed = Date().timeIntervalSince(start)
            // No estimate in the first seconds: one step's first units say little about the rest.
            let eta: Double? = fraction > 0 && elapsed >= 5 ? elapsed / fraction * (1 - fraction) : nil
            events?(.progress(SweepProgress(stage: stage, done: done, total: total, detail: detail, step: step, steps: steps,
                                            elapsedSeconds: elapsed, fraction: fraction, etaSeconds: eta)))
        }

        // 1. The unquantized GGUF.
        var basePath = model
        if isDir.boolValue {
            var c = ConvertOptions()
            c.outType = options.convertType
            c.outFile = temporary("base-{ftype}.gguf")
            c.threads = options.threads
            events?(.message("sweep: converting '\(model)' to \(options.convertType.rawValue)\n"))
            let plan = try Conversion.run(modelDirectory: model, options: c, progress: { done, total, name in
                report(.convert, done, total, name)
            })
            registered.append(TemporaryFiles.register(plan.outputPath))
            basePath = plan.outputPath
            step += 1
        }
        let baseModel = try GGUFModel(path: basePath)
        let baseType = baseModel.file.metadata[GGUFKey.General.fileType]?.intValue.flatMap { FileType(rawValue: $0)?.name } ?? "base"

        // 2. Every type's plan before any long work: unknown to the model, or needing an importance matrix.
        for t in options.types {
            var r = QuantizationRequest(input: basePath, output: (work as NSString).appendingPathComponent("plan.gguf"), fileType: t.fileType)
            r.weighting = options.weighting
            r.threads = options.threads
            let summary = try Quantization.plan(r)
            if summary.needsImportance && !hasImportance(options.weighting) {
                throw SwiftGGUFError(.invalidOptions, "\(t.name) needs an importance matrix: give --imatrix FILE "
                                     + "(or --awq CALIB.txt with --awq-importance), or drop \(t.name) from the types")
            }
        }

        // 3. The base log-probabilities, once.
        let kldBase = temporary("base.kld")
        var eval = options.evaluation
        eval.klDivergence = false
        eval.klDivergenceBase = kldBase
        events?(.message("sweep: base log-probabilities of '\(basePath)' (\(baseType)) over '\(options.textPath)'\n"))
        let t0 = Date()
        let baseResult = try baseModel.perplexity(text: text, options: eval, progress: { p in
            report(.baseline, p.chunksDone, p.chunks, String(format: "%.0f tok/s", p.tokensPerSecond))
        })
        let baseSeconds = Date().timeIntervalSince(t0)
        guard baseResult.tokensScored >= 100 else {
            throw SwiftGGUFError(.invalidInput, "\(options.textPath): only \(baseResult.tokensScored) tokens scored over "
                                 + "\(baseResult.chunks) chunks of \(baseResult.contextLength); the KL-divergence statistics need "
                                 + "at least 100 (a longer text, more --chunks or a larger context)")
        }
        step += 1
        let baseFile = baseModel.file
        let base = SweepEntry(type: baseType, fileBytes: fileSize(baseFile.splitPaths), bitsPerWeight: bitsPerWeight(baseFile),
                              perplexity: baseResult.perplexity, perplexityUncertainty: baseResult.uncertainty,
                              meanKLD: 0, meanKLDUncertainty: 0, kld99: 0, sameTop: 1, quantizeSeconds: 0,
                              evaluateSeconds: baseSeconds, paretoOptimal: false)
        events?(.message(String(format: "sweep: %@: %.2f MiB, %.3f bpw, PPL %.4f\n", baseType,
                                Double(base.fileBytes) / 1048576, base.bitsPerWeight, base.perplexity)))

        // 4. Each type: quantize, compare, remove.
        var entries: [SweepEntry] = []
        for t in options.types {
            let out = temporary("model-\(t.name).gguf")
            var r = QuantizationRequest(input: basePath, output: out, fileType: t.fileType)
            r.weighting = options.weighting
            r.threads = options.threads
            let q0 = Date()
            _ = try Quantization.run(r) { e in
                switch e {
                case .progress(.awq, let done, let total, let detail): report(.calibrate(t.name), done, total, detail)
                case .progress(.quantize, let done, let total, let detail): report(.quantize(t.name), done, total, detail)
                case .message, .notice: break
                }
            }
            let quantizeSeconds = Date().timeIntervalSince(q0)
            step += 1
            let q = try GGUFModel(path: out)
            var k = options.evaluation
            k.klDivergenceBase = kldBase
            let e0 = Date()
            let result = try q.klDivergence(options: k, progress: { p in
                report(.evaluate(t.name), p.chunksDone, p.chunks, String(format: "%.0f tok/s", p.tokensPerSecond))
            })
            let evaluateSeconds = Date().timeIntervalSince(e0)
            guard let kl = result.klDivergence else {
                throw SwiftGGUFError(.invalidInput, "\(t.name): no KL-divergence statistics (\(result.tokensScored) tokens scored)")
            }
            let entry = SweepEntry(type: t.name, fileBytes: fileSize([out]), bitsPerWeight: bitsPerWeight(q.file),
                                   perplexity: result.perplexity, perplexityUncertainty: result.uncertainty,
                                   meanKLD: kl.meanKLD, meanKLDUncertainty: kl.meanKLDUncertainty,
                                   kld99: kl.kldPercentiles["99.0"] ?? .nan, sameTop: kl.sameTop,
                                   quantizeSeconds: quantizeSeconds, evaluateSeconds: evaluateSeconds, paretoOptimal: false)
            entries.append(entry)
            if !options.keepFiles { try? FileManager.default.removeItem(atPath: out) }
            step += 1
            events?(.message(String(format: "sweep: %@: %.2f MiB, %.3f bpw, PPL %.4f, KLD %.6f (99%%: %.6f), same top %.2f%%, %.1f s\n",
                                    t.name, Double(entry.fileBytes) / 1048576, entry.bitsPerWeight, entry.perplexity,
                                    entry.meanKLD, entry.kld99, 100 * entry.sameTop, entry.seconds)))
        }
        for i in paretoFront(entries.map { ($0.fileBytes, $0.meanKLD) }) { entries[i].paretoOptimal = true }
        if options.keepFiles { events?(.message("sweep: temporary files kept in '\(work)'\n")) }

        let name = baseFile.metadata[GGUFKey.General.name]?.stringValue
            ?? ((model as NSString).lastPathComponent as NSString).deletingPathExtension
        var weighting = "none"
        switch options.weighting {
        case .none: break
        case .importanceMatrix(let path, _): weighting = "imatrix \(path)"
        case .awq(let a): weighting = "awq \(a.calibrationText)"
        }
        return SweepResult(model: model, modelName: name, text: options.textPath, contextLength: baseResult.contextLength,
                           chunks: baseResult.chunks, tokensScored: baseResult.tokensScored, weighting: weighting,
                           base: base, entries: entries, seconds: Date().timeIntervalSince(start))
    }

    /// The indices of the Pareto-optimal points (smaller size and smaller divergence are better):
    /// a point is on the front when no other point is at most as large and at most as divergent,
    /// and strictly better in one of the two. Equal points are all on the front. Returned in
    /// increasing size. A point with a NaN divergence is never on the front.
    public static func paretoFront(_ points: [(size: Int, divergence: Double)]) -> [Int] {
        var front: [Int] = []
        for (i, p) in points.enumerated() where !p.divergence.isNaN {
            let dominated = points.contains { q in
                !q.divergence.isNaN && q.size <= p.size && q.divergence <= p.divergence
                    && (q.size < p.size || q.divergence < p.divergence)
            }
            if !dominated { front.append(i) }
        }
        return front.sorted { (points[$0].size, $0) < (points[$1].size, $1) }
    }

    static func hasImportance(_ w: Weighting) -> Bool {
        switch w {
        case .none: return false
        case .importanceMatrix: return true
        case .awq(let a):
            switch a.mode {
            case .quantizeWithImportance, .quantizeWithImportanceMatrix: return true
            case .quantize, .scaleOnly: return false
            }
        }
    }

    /// The text's bytes, or an error naming the file.
    static func readText(_ path: String) throws(SwiftGGUFError) -> [UInt8] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw SwiftGGUFError(.io, "\(path): no such text file")
        }
        guard let d = FileManager.default.contents(atPath: path) else { throw SwiftGGUFError(.io, "\(path): cannot read the text file") }
        guard !d.isEmpty else { throw SwiftGGUFError(.invalidInput, "\(path): the text file is empty") }
        return [UInt8](d)
    }

    static func makeWorkDirectory(_ parent: String?) throws(SwiftGGUFError) -> String {
        let base = parent ?? NSTemporaryDirectory()
        let dir = (base as NSString).appendingPathComponent("swift-gguf-sweep-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false) } catch {
            throw SwiftGGUFError(.io, "\(dir): cannot create the sweep's temporary folder: \(error.localizedDescription)")
        }
        return dir
    }

    static func fileSize(_ paths: [String]) -> Int {
        paths.reduce(0) { sum, p in
            sum + (((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.intValue ?? 0)
        }
    }

    /// Tensor data bits over elements (llama-quantize's "BPW" of the quant size).
    static func bitsPerWeight(_ f: GGUFFile) -> Double {
        let elements = f.tensors.reduce(0) { $0 + $1.elementCount }
        let bytes = f.tensors.reduce(0) { $0 + $1.byteCount }
        return elements == 0 ? 0 : Double(bytes) * 8 / Double(elements)
    }
}
