import Foundation
import GGUF
import Quants

/// `gguf-quantize --keep-split`, as llama-quantize b10572 writes it: a split input (opened by its
/// first file, `NAME-00001-of-0000N.gguf`) gives a split output with the same tensors in each file.
/// Tensors are planned and written in input order, file after file; the output name loses its
/// `.gguf` and each file is `OUT-0000i-of-0000N.gguf`. The first file has every key, ending with
/// `split.no` (UINT16), `split.count` (UINT16), `split.tensors.count` (INT32); the others only these
/// three.
extension Quantization {
    /// The split files for the output `output` (llama-quantize cuts the last five characters when
    /// the name contains `.gguf`).
    public static func keepSplitPaths(output: String, count: Int) -> [String] {
        let prefix = output.contains(".gguf") ? String(output.dropLast(5)) : output
        return (0..<count).map { GGUFSplitNaming.path(prefix: prefix, index: $0, count: count) }
    }

    /// The plan of a `--keep-split` run and its files, writing nothing (`--dry-run`).
    public static func planKeepingSplit(_ request: QuantizationRequest, events: ((QuantizationEvent) -> Void)? = nil)
        throws(SwiftGGUFError) -> (summary: QuantizeSummary, outputs: [String]) {
        let file = try openSplit(request.input)
        var job = try prepare(request, file: file, events: events)
        job.options.keepInputOrder = true
        let summary = try wrapped { try ModelQuantizer.plan(file, job: job, checking: false) }
        let parts = try layout(file, summary, output: request.output)
        return (summary, parts.map(\.path))
    }

    /// Quantizes a split model into as many files (`--keep-split`); every file appears only once
    /// all are complete.
    public static func runKeepingSplit(_ request: QuantizationRequest, events: ((QuantizationEvent) -> Void)? = nil)
        throws(SwiftGGUFError) -> (report: QuantizationReport, outputs: [String]) {
        let file = try openSplit(request.input)
        var job = try prepare(request, file: file, events: events)
        job.options.keepInputOrder = true
        var calibrationSeconds = 0.0
        if case .awq(let awq) = request.weighting {
            let start = Date()
            try calibrate(file, awq, job: &job, threads: request.threads, events: events)
            job.options.keepInputOrder = true
            calibrationSeconds = Date().timeIntervalSince(start)
        }
        let summary = try wrapped { try ModelQuantizer.plan(file, job: job) }
        let parts = try layout(file, summary, output: request.output)
        for p in parts { try OutputPath.check(p.path, inputs: file.splitPaths, force: request.replaceExisting) }
        events?(.notice("quantizing '\(request.input)' to '\(parts[0].path)' (+\(parts.count - 1) files) as "
                        + "\(request.onlyCopy ? "COPY" : job.options.fileType.name) using \(request.threads) threads\n"))
        job.progress = { i, n, name in events?(.progress(.quantize, i, n, name)) }
        let start = Date()
        var writers: [GGUFWriter] = []
        do {
            for p in parts { writers.append(try GGUFWriter(path: p.path, metadata: p.metadata, tensors: p.tensors)) }
        } catch {
            for w in writers { w.abort() }
            throw SwiftGGUFError(error)
        }
        let sink = SequentialWriters(writers)
        do {
            try ModelQuantizer.run(file, job: job, summary: summary, sink: sink)
            try sink.finish(replace: request.replaceExisting)
        } catch {
            sink.abort()
            throw SwiftGGUFError(error)
        }
        let report = QuantizationReport(summary: summary, quantizeSeconds: Date().timeIntervalSince(start),
                                        calibrationSeconds: calibrationSeconds)
        return (report, parts.map(\.path))
    }

    /// The input, which must be a split model: a file with `split.*` keys (gguf-split's output, one
    /// file of one included: the output is then `OUT-00001-of-00001.gguf` without split keys, as
    /// llama-quantize writes it). A plain file is refused (llama-quantize would write
    /// `OUT-00001-of-00001.gguf` for it too, which is almost certainly not what was meant).
    static func openSplit(_ path: String) throws(SwiftGGUFError) -> GGUFFile {
        let file = try wrapped { try GGUFFile.openModel(path: path) }
        guard !file.otherSplits.isEmpty || file.metadata[GGUFKey.Split.count] != nil else {
            throw SwiftGGUFError(.invalidOptions, "\(path): --keep-split needs a split model (its first file, "
                                 + "NAME-00001-of-0000N.gguf, as gguf-split writes it), and this file is not split; drop --keep-split")
        }
        return file
    }

    struct SplitPart {
        var path: String
        var metadata: GGUFMetadata
        var tensors: [GGUFTensorInfo]
    }

    /// Each planned tensor goes to the file number of its input file.
    static func layout(_ file: GGUFFile, _ summary: QuantizeSummary, output: String) throws(SwiftGGUFError) -> [SplitPart] {
        var groups: [[GGUFTensorInfo]] = []
        for p in summary.plans {
            guard let t = file.tensor(named: p.sourceName) else { continue }
            let holder = file.file(holding: t)
            let index = holder === file ? 0 : (file.otherSplits.firstIndex { $0 === holder } ?? 0) + 1
            guard index >= groups.count - 1 else {
                throw SwiftGGUFError(.invalidInput, "\(file.path): tensor '\(t.name)' is out of file order")
            }
            while groups.count <= index { groups.append([]) }
            groups[index].append(GGUFTensorInfo(name: p.name, shape: p.shape, type: p.targetType))
        }
        if let empty = groups.firstIndex(where: \.isEmpty) {
            throw SwiftGGUFError(.invalidOptions, "\(file.path): with --keep-split, output file \(empty + 1) would hold no tensor "
                                 + "(every tensor of input file \(empty + 1) is pruned)")
        }
        let paths = keepSplitPaths(output: output, count: groups.count)
        let total = groups.reduce(0) { $0 + $1.count }
        return groups.enumerated().map { i, tensors in
            var md = i == 0 ? summary.metadata : GGUFMetadata()
            if groups.count > 1 {
                md.setMovingToEnd(GGUFKey.Split.no, .uint16(UInt16(i)))
                md.setMovingToEnd(GGUFKey.Split.count, .uint16(UInt16(groups.count)))
                md.setMovingToEnd(GGUFKey.Split.tensorsCount, .int32(Int32(clamping: total)))
            }
            return SplitPart(path: paths[i], metadata: md, tensors: tensors)
        }
    }
}
