import GGUF

// Scalar twins of the activation rounding: they write ggml's block bytes the way the x86 CPU
// `from_float` functions do, so tests can compare `ActivationRounding.roundTrip` against
// "quantize to bytes, dequantize the bytes".

extension ActivationRounding {
    /// ggml-cpu-quants.c `quantize_row_q8_0` (AVX branch), scalar: `d = amax/127` stored as f16,
    /// quants `rint(x · 127/amax)`. Writes `count/32` blocks of 34 bytes.
    public static func quantizeQ8_0Reference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int) {
        precondition(count % 32 == 0, "Q8_0 rows are whole blocks of 32")
        for b in 0..<(count / 32) {
            let xb = x + 32 * b
            let yb = y + 34 * b
            var amax: Float = 0
            for j in 0..<32 { amax = Swift.max(amax, abs(xb[j])) }
            let d = amax / 127
            let id: Float = amax != 0 ? 127 / amax : 0
            yb.storeBytes(of: FP16.fromFloat(d), as: UInt16.self)
            for j in 0..<32 {
                let q = Int8(clamping: Int32((xb[j] * id).rounded(.toNearestOrEven)))
                yb.storeBytes(of: q, toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }

    /// ggml-cpu-quants.c `quantize_row_q8_1` (AVX branch), scalar: as Q8_0 plus
    /// `s = fp16(d · Σq)`. Writes `count/32` blocks of 36 bytes.
    public static func quantizeQ8_1Reference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int) {
        precondition(count % 32 == 0, "Q8_1 rows are whole blocks of 32")
        for b in 0..<(count / 32) {
            let xb = x + 32 * b
            let yb = y + 36 * b
            var amax: Float = 0
            for j in 0..<32 { amax = Swift.max(amax, abs(xb[j])) }
            let d = amax / 127
            let id: Float = amax != 0 ? 127 / amax : 0
            var sum: Int32 = 0
            for j in 0..<32 {
                let q = Int8(clamping: Int32((xb[j] * id).rounded(.toNearestOrEven)))
                sum += Int32(q)
                yb.storeBytes(of: q, toByteOffset: 4 + j, as: Int8.self)
            }
            yb.storeBytes(of: FP16.fromFloat(d), as: UInt16.self)
            yb.storeBytes(of: FP16.fromFloat(d * Float(sum)), toByteOffset: 2, as: UInt16.self)
        }
    }

    /// Dequantizes Q8_0 (34-byte) or Q8_1 (36-byte) blocks: `q · fp16(d)`.
    public static func dequantizeQ8Reference(_ type: GGMLType, _ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>,
                                             count: Int) {
        precondition(type == .q8_0 || type == .q8_1, "only Q8_0 and Q8_1 are activation block types here")
        let bytes = type == .q8_0 ? 34 : 36
        let qs = type == .q8_0 ? 2 : 4
        for b in 0..<(count / 32) {
            let xb = x + bytes * b
            let d = FP16.toFloat(xb.loadUnaligned(as: UInt16.self))
            for j in 0..<32 {
                y[32 * b + j] = Float(xb.load(fromByteOffset: qs + j, as: Int8.self)) * d
            }
        }
    }

    /// Scalar round trip through the reference encoders above (Q8_K through the block quantizer,
    /// which is ggml's `quantize_row_q8_K_ref`).
    public static func roundTripReference(_ dotType: GGMLType, _ src: UnsafePointer<Float>,
                                          _ dst: UnsafeMutablePointer<Float>, count: Int) {
        switch dotType {
        case .f32:
            for i in 0..<count { dst[i] = src[i] }
        case .f16:
            for i in 0..<count { dst[i] = FP16.toFloat(FP16.fromFloat(src[i])) }
        case .bf16:
            for i in 0..<count { dst[i] = BF16.toFloat(BF16.fromFloat(src[i])) }
        case .q8_0, .q8_1:
            let bytes = dotType == .q8_0 ? 34 : 36
            let buf = UnsafeMutableRawPointer.allocate(byteCount: (count / 32) * bytes, alignment: 16)
            defer { buf.deallocate() }
            if dotType == .q8_0 {
                quantizeQ8_0Reference(src, buf, count: count)
            } else {
                quantizeQ8_1Reference(src, buf, count: count)
            }
            dequantizeQ8Reference(dotType, buf, dst, count: count)
        case .q8_K:
            let buf = UnsafeMutableRawPointer.allocate(byteCount: (count / 256) * GGMLType.q8_K.typeSize, alignment: 16)
            defer { buf.deallocate() }
            Quantizer.quantize(.q8_K, src, buf, rows: 1, rowLength: count)
            Quantizer.dequantize(.q8_K, buf, dst, count: count)
        default:
            preconditionFailure("\(dotType) is not an activation dot type")
        }
    }
}
