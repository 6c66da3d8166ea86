import GGUF

/// One ggml block family: a fast quantizer, its scalar reference twin (the same bytes, written as a
/// plain port of ggml-quants.c), and exact dequantization, all on raw memory with explicit byte offsets,
/// plus the kernel traits the rest of the module reads (through `BlockFormats`, the registry) instead
/// of switching on the type.
///
/// `count` is a whole number of blocks. Without `importance` the rows may be concatenated (the
/// reference quantizers treat every block alike). With `importance` (one weight per column) and
/// `usesImportance`, `count` is exactly one row, because some formats derive statistics from the
/// whole row. (`SendableMetatype`: the registry keeps the families' metatypes in static tables.)
protocol BlockFormat: SendableMetatype {
    static var type: GGMLType { get }
    /// Bytes per block (the ggml `sizeof(block_*)`); must equal `type.typeSize`.
    static var blockBytes: Int { get }
    /// Elements per block; must equal `type.blockSize`.
    static var blockSize: Int { get }

    /// ggml's `type_traits_cpu[type].vec_dot_type`: the format `ActivationRounding` rounds the
    /// activations to before a dot product with weights of this type. nil for the activation-only
    /// formats (Q8_1, Q8_K), which are never the weight side of a product. The engine multiplies
    /// exactly the types that have one.
    static var dotType: GGMLType? { get }
    /// Whether the importance-weighted quantizer uses the importance (ggml's `quantize_*` with an
    /// imatrix). When false it is ignored and whole runs of rows are quantized at once.
    static var usesImportance: Bool { get }
    /// Whether llama.cpp refuses to quantize to this type without an importance matrix
    /// (`ggml_quantize_requires_imatrix`). The family still quantizes without one (see its notes).
    static var requiresImportance: Bool { get }
    /// How `LaneGEMM` reads a block in ggml's x86 dot-product order, or nil when products with
    /// this type go through the blocked f32 kernels (`MatMul`, `LaneFloatGEMM`).
    static var lanes: LaneGEMM.Layout? { get }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?)
    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?)
    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int)
}

extension BlockFormat {
    static var requiresImportance: Bool { false }
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
