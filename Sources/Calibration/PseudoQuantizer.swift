import GGUF
import Quants

/// AWQ's `pseudo_quantize_tensor`, but with the real GGUF block formats: quantize rows with the
/// kernels `gguf-quantize` uses (byte-identical with llama-quantize without an imatrix), then
/// dequantize exactly, so a candidate is scored on the very weights the output file will hold.
/// Owns a byte buffer reused between calls; not thread-safe (it threads internally).
final class PseudoQuantizer {
    let threads: Int
    private var bytes: UnsafeMutableRawPointer
    private var capacity: Int

    init(threads: Int) {
        self.threads = max(1, threads)
        capacity = 1 << 16
        bytes = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit { bytes.deallocate() }

    /// `dst = dequantize(quantize(src))` for `rows × columns` values as `type` (f32: a copy).
    /// - Precondition: `columns` is a multiple of the type's block size.
    func roundTrip(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, rows: Int, columns: Int, type: GGMLType) {
        if type == .f32 {
            dst.update(from: src, count: rows * columns)
            return
        }
        guard let rowBytes = type.rowSize(columns) else {
            preconditionFailure("\(columns) columns are not a multiple of the \(type) block size")
        }
        let need = rows * rowBytes
        if need > capacity {
            bytes.deallocate()
            capacity = need
            bytes = .allocate(byteCount: need, alignment: 64)
        }
        Quantizer.quantize(type, src, bytes, rows: rows, rowLength: columns, threads: threads)
        nonisolated(unsafe) let q = UnsafeRawPointer(bytes), d = dst
        let pieces = min(rows, threads * 4)
        parallelFor(chunks: pieces, threads: threads) { p in
            let lo = rows * p / pieces, hi = rows * (p + 1) / pieces
            guard lo < hi else { return }
            Quantizer.dequantize(type, q + lo * rowBytes, d + lo * columns, count: (hi - lo) * columns)
        }
    }

    /// `roundTrip` on an array.
    func roundTrip(_ w: [Float], rows: Int, columns: Int, type: GGMLType) -> [Float] {
        var out = [Float](repeating: 0, count: w.count)
        w.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { roundTrip(s.baseAddress!, $0.baseAddress!, rows: rows, columns: columns, type: type) }
        }
        return out
    }
}
