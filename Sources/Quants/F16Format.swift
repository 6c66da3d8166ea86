import GGUF

/// F16: IEEE binary16 (2 bytes each), rounded to nearest even as ggml's `ggml_fp32_to_fp16_row`;
/// dequantization is exact (`ggml_fp16_to_fp32_row`). The importance matrix is ignored.
enum F16Format: BlockFormat {
    static let type = GGMLType.f16
    static let blockBytes = 2
    static let blockSize = 1

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .f16
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = nil

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        FP16.convert(x, y.assumingMemoryBound(to: UInt16.self), count: count)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        let h = y.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { h[i] = FP16.fromFloat(x[i]) }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        FP16.expand(x.assumingMemoryBound(to: UInt16.self), y, count: count)
    }
}
