#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Architectures
import Quants

// Row-wise operations of the graph with ggml's CPU numerics: RMS norm (ggml-cpu.c
// `ggml_compute_forward_rms_norm_f32` followed by `ggml_mul` with the weight), RoPE
// (`ggml_rope_cache_init`, `rope_yarn`, `ggml_compute_forward_rope_f32`), f16 rounding of what
// goes into the KV cache (`ggml_cpy` to f16) and the residual add.

enum RowOps {
    /// `y = (x · 1/sqrtf(mean(x²) + eps)) · w` over `n` values; the sum of squares of the f32
    /// products is accumulated in double (`ggml_float`), the rest in f32. `x` may equal `y`.
    @inline(__always)
    static func rmsNorm(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        count n: Int, eps: Float) {
        // Sequential, as ggml's loop (the compiler keeps the order of a double reduction).
        var sum: Double = 0
        for i in 0..<n { sum += Double(x[i] * x[i]) }
        scaleRow(x, w, y, count: n, eps: eps, squares: sum)
    }

    /// `rmsNorm` of eight rows `stride` apart: their sums of squares as eight chains side by side
    /// (lane l adds row l's squares in element order, as `rmsNorm`; one chain alone waits on each
    /// double addition), then each row scaled as `rmsNorm` scales it. The same bits.
    @inline(__always)
    static func rmsNorm8(_ x: UnsafePointer<Float>, stride: Int, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                         count n: Int, eps: Float) {
        var acc = SIMD8<Double>()
        let r = UnsafeRawPointer(x)
        @inline(__always) func row(_ l: Int, _ i: Int) -> SIMD8<Float> {
            r.loadUnaligned(fromByteOffset: 4 * (l * stride + i), as: SIMD8<Float>.self)
        }
        var i = 0
        while i + 8 <= n {
            let c = LaneTranspose.block(row(0, i), row(1, i), row(2, i), row(3, i), row(4, i), row(5, i), row(6, i), row(7, i))
            acc += VectorMath.widen(c.0 * c.0)
            acc += VectorMath.widen(c.1 * c.1)
            acc += VectorMath.widen(c.2 * c.2)
            acc += VectorMath.widen(c.3 * c.3)
            acc += VectorMath.widen(c.4 * c.4)
            acc += VectorMath.widen(c.5 * c.5)
            acc += VectorMath.widen(c.6 * c.6)
            acc += VectorMath.widen(c.7 * c.7)
            i += 8
        }
        while i < n {
            for l in 0..<8 { acc[l] += Double(x[l * stride + i] * x[l * stride + i]) }
            i += 1
        }
        for l in 0..<8 { scaleRow(x + l * stride, w, y + l * stride, count: n, eps: eps, squares: acc[l]) }
    }

    /// The second half of `rmsNorm`: `y = (x · 1/sqrtf(squares/n + eps)) · w`.
    @inline(__always)
    static func scaleRow(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                         count n: Int, eps: Float, squares sum: Double) {
        let mean = Float(sum / Double(n))
        let scale: Float = 1 / (mean + eps).squareRoot()
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let g = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: (v * scale) * g, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            y[i] = (x[i] * scale) * w[i]
            i += 1
        }
    }

    /// `x += y` over `n` values.
    @inline(__always)
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count n: Int) {
        var i = 0
        while i + 16 <= n {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: a + b, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n {
            x[i] += y[i]
            i += 1
        }
    }

    /// The value an f32 takes once stored as f16 and read back.
    @inline(__always)
    static func f16(_ x: Float) -> Float { Float(Float16(x)) }

    /// `f16` of sixteen values.
    @inline(__always)
    static func f16(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMD16<Float>(SIMD16<Float16>(x)) }
}

/// cos/sin of every rotated pair for positions `0..<positions`, laid out as ggml's rope cache
/// (`cache[i0] = cos θ`, `cache[i0+1] = sin θ` for pair i0/2), built once per session.
struct RopeTable {
    let dims: Int
    let style: RopeStyle
    let values: [Float]

    /// A table as given (`positions × dims` floats: cos, sin of each pair).
    init(dims: Int, style: RopeStyle, values: [Float]) {
        self.dims = dims
        self.style = style
        self.values = values
    }

    /// - Parameter base: the RoPE base (default `c.ropeFreqBase`; the sliding layers' base for Gemma 3).
    init(config c: ModelConfig, factors: [Float]?, positions: Int, base: Float? = nil) {
        dims = c.ropeDimensions
        style = c.ropeStyle
        let freqBase = base ?? c.ropeFreqBase
        let thetaScale = powf(freqBase, -2 / Float(dims))
        let corr = Self.yarnCorrectionDims(dims: dims, origContext: c.yarnOrigContext, base: freqBase,
                                           betaFast: c.yarnBetaFast, betaSlow: c.yarnBetaSlow)
        var v = [Float](repeating: 0, count: positions * dims)
        for p in 0..<positions {
            var theta = Float(p)
            for i0 in stride(from: 0, to: dims, by: 2) {
                let ff = factors?[i0 / 2] ?? 1
                let (cs, sn) = Self.yarn(thetaExtrap: theta / ff, freqScale: c.ropeFreqScale, corr: corr, i0: i0,
                                         extFactor: c.yarnExtFactor, mscale: c.yarnAttnFactor)
                v[p * dims + i0] = cs
                v[p * dims + i0 + 1] = sn
                theta *= thetaScale
            }
        }
        values = v
    }

    /// ggml's `rope_yarn`.
    static func yarn(thetaExtrap: Float, freqScale: Float, corr: (Float, Float), i0: Int, extFactor: Float,
                     mscale m0: Float) -> (Float, Float) {
        let thetaInterp = freqScale * thetaExtrap
        var theta = thetaInterp
        var mscale = m0
        if extFactor != 0 {
            let y = (Float(i0 / 2) - corr.0) / max(0.001, corr.1 - corr.0)
            let rampMix = (1 - min(1, max(0, y))) * extFactor
            theta = thetaInterp * (1 - rampMix) + thetaExtrap * rampMix
            mscale *= 1 + 0.1 * logf(1 / freqScale)
        }
        return (cosf(theta) * mscale, sinf(theta) * mscale)
    }

    /// ggml's `ggml_rope_yarn_corr_dims`.
    static func yarnCorrectionDims(dims: Int, origContext: Int, base: Float, betaFast: Float,
                                   betaSlow: Float) -> (Float, Float) {
        func corrDim(_ rot: Float) -> Float {
            Float(dims) * logf(Float(origContext) / (rot * 2 * Float.pi)) / (2 * logf(base))
        }
        let start = floorf(corrDim(betaFast)), end = ceilf(corrDim(betaSlow))
        return (max(0, start), min(Float(dims - 1), end))
    }

    /// Rotates one head of `x` (head dimension ≥ dims) in place for position `pos`. ggml's
    /// `x0·cos − x1·sin` and `x0·sin + x1·cos` are compiled by gcc with contraction (the default
    /// `-ffp-contract=fast` and `-mfma`) into `fma(x0, cos, −(x1·sin))` and `fma(x0, sin, x1·cos)`;
    /// the same fused forms here give the same bits (checked against b4748's Qcur tensors).
    @inline(__always)
    func apply(_ x: UnsafeMutablePointer<Float>, position pos: Int) {
        values.withUnsafeBufferPointer { t in
            let c = t.baseAddress! + pos * dims
            let cr = UnsafeRawPointer(c), xr = UnsafeMutableRawPointer(x)
            switch style {
            case .normal:
                var i0 = 0
                // Eight pairs at a time: the pairs split into their halves, the same fused forms, zipped back.
                while i0 + 16 <= dims {
                    let xv = xr.loadUnaligned(fromByteOffset: 4 * i0, as: SIMD16<Float>.self)
                    let cv = cr.loadUnaligned(fromByteOffset: 4 * i0, as: SIMD16<Float>.self)
                    let x0 = xv.evenHalf, x1 = xv.oddHalf, cs = cv.evenHalf, sn = cv.oddHalf
                    let r0 = (-(x1 * sn)).addingProduct(x0, cs)
                    let r1 = (x1 * cs).addingProduct(x0, sn)
                    xr.storeBytes(of: Self.zip(r0, r1), toByteOffset: 4 * i0, as: SIMD16<Float>.self)
                    i0 += 16
                }
                while i0 < dims {
                    let cs = c[i0], sn = c[i0 + 1]
                    let x0 = x[i0], x1 = x[i0 + 1]
                    x[i0] = (-(x1 * sn)).addingProduct(x0, cs)
                    x[i0 + 1] = (x1 * cs).addingProduct(x0, sn)
                    i0 += 2
                }
            case .neox:
                let half = dims / 2
                var i0 = 0
                // Eight pairs at a time: x0 and x1 sit half a head apart, the table's pairs are split.
                while i0 + 16 <= dims {
                    let ic = i0 / 2
                    let cv = cr.loadUnaligned(fromByteOffset: 4 * i0, as: SIMD16<Float>.self)
                    let cs = cv.evenHalf, sn = cv.oddHalf
                    let x0 = xr.loadUnaligned(fromByteOffset: 4 * ic, as: SIMD8<Float>.self)
                    let x1 = xr.loadUnaligned(fromByteOffset: 4 * (ic + half), as: SIMD8<Float>.self)
                    xr.storeBytes(of: (-(x1 * sn)).addingProduct(x0, cs), toByteOffset: 4 * ic, as: SIMD8<Float>.self)
                    xr.storeBytes(of: (x1 * cs).addingProduct(x0, sn), toByteOffset: 4 * (ic + half), as: SIMD8<Float>.self)
                    i0 += 16
                }
                while i0 < dims {
                    let cs = c[i0], sn = c[i0 + 1]
                    let ic = i0 / 2
                    let x0 = x[ic], x1 = x[ic + half]
                    x[ic] = (-(x1 * sn)).addingProduct(x0, cs)
                    x[ic + half] = (x1 * cs).addingProduct(x0, sn)
                    i0 += 2
                }
            }
        }
    }

    /// `(a0, b0, a1, b1, …)`.
    @inline(__always)
    static func zip(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        for i in 0..<8 {
            r[2 * i] = a[i]
            r[2 * i + 1] = b[i]
        }
        return r
    }
}
