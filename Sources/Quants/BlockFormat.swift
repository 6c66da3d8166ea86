import GGUF

/// One ggml block family: a fast quantizer, its scalar reference twin (the same bytes, written as a
/// plain port of ggml-quants.c), and exact dequantization, all on raw memory with explicit byte offsets.
///
/// `count` is a whole number of blocks. Without `importance` the rows may be concatenated (the
/// reference quantizers treat every block alike). With `importance` (one weight per column) `count`
/// is exactly one row, because some formats derive statistics from the whole row.
protocol BlockFormat {
    static var type: GGMLType { get }
    /// Bytes per block (the ggml `sizeof(block_*)`).
    static var blockBytes: Int { get }
    /// Elements per block.
    static var blockSize: Int { get }
    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?)
    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?)
    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int)
}

extension UnsafeMutableRawPointer {
    /// Stores `v` rounded to fp16 (ggml's GGML_FP32_TO_FP16) at `offset`.
    @inline(__always) func storeHalf(_ v: Float, at offset: Int) {
        storeBytes(of: FP16.fromFloat(v).littleEndian, toByteOffset: offset, as: UInt16.self)
    }
}

extension UnsafeRawPointer {
    /// The fp16 at `offset` as a float (exact).
    @inline(__always) func loadHalf(at offset: Int) -> Float {
        FP16.toFloat(UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always) func byte(_ offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }
}

/// Runs `body` with stack scratch of `floats` floats and `bytes` bytes (no heap allocation).
@inline(__always)
func withScratch<R>(floats: Int, bytes: Int,
                    _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<UInt8>) -> R) -> R {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: floats) { f in
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes) { b in
            body(f.baseAddress!, b.baseAddress!)
        }
    }
}
