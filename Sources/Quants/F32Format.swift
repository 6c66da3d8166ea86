import GGUF

/// F32: plain floats (4 bytes each). Quantization and dequantization copy.
enum F32Format: BlockFormat {
    static let type = GGMLType.f32
    static let blockBytes = 4
    static let blockSize = 1

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .f32
    static let usesImportance = false
    static let lanes: LaneGEMM.Layout? = nil

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        y.copyMemory(from: x, byteCount: count * 4)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        y.copyMemory(from: x, byteCount: count * 4)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        y.update(from: x.assumingMemoryBound(to: Float.self), count: count)
    }
}
