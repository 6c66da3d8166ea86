import GGUF
import HFModel
import Quants

extension SafetensorsDType {
    var size: Int { byteSize }
    /// The GGUF type whose bytes are identical to this dtype's.
    var sameBytesType: GGMLType { self == .f32 ? .f32 : self == .f16 ? .f16 : .bf16 }
}

/// Converts one tensor from checkpoint bytes to its GGUF type and streams it into a writer,
/// a bounded chunk at a time (memory does not grow with the tensor), optionally reordering
/// rows for llama.cpp's rope layout first.
final class TensorStreamer {
    /// Elements converted per chunk (16 MiB of f32).
    static let chunkElements = 1 << 22

    let threads: Int
    private var capacity = 0
    private var scratch = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    init(threads: Int) {
        self.threads = max(1, threads)
        reserve(TensorStreamer.chunkElements)
    }

    deinit {
        scratch.deallocate()
        output.deallocate()
    }

    /// Grows the buffers to hold `elements` floats (only for rows longer than a chunk).
    private func reserve(_ elements: Int) {
        guard elements > capacity else { return }
        scratch.deallocate()
        output.deallocate()
        scratch = .allocate(capacity: elements)
        output = .allocate(byteCount: elements * 4, alignment: 64)
        capacity = elements
    }

    /// Old row feeding new row `r` when the rows of each of `heads` groups are interleaved
    /// (HF rotate-half → ggml adjacent pairs): new 2i+j ← old j*(D/2)+i within a head of D rows.
    static func permutedSource(_ r: Int, rows: Int, heads: Int) -> Int {
        let d = rows / heads
        let h = r / d, k = r % d
        let i = k / 2, j = k % 2
        return h * d + j * (d / 2) + i
    }

    /// - Parameters:
    ///   - source: the checkpoint bytes (validated size = product(shape) * dtype size).
    ///   - shape: HF shape, outermost first.
    ///   - heads: interleave rows of dim 0 in this many groups (nil: no permutation).
    ///   - release: called with byte ranges of `source` that will not be read again, so their pages
    ///     can leave the resident set while a large tensor is still being written.
    ///   - shift: added to every element after widening (like gemma.py's `data_torch + 1`: in f32
    ///     for f32/bf16 sources, rounded back to f16 for f16 sources); 0 leaves the values alone.
    func write(source: UnsafeRawBufferPointer, dtype: SafetensorsDType, shape: [Int], to type: GGMLType,
               heads: Int?, shift: Float = 0, writer: GGUFWriter, endTensor: Bool = true,
               release: (Range<Int>) -> Void = { _ in }) throws(GGUFError) {
        let total = shape.reduce(1, *)
        let units = shape.first ?? 1
        let unit = units == 0 ? 0 : total / units
        let rowLength = shape.last ?? 1
        guard total > 0 else { if endTensor { try writer.endTensor() }; return }

        if heads == nil && type == dtype.sameBytesType && shift == 0 {
            // Same bytes: stream straight from the map.
            var off = 0
            let step = TensorStreamer.chunkElements * dtype.size
            while off < source.count {
                let n = min(step, source.count - off)
                try writer.write(UnsafeRawBufferPointer(rebasing: source[off..<(off + n)]))
                release(off..<(off + n))
                off += n
            }
            if endTensor { try writer.endTensor() }
            return
        }

        // Units (dim-0 slices) per chunk: whole quantization rows, at least one unit.
        reserve(unit)
        var unitsPerChunk = max(1, TensorStreamer.chunkElements / max(unit, 1))
        if let h = heads {
            // Whole heads per chunk: the permutation stays inside a head, so each chunk reads
            // exactly its own source rows and they can be released afterwards.
            let perHead = units / h
            unitsPerChunk = max(perHead, unitsPerChunk / perHead * perHead)
            reserve(unitsPerChunk * unit)
        }
        var first = 0
        while first < units {
            let count = min(unitsPerChunk, units - first)
            let elements = count * unit
            if type == dtype.sameBytesType && shift == 0 {
                // Permutation only: gather raw bytes.
                let ub = unit * dtype.size
                for u in 0..<count {
                    let src = heads.map { TensorStreamer.permutedSource(first + u, rows: units, heads: $0) } ?? (first + u)
                    (output.baseAddress! + u * ub).copyMemory(from: source.baseAddress! + src * ub, byteCount: ub)
                }
                try writer.write(UnsafeRawBufferPointer(rebasing: output[0..<(count * ub)]))
            } else {
                try convertChunk(source: source, dtype: dtype, first: first, count: count, unit: unit, units: units,
                                 heads: heads, to: type, rowLength: rowLength, writer: writer, elements: elements,
                                 shift: shift)
            }
            release((first * unit * dtype.size)..<((first + count) * unit * dtype.size))
            first += count
        }
        if endTensor { try writer.endTensor() }
    }

    private func convertChunk(source: UnsafeRawBufferPointer, dtype: SafetensorsDType, first: Int, count: Int, unit: Int,
                              units: Int, heads: Int?, to type: GGMLType, rowLength: Int, writer: GGUFWriter,
                              elements: Int, shift: Float = 0) throws(GGUFError) {
        let dst = scratch.baseAddress!
        let base = source.baseAddress!
        nonisolated(unsafe) let s = dst
        // 1. Source units -> f32 scratch (split over threads).
        let pieces = min(max(1, threads * 4), count)
        parallelFor(chunks: pieces, threads: threads) { p in
            let lo = count * p / pieces, hi = count * (p + 1) / pieces
            for u in lo..<hi {
                let src = heads.map { TensorStreamer.permutedSource(first + u, rows: units, heads: $0) } ?? (first + u)
                let out = s + u * unit
                let from = base + src * unit * dtype.size
                switch dtype {
                case .f32: out.update(from: from.assumingMemoryBound(to: Float.self), count: unit)
                case .f16: FP16.expand(from.assumingMemoryBound(to: UInt16.self), out, count: unit)
                case .bf16: BF16.expand(from.assumingMemoryBound(to: UInt16.self), out, count: unit)
                }
                if shift != 0 {
                    for i in 0..<unit {
                        let v = out[i] + shift
                        out[i] = dtype == .f16 ? FP16.toFloat(FP16.fromFloat(v)) : v
                    }
                }
            }
        }
        // 2. f32 -> output type.
        let outBytes: Int
        switch type {
        case .f32:
            outBytes = elements * 4
            try writer.write(UnsafeRawBufferPointer(start: dst, count: outBytes))
            return
        case .f16, .bf16:
            outBytes = elements * 2
            nonisolated(unsafe) let o = output.baseAddress!.assumingMemoryBound(to: UInt16.self)
            let parts = max(1, min(threads * 4, elements / 4096))
            parallelFor(chunks: parts, threads: threads) { p in
                let lo = elements * p / parts, hi = elements * (p + 1) / parts
                if type == .f16 { FP16.convert(s + lo, o + lo, count: hi - lo) } else { BF16.convert(s + lo, o + lo, count: hi - lo) }
            }
        default:
            let rows = elements / rowLength
            guard let rowBytes = type.rowSize(rowLength) else {
                throw GGUFError(.usage, file: writer.path, "row of \(rowLength) elements does not fit \(type)")
            }
            outBytes = rows * rowBytes
            Quantizer.quantize(type, dst, output.baseAddress!, rows: rows, rowLength: rowLength, threads: threads)
        }
        try writer.write(UnsafeRawBufferPointer(rebasing: output[0..<outBytes]))
    }
}
