import GGUF

/// A weight matrix as ggml stores it: `rows` rows (output features) of `columns` elements
/// (input features) of `type`, each row `rowBytes` apart, typically inside a memory map.
/// The value does not own the memory; whoever made it keeps the bytes alive.
///
/// `productType` is the type whose matrix product the weights take: `type` itself, or `.f32` for
/// f16/bf16 storage of an f32 tensor's exact values (a Hugging Face checkpoint opened in memory
/// keeps its bf16/f16 weights at their width, `GGUFFile.widensFloats`). Such weights meet f32
/// activations in the f32 order, so every product equals the f32 tensor's bit for bit; only the
/// rows are widened as they are read.
public struct WeightMatrix {
    public let type: GGMLType
    public let productType: GGMLType
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer
    public let rowBytes: Int

    /// - Precondition: `columns` is a multiple of the type's block size, `rowBytes` at least one
    ///   packed row, `Quantizer.canDequantize(type)`, and `productType` (default `type`) is
    ///   `type` or `.f32` for f16/bf16 storage.
    public init(type: GGMLType, rows: Int, columns: Int, data: UnsafeRawPointer, rowBytes: Int? = nil,
                productType: GGMLType? = nil) {
        guard let packed = type.rowSize(columns) else {
            preconditionFailure("\(columns) columns are not a multiple of the \(type) block size \(type.blockSize)")
        }
        precondition(Quantizer.canDequantize(type), "no dequantizer for \(type)")
        precondition(rows >= 0 && (rowBytes ?? packed) >= packed, "row stride shorter than a row of \(type)")
        let product = productType ?? type
        precondition(product == type || (product == .f32 && (type == .f16 || type == .bf16)),
                     "\(type) weights cannot take the products of \(product)")
        self.type = type
        self.productType = product
        self.rows = rows
        self.columns = columns
        self.data = data
        self.rowBytes = rowBytes ?? packed
    }

    /// Rows `[first, first + count)` as a matrix of their own (same type, product type and stride).
    public func rowSlice(_ first: Int, _ count: Int) -> WeightMatrix {
        precondition(first >= 0 && count >= 0 && first + count <= rows, "rows \(first)..<\(first + count) outside \(rows)")
        return WeightMatrix(type: type, rows: count, columns: columns, data: data + first * rowBytes, rowBytes: rowBytes,
                            productType: productType)
    }

    /// Dequantizes columns `[k0, k0+count)` of row `row` (block-aligned) into `dst`.
    @inline(__always)
    public func dequantize(row: Int, k0: Int, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let bs = type.blockSize
        let src = data + row * rowBytes + (k0 / bs) * type.typeSize
        switch type {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16: FP16.expand(src.assumingMemoryBound(to: UInt16.self), dst, count: count)
        default: Quantizer.dequantize(type, src, dst, count: count)
        }
    }

    /// Packs rows `[row0, row0+32)` × columns `[k0, k0+k)` as the B panel of `MicroKernel.tile`
    /// (`panel[kk·32 + r]`), zero for rows past the end. `scratch` holds 32·k floats.
    /// Eight rows at a time go through 8 × 8 transposes (`LaneTranspose.store`);
    /// `packPanelReference` is the element-by-element twin.
    public func packPanel(row0: Int, k0: Int, k: Int, scratch: UnsafeMutablePointer<Float>,
                          into panel: UnsafeMutablePointer<Float>) {
        let nr = MicroKernel.nr
        let valid = Swift.max(0, Swift.min(nr, rows - row0))
        if type != .f32 {
            for r in 0..<valid { dequantize(row: row0 + r, k0: k0, count: k, into: scratch + r * k) }
        }
        @inline(__always) func source(_ r: Int) -> UnsafeRawPointer {
            type == .f32 ? data + (row0 + r) * rowBytes + 4 * k0 : UnsafeRawPointer(scratch + r * k)
        }
        let out = UnsafeMutableRawPointer(panel)
        let k8 = k & ~7
        for r0 in stride(from: 0, to: nr, by: 8) {
            if r0 + 8 <= valid {
                let rows = (source(r0), source(r0 + 1), source(r0 + 2), source(r0 + 3),
                            source(r0 + 4), source(r0 + 5), source(r0 + 6), source(r0 + 7))
                var kk = 0
                while kk < k8 {
                    LaneTranspose.store(rows, byteOffset: 4 * kk, out + 4 * (kk * nr + r0), laneStride: 4 * nr)
                    kk += 8
                }
                for kk in k8..<k {
                    for r in r0..<(r0 + 8) { panel[kk * nr + r] = source(r).load(fromByteOffset: 4 * kk, as: Float.self) }
                }
            } else {
                // The last rows of the matrix: element by element, zero past the end.
                for r in r0..<(r0 + 8) {
                    if r < valid {
                        let p = source(r)
                        for kk in 0..<k { panel[kk * nr + r] = p.load(fromByteOffset: 4 * kk, as: Float.self) }
                    } else {
                        for kk in 0..<k { panel[kk * nr + r] = 0 }
                    }
                }
            }
        }
    }

    /// The element-by-element twin of `packPanel` (same contract), for tests.
    public func packPanelReference(row0: Int, k0: Int, k: Int, into panel: UnsafeMutablePointer<Float>) {
        let nr = MicroKernel.nr
        let row = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, k))
        defer { row.deallocate() }
        for r in 0..<nr {
            if row0 + r < rows {
                dequantize(row: row0 + r, k0: k0, count: k, into: row)
                for kk in 0..<k { panel[kk * nr + r] = row[kk] }
            } else {
                for kk in 0..<k { panel[kk * nr + r] = 0 }
            }
        }
    }
}
