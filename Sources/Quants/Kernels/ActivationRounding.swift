import GGUF

// What ggml's CPU backend does to the f32 activations of a matrix product before the dot
// products: it converts them to the weight type's `vec_dot_type` (ggml-cpu.c `type_traits_cpu`)
// with the CPU `from_float` functions (ggml-cpu-quants.c `quantize_row_q8_0`, `quantize_row_q8_1`,
// `quantize_row_q8_K`; `ggml_cpu_fp32_to_fp16`, `ggml_cpu_fp32_to_bf16`). The dot products are then
// exact integer sums times scales, so "activations rounded to the dot type, dequantized back to
// f32" times "weights dequantized to f32" is the same product up to f32 summation order.

/// The activation side of ggml's CPU matrix products.
public enum ActivationRounding {
    /// The type ggml converts activations to before a dot with weights of `weight`
    /// (`type_traits_cpu[weight].vec_dot_type`, declared by the weight's block family), or nil when
    /// this module has no kernels for `weight` or it is an activation-only format.
    public static func dotType(for weight: GGMLType) -> GGMLType? {
        BlockFormats.format(weight)?.dotType
    }

    /// Block length of the rounding for `dotType`: its block size (32 for Q8_0 / Q8_1, 256 for
    /// Q8_K, 1 for the float types), and 1 for a type that is no dot type.
    public static func blockLength(_ dotType: GGMLType) -> Int {
        BlockFormats.isActivation(dotType) ? dotType.blockSize : 1
    }

    /// Replaces `count` activations by the values ggml's dot products see when they meet weights
    /// whose `vec_dot_type` is `dotType`: quantized with the x86 CPU `from_float` of that type and
    /// dequantized exactly. `count` must be a multiple of `blockLength(dotType)`; `src` may equal `dst`.
    ///
    /// - Q8_0 / Q8_1 (ggml-cpu-quants.c AVX path): `d = amax/127`, multiplier `127/amax`, quants
    ///   rounded half to even (`_mm256_round_ps`), values `q · fp16(d)`.
    /// - Q8_K (`quantize_row_q8_K_ref`): scale `-127/max` of the signed extreme, `nearest_int`,
    ///   clamp at 127, f32 `d`.
    /// - F16 / BF16: round to nearest even in that format. F32: copy.
    public static func roundTrip(_ dotType: GGMLType, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                                 count: Int) {
        let block = blockLength(dotType)
        precondition(count % block == 0, "activation row of \(count) is not a multiple of the \(dotType) block \(block)")
        switch dotType {
        case .f32:
            if UnsafePointer(dst) != src { dst.update(from: src, count: count) }
        case .f16: roundF16(src, dst, count: count)
        case .bf16: roundBF16(src, dst, count: count)
        case .q8_0, .q8_1:
            for b in 0..<(count / 32) { roundQ8_0Block(src + 32 * b, dst + 32 * b) }
        case .q8_K:
            for b in 0..<(count / 256) { roundQ8_KBlock(src + 256 * b, dst + 256 * b) }
        default:
            preconditionFailure("\(dotType) is not an activation dot type")
        }
    }

    @inline(__always)
    static func roundF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD16<Float>(SIMD16<Float16>(v)), as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            dst[i] = Float(Float16(src[i]))
            i += 1
        }
    }

    @inline(__always)
    static func roundBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dst[i] = BF16.toFloat(BF16.fromFloat(src[i])) }
    }

    /// One Q8_0 block as the AVX `quantize_row_q8_0` quantizes it: the 32 quants as floats (two
    /// vectors) and the block's largest magnitude `amax` (the scale is `d = amax/127`, stored f16).
    @inline(__always)
    static func q8_0Quants(_ x: UnsafePointer<Float>) -> (SIMD16<Float>, SIMD16<Float>, amax: Float) {
        let raw = UnsafeRawPointer(x)
        let v0 = raw.loadUnaligned(as: SIMD16<Float>.self)
        let v1 = raw.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
        let amax = absMax(v0, v1)
        let id: Float = amax != 0 ? 127 / amax : 0
        // |v·id| ≤ 127 (or 0 when amax is 0, or NaN/inf propagated as ggml's would be garbage).
        return (roundEven(v0 * id), roundEven(v1 * id), amax)
    }

    /// One Q8_0 block as the AVX `quantize_row_q8_0` rounds it, dequantized.
    @inline(__always)
    static func roundQ8_0Block(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let (q0, q1, amax) = q8_0Quants(x)
        let dh = Float(Float16(amax / 127))
        let out = UnsafeMutableRawPointer(y)
        out.storeBytes(of: q0 * dh, as: SIMD16<Float>.self)
        out.storeBytes(of: q1 * dh, toByteOffset: 64, as: SIMD16<Float>.self)
    }

    /// The largest magnitude among the lanes of `v0` and `v1`, NaN ignored. Computed on the bit
    /// patterns with the sign cleared, which order as the magnitudes do (+inf included), by an
    /// integer maximum: that compiles to `vpmaxud`/`vpmaxsd`, where the SIMD16 float compares and
    /// selects came out as 2- and 4-lane pieces.
    @inline(__always)
    static func absMax(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>) -> Float {
        largest(absBits(v0), absBits(v1))
    }

    /// |v|'s bit pattern lane by lane, 0 for NaN (whose patterns lie above +inf's 0x7F800000).
    @inline(__always)
    static func absBits(_ v: SIMD16<Float>) -> SIMD16<Int32> {
        let n = unsafeBitCast(v, to: SIMD16<Int32>.self) & Int32.max
        // -1 where n > 0x7F800000 (NaN), else 0; no overflow as 0 ≤ n < 2^31.
        let nan = (0x7F80_0000 &- n) &>> 31
        return n & ~nan
    }

    /// The lane-wise maximum of two vectors of non-negative values (`a - b` cannot overflow).
    @inline(__always)
    static func intMax<V: SIMD>(_ a: V, _ b: V) -> V where V.Scalar == Int32 {
        let d = a &- b
        return a &- (d & (d &>> 31))
    }

    /// The largest lane of two vectors of magnitude bit patterns, as a float.
    @inline(__always)
    static func largest(_ a: SIMD16<Int32>, _ b: SIMD16<Int32>) -> Float {
        let m16 = intMax(a, b)
        let m8 = intMax(m16.lowHalf, m16.highHalf)
        let m4 = intMax(m8.lowHalf, m8.highHalf)
        let m2 = intMax(m4.lowHalf, m4.highHalf)
        return Float(bitPattern: UInt32(bitPattern: Swift.max(m2[0], m2[1])))
    }

    /// `mask ? a : b` lane by lane.
    @inline(__always)
    static func select<V: SIMD>(_ mask: SIMDMask<V.MaskStorage>, _ a: V, _ b: V) -> V where V.Scalar == Float {
        b.replacing(with: a, where: mask)
    }

    /// Round half to even of values below 2^22 in magnitude (adding and removing 1.5·2^23 leaves
    /// the nearest integer; -0 and small negatives give +0, as an integer quant does).
    @inline(__always)
    static func roundEven(_ v: SIMD16<Float>) -> SIMD16<Float> {
        let magic = SIMD16<Float>(repeating: 12_582_912)
        return (v + magic) - magic
    }

    /// One Q8_K block as `quantize_row_q8_K_ref` quantizes it: the 256 quants as floats into `q`,
    /// and the scale `d` (0 for an all-zero block) returned.
    @inline(__always)
    static func q8_KQuants(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Float>) -> Float {
        // The signed value of the first element with the largest magnitude (NaN never is).
        let amax = absMax256(x)
        if amax == 0 {
            q.update(repeating: 0, count: 256)
            return 0
        }
        var max: Float = 0
        for j in 0..<256 where abs(x[j]) == amax {
            max = x[j]
            break
        }
        let iscale = -127 / max
        roundQ8_K(x, iscale: iscale, into: q)
        return 1 / iscale
    }

    /// The largest magnitude among 256 values, NaN ignored (as a scan keeping `|x| > amax` does).
    @inline(__always)
    static func absMax256(_ x: UnsafePointer<Float>) -> Float {
        let raw = UnsafeRawPointer(x)
        var m0 = SIMD16<Int32>(), m1 = m0, m2 = m0, m3 = m0
        for i in stride(from: 0, to: 1024, by: 256) {
            m0 = intMax(m0, absBits(raw.loadUnaligned(fromByteOffset: i, as: SIMD16<Float>.self)))
            m1 = intMax(m1, absBits(raw.loadUnaligned(fromByteOffset: i + 64, as: SIMD16<Float>.self)))
            m2 = intMax(m2, absBits(raw.loadUnaligned(fromByteOffset: i + 128, as: SIMD16<Float>.self)))
            m3 = intMax(m3, absBits(raw.loadUnaligned(fromByteOffset: i + 192, as: SIMD16<Float>.self)))
        }
        return largest(intMax(m0, m1), intMax(m2, m3))
    }

    /// `q[j] = min(127, roundEven(iscale·x[j])) + 0` for 256 values (`nearest_int` of
    /// `quantize_row_q8_K_ref`; |iscale·x| ≤ 127 up to rounding, NaN giving 127 as `Swift.min` does).
    @inline(__always)
    static func roundQ8_K(_ x: UnsafePointer<Float>, iscale: Float, into q: UnsafeMutablePointer<Float>) {
        let raw = UnsafeRawPointer(x), out = UnsafeMutableRawPointer(q)
        let s = SIMD16<Float>(repeating: iscale), top = SIMD16<Float>(repeating: 127)
        for i in stride(from: 0, to: 1024, by: 64) {
            let r = roundEven(raw.loadUnaligned(fromByteOffset: i, as: SIMD16<Float>.self) * s)
            out.storeBytes(of: select(r .< top, r, top) + 0, toByteOffset: i, as: SIMD16<Float>.self)
        }
    }

    /// One Q8_K block as `quantize_row_q8_K_ref` quantizes it, dequantized.
    @inline(__always)
    static func roundQ8_KBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let d = SIMD16<Float>(repeating: q8_KQuants(x, into: y))
        for j in stride(from: 0, to: 256, by: 16) {
            let p = UnsafeMutableRawPointer(y + j)
            p.storeBytes(of: p.loadUnaligned(as: SIMD16<Float>.self) * d, as: SIMD16<Float>.self)
        }
    }
}
