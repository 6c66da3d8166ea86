import Foundation
import GGUF
import HFModel
import Quants

/// The f32 GGUF an `--outtype f32` conversion would write, without writing it: its metadata and
/// tensor table come from the plan, and any rows of any tensor are converted from the memory-mapped
/// checkpoint when the quantizer asks for them (the same values `Converter.write` would store:
/// widened to f32, rope rows interleaved, shifted, experts stacked, trimmed). hf2gguf's one-pass
/// mode quantizes from it.
public final class ConvertedModel: RowStreamingSource {
    public let path: String
    public let metadata: GGUFMetadata
    public let tensors: [GGUFTensorInfo]
    public var architecture: String? { metadata[GGUFKey.General.architecture]?.stringValue }
    private let planned: [String: PlannedTensor]
    private let index: [String: Int]
    private let model: SafetensorsModel?

    /// - Throws: `ConvertError` when the plan is not an f32 plan (every tensor F32) or the
    ///   checkpoint is missing while tensors need it.
    public init(plan: ConversionPlan, directory: String, model: SafetensorsModel?) throws(ConvertError) {
        for t in plan.tensors where t.type != .f32 {
            throw ConvertError("\(directory): tensor '\(t.ggufName)' is planned as \(t.type.name); the one-pass quantizer reads an f32 plan")
        }
        if model == nil, plan.tensors.contains(where: { $0.generated == nil }) {
            throw ConvertError("\(directory): the conversion plan needs the checkpoint's safetensors")
        }
        path = directory
        metadata = plan.metadata
        tensors = plan.tensors.map { GGUFTensorInfo(name: $0.ggufName, shape: $0.ggmlShape, type: .f32) }
        var p: [String: PlannedTensor] = [:], idx: [String: Int] = [:]
        for (i, t) in plan.tensors.enumerated() {
            p[t.ggufName] = t
            idx[t.ggufName] = i
        }
        planned = p
        index = idx
        self.model = model
    }

    public func tensor(named name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    public func readRows(_ t: GGUFTensorInfo, first: Int, count: Int, into dst: UnsafeMutablePointer<Float>) throws {
        guard let pt = planned[t.name] else { throw ConvertError("\(path): no planned tensor '\(t.name)'") }
        let rowLen = t.rowLength
        let start = first * rowLen, n = count * rowLen
        guard start >= 0, n >= 0, start + n <= pt.elementCount else {
            throw ConvertError("\(path): rows \(first)..<\(first + count) are outside tensor '\(t.name)'")
        }
        try read(pt, elements: start, count: n, into: dst)
    }

    /// The narrowest float type that holds every f32 value `readRows` gives for `t` exactly: BF16
    /// or F16 for a tensor of two or more dimensions whose values are the checkpoint's own bf16/f16
    /// elements (rearranged at most: rope rows permuted, experts stacked, all of one dtype), F32
    /// otherwise (1-D tensors, generated values, shifted norms, f32 sources).
    public func exactStorage(_ t: GGUFTensorInfo) -> GGMLType {
        guard t.shape.count >= 2, let pt = planned[t.name], pt.generated == nil, pt.shift == 0, let st = model else { return .f32 }
        let dtype = pt.sourceDType
        if let sources = pt.expertSources {
            for name in sources {
                guard let src = st.tensor(named: name), (try? st.dtype(of: src)) == dtype else { return .f32 }
            }
        }
        switch dtype {
        case .bf16: return .bf16
        case .f16: return .f16
        case .f32: return .f32
        }
    }

    public func finished(_ t: GGUFTensorInfo) {
        guard let pt = planned[t.name], let st = model else { return }
        for name in pt.expertSources ?? pt.hfName.map({ [$0] }) ?? [] {
            if let src = st.tensor(named: name) { st.release(src) }
        }
    }

    /// Elements `start ..< start + n` of the tensor's f32 values, in storage order.
    func read(_ pt: PlannedTensor, elements start: Int, count n: Int, into dst: UnsafeMutablePointer<Float>) throws {
        if let g = pt.generated {
            guard start + n <= g.count else { throw ConvertError("\(path): generated tensor '\(pt.ggufName)' is too short") }
            g.withUnsafeBufferPointer { dst.update(from: $0.baseAddress! + start, count: n) }
            return
        }
        guard let st = model else { throw ConvertError("\(path): the checkpoint is not open") }
        if let sources = pt.expertSources {
            // Stacked experts: slice e is expert e's own tensor.
            let slice = Array(pt.hfShape.dropFirst())
            let sliceCount = slice.reduce(1, *)
            guard sliceCount > 0 else { return }
            var pos = start
            while pos < start + n {
                let e = pos / sliceCount
                let lo = pos - e * sliceCount
                let hi = min(sliceCount, start + n - e * sliceCount)
                guard e < sources.count, let src = st.tensor(named: sources[e]) else {
                    throw ConvertError("\(path): expert tensor '\(e < sources.count ? sources[e] : "#\(e)")' disappeared from the checkpoint")
                }
                guard src.shape == slice else {
                    throw ConvertError("\(src.file): expert tensor '\(sources[e])' has shape \(src.shape), expected \(slice)")
                }
                let dtype = try st.dtype(of: src)
                let bytes = try st.data(src)
                ConvertedModel.widen(bytes, dtype, from: lo, count: hi - lo, shift: 0, into: dst + (pos - start))
                pos += hi - lo
            }
            return
        }
        guard let name = pt.hfName, let src = st.tensor(named: name) else {
            throw ConvertError("\(path): tensor '\(pt.hfName ?? pt.ggufName)' disappeared from the checkpoint")
        }
        let bytes = try st.data(src)
        guard bytes.count >= pt.elementCount * pt.sourceDType.size else {
            throw ConvertError("\(src.file): tensor '\(name)' holds \(bytes.count) bytes, expected at least \(pt.elementCount * pt.sourceDType.size)")
        }
        if let heads = pt.permuteHeads {
            // Rope rows: row u of the output is row permutedSource(u) of the checkpoint.
            let units = pt.hfShape.first ?? 1
            let unit = units == 0 ? 0 : pt.elementCount / units
            guard unit > 0 else { return }
            var pos = start
            while pos < start + n {
                let u = pos / unit, off = pos % unit
                let len = min(unit - off, start + n - pos)
                let su = TensorStreamer.permutedSource(u, rows: units, heads: heads)
                ConvertedModel.widen(bytes, pt.sourceDType, from: su * unit + off, count: len, shift: pt.shift, into: dst + (pos - start))
                pos += len
            }
        } else {
            ConvertedModel.widen(bytes, pt.sourceDType, from: start, count: n, shift: pt.shift, into: dst)
            // Pages behind the rows just read are not needed again.
            if let mapping = st.files.first(where: { $0.path == src.file })?.mapping {
                let base = src.byteRange.lowerBound, size = pt.sourceDType.size
                mapping.release((base + start * size)..<(base + (start + n) * size))
            }
        }
    }

    /// Checkpoint elements `from ..< from + count` → f32, with `TensorStreamer`'s shift (rounded
    /// back to f16 for f16 sources).
    static func widen(_ bytes: UnsafeRawBufferPointer, _ dtype: SafetensorsDType, from: Int, count: Int, shift: Float,
                      into out: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        let p = bytes.baseAddress! + from * dtype.size
        switch dtype {
        case .f32: out.update(from: p.assumingMemoryBound(to: Float.self), count: count)
        case .f16: FP16.expand(p.assumingMemoryBound(to: UInt16.self), out, count: count)
        case .bf16: BF16.expand(p.assumingMemoryBound(to: UInt16.self), out, count: count)
        }
        if shift != 0 {
            for i in 0..<count {
                let v = out[i] + shift
                out[i] = dtype == .f16 ? FP16.toFloat(FP16.fromFloat(v)) : v
            }
        }
    }
}

extension Converter {
    /// The output path of a conversion whose file-type label is `label` ("Q4_K_M"): `--outfile`
    /// with `{ftype}` filled in (a folder gets the default name inside it), else the default name
    /// `<name>-<size>-<label>.gguf` in the model folder, from the plan's `general.*` keys.
    public static func outputPath(directory: String, options: ConvertOptions, label: String, metadata md: GGUFMetadata) -> String {
        func s(_ k: String) -> String? { md[k]?.stringValue }
        let name = ModelNaming.defaultFileName(name: s(GGUFKey.General.name), basename: s(GGUFKey.General.basename),
                                               finetune: s(GGUFKey.General.finetune), version: s(GGUFKey.General.version),
                                               sizeLabel: s(GGUFKey.General.sizeLabel), outputType: label, vocabOnly: false) + ".gguf"
        if let f = options.outFile {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: f, isDirectory: &isDir), isDir.boolValue {
                return (f as NSString).appendingPathComponent(name)
            }
            let dir = (f as NSString).deletingLastPathComponent
            let file = ModelNaming.fillTemplate((f as NSString).lastPathComponent, outputType: label)
            return dir.isEmpty ? file : (dir as NSString).appendingPathComponent(file)
        }
        return (directory as NSString).appendingPathComponent(name)
    }
}
