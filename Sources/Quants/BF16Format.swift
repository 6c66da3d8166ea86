import GGUF

/// BF16: the top 16 bits of a float (2 bytes each), rounded to nearest even as ggml's
/// `ggml_fp32_to_bf16_row_ref`; dequantization is exact. The importance matrix is ignored.
enum BF16Format: BlockFormat {
    static let type = GGMLType.bf16
    static let blockBytes = 2
    static let blockSize = 1

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .bf16
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = nil

    // `BF16.convert` is already the scalar loop, so both paths share it.
    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        BF16.convert(x, y.assumingMemoryBound(to: UInt16.self), count: count)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        BF16.convert(x, y.assumingMemoryBound(to: UInt16.self), count: count)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        BF16.expand(x.assumingMemoryBound(to: UInt16.self), y, count: count)
    }
}
