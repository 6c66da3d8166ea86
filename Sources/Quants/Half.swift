// FP16 and BF16 conversions, bit-exact with ggml (ggml-impl.h `ggml_compute_fp32_to_fp16`,
// `ggml_compute_fp32_to_bf16`) and numpy's `astype(float16)`.

/// IEEE binary16 <-> Float. Round to nearest even (subnormals included), overflow to ±inf,
/// NaN to the canonical quiet NaN `0x7E00 | sign` as ggml does.
public enum FP16 {
    @inline(__always)
    public static func fromFloat(_ x: Float) -> UInt16 {
        if x.isNaN { return UInt16(truncatingIfNeeded: (x.bitPattern >> 16) & 0x8000) | 0x7E00 }
        return Float16(x).bitPattern
    }

    @inline(__always)
    public static func toFloat(_ h: UInt16) -> Float {
        Float(Float16(bitPattern: h))
    }

    /// Converts `count` floats. NaNs become the canonical NaN.
    public static func convert(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
            if any(v .!= v) {
                for j in 0..<8 { dst[i + j] = fromFloat(src[i + j]) }
            } else {
                let h = SIMD8<Float16>(v)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: h, as: SIMD8<Float16>.self)
            }
            i += 8
        }
        while i < count {
            dst[i] = fromFloat(src[i])
            i += 1
        }
    }

    /// Expands `count` halves to floats (exact).
    public static func expand(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let h = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float16>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float>(h), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            dst[i] = toFloat(src[i])
            i += 1
        }
    }
}

/// bfloat16 <-> Float: the top 16 bits of a float, rounded to nearest even; NaN keeps its top bits
/// and gets the quiet bit (`(bits >> 16) | 0x40`), as ggml and gguf-py do.
public enum BF16 {
    @inline(__always)
    public static func fromFloat(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if (u & 0x7FFF_FFFF) > 0x7F80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 0x40) }
        return UInt16(truncatingIfNeeded: (u &+ (0x7FFF &+ ((u >> 16) & 1))) >> 16)
    }

    @inline(__always)
    public static func toFloat(_ h: UInt16) -> Float {
        Float(bitPattern: UInt32(h) << 16)
    }

    public static func convert(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        for i in 0..<count { dst[i] = fromFloat(src[i]) }
    }

    public static func expand(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = toFloat(src[i]) }
    }
}
