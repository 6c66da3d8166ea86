import GGUF

/// The sixteen non-linear 4-bit levels of IQ4_NL and IQ4_XS (ggml-common.h `kvalues_iq4nl`).
let iq4Values: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// `iq4Values` as floats, for the scans.
let iq4ValuesF: [Float] = iq4Values.map { Float($0) }

/// The index of the level nearest to `x` in an ascending table of sixteen levels (ggml-quants.c
/// `best_index_int8`): below the first or above the last level clamps; otherwise a bisection finds
/// the pair around `x` and the upper one wins unless `x − lower < upper − x` (float arithmetic, so a
/// NaN lands on the last level).
@inline(__always)
func nearestLevelIndex(_ v: UnsafePointer<Float>, _ x: Float) -> Int {
    if x <= v[0] { return 0 }
    if x >= v[15] { return 15 }
    var lo = 0, hi = 15
    while hi - lo > 1 {
        let mid = (lo + hi) / 2
        if x < v[mid] { hi = mid } else { lo = mid }
    }
    return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi
}

/// The scale search shared by IQ4_NL (one block of 32) and IQ4_XS (a super-block of 256 in eight
/// blocks of 32), as ggml-quants.c `quantize_row_iq4_nl_impl` does it with `ntry` 7 (the only
/// setting `quantize_iq4_nl` / `quantize_iq4_xs` use, with or without an importance matrix).
///
/// Per block of 32: weights qw·sqrt(σ² + x²) (σ² = 2·Σx²/superBlock) or x²; a first scale from the
/// extreme value against the level −127, refined to the least-squares scale, then 15 trial scales
/// (itry −7…7: (itry − 127)/max) keeping the best Σqx²/Σq². For IQ4_XS the block scales become
/// 6-bit multiples of d = −maxScale/32 and every block is requantized against its d·l; for IQ4_NL
/// the block is requantized against its own scale (fp16 d is stored, the float one is used).
///
/// Writes the fp16 d at `dOffset` of `yb`, the packed levels at `qsOffset`, and for IQ4_XS the
/// scales (`scales_h` at 2, `scales_l` at 4). `L` holds `superBlock` bytes, `scales` eight floats,
/// `weight` 32 floats.
enum IQ4Search {
    static func quantizeReference(_ superBlock: Int, _ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer,
                                  qsOffset: Int, _ qw: UnsafePointer<Float>?,
                                  _ L: UnsafeMutablePointer<UInt8>, _ scales: UnsafeMutablePointer<Float>,
                                  _ weight: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>) {
        let ntry = 7
        var sigma2: Float = 0
        for j in 0..<superBlock { sigma2 += x[j] * x[j] }
        sigma2 *= 2 / Float(superBlock)

        let q4 = (yb + qsOffset).assumingMemoryBound(to: UInt8.self)
        for j in 0..<(superBlock / 2) { q4[j] = 0 }
        yb.storeHalf(0, at: 0)

        let nb = superBlock / 32
        var maxScale: Float = 0, amaxScale: Float = 0
        for ib in 0..<nb {
            let xb = x + 32 * ib
            let Lb = L + 32 * ib
            if let qw {
                let w = qw + 32 * ib
                for j in 0..<32 { weight[j] = w[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
            } else {
                for j in 0..<32 { weight[j] = xb[j] * xb[j] }
            }
            var amax: Float = 0, max: Float = 0
            for j in 0..<32 {
                let ax = abs(xb[j])
                if ax > amax { amax = ax; max = xb[j] }
            }
            if amax < groupMaxEps {
                scales[ib] = 0
                continue
            }
            var d = -max / v[0]
            var id = 1 / d
            var sumqx: Float = 0, sumq2: Float = 0
            for j in 0..<32 {
                let al = id * xb[j]
                let l = nearestLevelIndex(v, al)
                Lb[j] = UInt8(l)
                let q = v[l]
                let w = weight[j]
                sumqx += w * q * xb[j]
                sumq2 += w * q * q
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0
            var best = d * sumqx
            for itry in -ntry...ntry {
                id = Float(itry + Int(iq4Values[0])) / max
                sumqx = 0
                sumq2 = 0
                for j in 0..<32 {
                    let al = id * xb[j]
                    let l = nearestLevelIndex(v, al)
                    let q = v[l]
                    let w = weight[j]
                    sumqx += w * q * xb[j]
                    sumq2 += w * q * q
                }
                if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                    d = sumqx / sumq2
                    best = d * sumqx
                }
            }
            scales[ib] = d
            let absD = abs(d)
            if absD > amaxScale { amaxScale = absD; maxScale = d }
        }

        if nb > 1 {
            finishSuperBlock(x, yb, L, scales, maxScale, v)
        } else {
            yb.storeHalf(scales[0], at: 0)
            let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
            for j in 0..<superBlock { L[j] = UInt8(nearestLevelIndex(v, id * x[j])) }
        }
        pack(L, q4, superBlock)
    }

    /// IQ4_XS: the eight block scales to 6-bit multiples of d = −maxScale/32 (stored fp16; the float
    /// d is used), `scales_l` nibbles and `scales_h` bit pairs, and every block requantized against d·l.
    @inline(__always)
    static func finishSuperBlock(_ x: UnsafePointer<Float>, _ yb: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>,
                                 _ scales: UnsafePointer<Float>, _ maxScale: Float, _ v: UnsafePointer<Float>) {
        let d = -maxScale / 32
        yb.storeHalf(d, at: 0)
        let id: Float = d != 0 ? 1 / d : 0
        var scalesH: UInt16 = 0
        let scalesL = (yb + 4).assumingMemoryBound(to: UInt8.self)
        for ib in 0..<8 {
            var l = nearestInt(id * scales[ib])
            l = Swift.max(-32, Swift.min(31, l))
            let dl = d * Float(l)
            let idl: Float = dl != 0 ? 1 / dl : 0
            let Lb = L + 32 * ib, xb = x + 32 * ib
            for j in 0..<32 { Lb[j] = UInt8(nearestLevelIndex(v, idl * xb[j])) }
            l += 32
            let lLow = UInt8(truncatingIfNeeded: l & 0xF)
            let lHigh = UInt16(truncatingIfNeeded: l >> 4)
            if ib % 2 == 0 {
                scalesL[ib / 2] = lLow
            } else {
                scalesL[ib / 2] |= (lLow << 4)
            }
            scalesH |= (lHigh << UInt16(2 * (ib % 8)))
        }
        yb.storeBytes(of: scalesH.littleEndian, toByteOffset: 2, as: UInt16.self)
    }

    /// Per 32 levels: byte j holds level j (low nibble) and level 16 + j (high nibble).
    @inline(__always)
    static func pack(_ L: UnsafePointer<UInt8>, _ q4: UnsafeMutablePointer<UInt8>, _ superBlock: Int) {
        for i in 0..<(superBlock / 32) {
            for j in 0..<16 {
                q4[16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4)
            }
        }
    }

    /// Runs `body` with the scratch of one search (levels, block scales, weights) and the level table.
    @inline(__always)
    static func withScratch<R>(_ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>,
                                        UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { lb in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 40) { fb in
                iq4ValuesF.withUnsafeBufferPointer { vb in
                    body(lb.baseAddress!, fb.baseAddress!, fb.baseAddress! + 8, vb.baseAddress!)
                }
            }
        }
    }
}

/// IQ4_NL: 32 weights per block, `d: f16, qs: [16]` (low nibbles elements 0–15, high nibbles
/// 16–31) (18 bytes); y = d·iq4Values[q].
///
/// Quantization matches ggml-quants.c `quantize_iq4_nl` byte for byte, with and without an
/// importance matrix (both run `quantize_row_iq4_nl_impl` with 15 trial scales; ggml's
/// `quantize_row_iq4_nl_ref`, the CPU `from_float`, skips the trials and is not what
/// llama-quantize writes). Dequantization is `dequantize_row_iq4_nl`.
enum IQ4_NL: BlockFormat {
    static let type = GGMLType.iq4_NL
    static let blockBytes = 18
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = true
    static let lanes: LaneGEMM.Layout? = nil

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantizeReference(x, y, count: count, importance: importance)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        IQ4Search.withScratch { L, scales, weight, v in
            for b in 0..<(count / 32) {
                IQ4Search.quantizeReference(32, x + 32 * b, y + blockBytes * b, qsOffset: 2,
                                            importance.map { $0 + 32 * b }, L, scales, weight, v)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        iq4ValuesF.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            for b in 0..<(count / 32) {
                let xb = x + blockBytes * b
                let d = xb.loadHalf(at: 0)
                let o = y + 32 * b
                for j in 0..<16 {
                    let q = xb.byte(2 + j)
                    o[j] = d * v[Int(q & 0xF)]
                    o[16 + j] = d * v[Int(q >> 4)]
                }
            }
        }
    }
}
