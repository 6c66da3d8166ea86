import Dispatch
import Synchronization
import GGUF

/// Runs `body(chunk)` for every chunk in `0..<chunks`, spread over `threads` threads with
/// `DispatchQueue.concurrentPerform`. With one thread or one chunk it runs inline, in order.
public func parallelFor(chunks: Int, threads: Int, _ body: (Int) -> Void) {
    guard chunks > 0 else { return }
    if threads <= 1 || chunks == 1 {
        for i in 0..<chunks { body(i) }
        return
    }
    withoutActuallyEscaping(body) { b in
        nonisolated(unsafe) let f = b
        DispatchQueue.concurrentPerform(iterations: chunks) { f($0) }
    }
}

/// Runs `body(worker, item)` for every item in `0..<items` on up to `threads` workers, which take
/// the items one at a time in order as each finishes the last (so a slow core or an uneven item
/// leaves the others idle for at most one item). `worker` (`0..<min(items, threads)`) is never
/// used by two calls at once: per-worker scratch may be indexed by it.
public func parallelWork(items: Int, threads: Int, _ body: (_ worker: Int, _ item: Int) -> Void) {
    guard items > 0 else { return }
    let workers = Swift.min(items, Swift.max(1, threads))
    if workers == 1 {
        for i in 0..<items { body(0, i) }
        return
    }
    let next = Atomic<Int>(0)
    parallelFor(chunks: workers, threads: workers) { w in
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= items { break }
            body(w, i)
        }
    }
}

/// The block kernels by ggml type: quantization byte-identical with ggml's reference quantizers
/// (and with its importance-weighted ones), and exact dequantization.
public enum Quantizer {
    /// The block family of `t` (from the `BlockFormats` registry), or nil.
    static func format(_ t: GGMLType) -> (any BlockFormat.Type)? { BlockFormats.format(t) }

    /// Whether `quantize` can produce `type`: every family registered in `BlockFormats.all`, the
    /// activation formats q8_K and q8_1 included.
    public static func canQuantize(_ type: GGMLType) -> Bool { format(type) != nil }

    /// Whether llama.cpp quantizes `type` only with an importance matrix
    /// (`ggml_quantize_requires_imatrix`: iq2_xxs, iq2_xs, iq1_s). `quantize` still accepts
    /// such a type without one; the family's notes say what it does then.
    public static func requiresImportance(_ type: GGMLType) -> Bool { format(type)?.requiresImportance ?? false }

    /// Whether `dequantize` can read `type` (the same set as `canQuantize`).
    public static func canDequantize(_ type: GGMLType) -> Bool { canQuantize(type) }

    /// Whether the CPU engine can multiply weights of `type`: it has a dequantizer and a CPU dot
    /// type (`ActivationRounding.dotType(for:)`).
    public static func canMultiply(_ type: GGMLType) -> Bool { format(type)?.dotType != nil }

    /// The types `canMultiply` accepts, in the registration order of `BlockFormats.all` (every
    /// family with a dot type).
    public static var multipliableTypes: [GGMLType] {
        BlockFormats.all.compactMap { f in f.dotType == nil ? nil : f.type }
    }

    /// Quantizes `rows` rows of `rowLength` floats from `src` into `dst` (`rows · type.rowSize(rowLength)`
    /// bytes).
    ///
    /// Without `importance` the bytes equal ggml's `quantize_row_*_ref` (ggml-quants.c); with it (one
    /// value per column, `rowLength` of them) they equal `quantize_*(src, dst, rows, rowLength, imatrix)`,
    /// the call llama-quantize makes: the weighted search of the families with `usesImportance`
    /// (q4_0 … q6_K, q2_K, q3_K, the IQ types); the others ignore it. iq2_xxs, iq2_xs and iq1_s, which ggml
    /// refuses to quantize without importance, use importance 1 then (`requiresImportance`). Rows are split over `threads` threads (about eight
    /// chunks per thread); the bytes do not depend on the thread count.
    /// - Precondition: `type` is quantizable and `rowLength` is a multiple of its block size.
    public static func quantize(_ type: GGMLType, _ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer,
                                rows: Int, rowLength: Int, importance: UnsafePointer<Float>? = nil, threads: Int = 1) {
        quantize(type, src, dst, rows: rows, rowLength: rowLength, importance: importance, threads: threads, reference: false)
    }

    /// `quantize` through the scalar reference twins (for tests and timing).
    static func quantize(_ type: GGMLType, _ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer,
                         rows: Int, rowLength: Int, importance: UnsafePointer<Float>?, threads: Int, reference: Bool) {
        guard rows > 0, rowLength > 0 else { return }
        guard let f = format(type) else { preconditionFailure("cannot quantize to \(type)") }
        guard let rowBytes = type.rowSize(rowLength) else {
            preconditionFailure("row length \(rowLength) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        // Importance goes to the quantizers that use it, one row at a time.
        nonisolated(unsafe) let s = src, d = dst, imp = f.usesImportance ? importance : nil
        let pieces = Swift.min(rows, Swift.max(1, threads) * 8)
        parallelFor(chunks: pieces, threads: threads) { p in
            let lo = rows * p / pieces, hi = rows * (p + 1) / pieces
            guard lo < hi else { return }
            let n = (hi - lo) * rowLength
            let from = s + lo * rowLength
            let to = d + lo * rowBytes
            if let imp {
                for r in 0..<(hi - lo) {
                    let x = from + r * rowLength, y = to + r * rowBytes
                    if reference {
                        f.quantizeReference(x, y, count: rowLength, importance: imp)
                    } else {
                        f.quantize(x, y, count: rowLength, importance: imp)
                    }
                }
            } else if reference {
                f.quantizeReference(from, to, count: n, importance: nil)
            } else {
                f.quantize(from, to, count: n, importance: nil)
            }
        }
    }

    /// Dequantizes `count` elements (a multiple of the block size) of `type` from `src` into `dst`,
    /// exactly as ggml's `to_float` (`dequantize_row_*`, `ggml_fp16_to_fp32_row`, ...) does.
    /// - Precondition: `canDequantize(type)` and `count` is a whole number of blocks.
    public static func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        guard let f = format(type) else { preconditionFailure("cannot dequantize \(type)") }
        precondition(count % f.blockSize == 0, "\(count) elements are not a whole number of \(type) blocks")
        f.dequantize(src, dst, count: count)
    }
}
