import GGUF

extension LaneGEMM {
    /// The scalar twin of `linearRepacked`: quantizes each activation row to block bytes (the
    /// four-row Q8_K quantizer for GEMM rows, `quantize_row_q8_K` / `_q8_0` otherwise), reads each
    /// weight block's quants, scales and minimums from its bytes, and sums one output at a time
    /// with integer dot products, in the order of b10572's repacked kernels.
    static func linearRepackedReference(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, weights w: WeightMatrix,
                                        order: RepackOrder, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        let k = w.columns
        let block = order == .q4K || order.isLanes ? 256 : 32
        let nb = k / block
        let gemm = gemmRows(m)
        var aq = [Int](repeating: 0, count: k)
        var ad = [Float](repeating: 0, count: nb)
        var wv = [Int](repeating: 0, count: block)
        var sc = [Int](repeating: 0, count: 8), mn = [Int](repeating: 0, count: 8)
        let aBytes = UnsafeMutableRawPointer.allocate(byteCount: nb * GGMLType.q8_K.typeSize, alignment: 16)
        defer { aBytes.deallocate() }
        for r in 0..<m {
            let x = a + r * lda
            var bsums = [Int](repeating: 0, count: k / 16)
            if order == .q4K || order.isLanes {
                if order == .q4K && r < gemm {
                    quantizeQ8_KFourRowsReference(x, aBytes, count: k)
                } else {
                    Quantizer.quantize(.q8_K, x, aBytes, rows: 1, rowLength: k)
                }
                for b in 0..<nb {
                    let blk = aBytes + GGMLType.q8_K.typeSize * b
                    ad[b] = blk.loadUnaligned(as: Float.self)
                    for j in 0..<256 { aq[256 * b + j] = Int(blk.load(fromByteOffset: 4 + j, as: Int8.self)) }
                    for s in 0..<16 { bsums[16 * b + s] = Int(blk.loadUnaligned(fromByteOffset: 260 + 2 * s, as: Int16.self)) }
                }
            } else {
                ActivationRounding.quantizeQ8_0Reference(x, aBytes, count: k)
                for b in 0..<nb {
                    let blk = aBytes + 34 * b
                    ad[b] = FP16.toFloat(blk.loadUnaligned(as: UInt16.self))
                    for j in 0..<32 { aq[32 * b + j] = Int(blk.load(fromByteOffset: 2 + j, as: Int8.self)) }
                }
            }
            for n in 0..<w.rows {
                let src = w.data + n * w.rowBytes
                if order == .q2KLanes {
                    c[r * ldc + n] = q2KOutputReference(src, nb: nb, q8: aq, d: ad, bsums: bsums)
                    continue
                }
                if order == .q6KLanes {
                    c[r * ldc + n] = q6KOutputReference(src, nb: nb, q8: aq, d: ad, bsums: bsums)
                    continue
                }
                var acc: Float = 0, accm: Float = 0
                for b in 0..<nb {
                    let blk = src + b * w.type.typeSize
                    switch order {
                    case .q2KLanes, .q6KLanes:
                        break
                    case .blocks32(let scale):
                        // 16 bytes of nibbles after the scale: element j low, element j + 16 high.
                        let dw: Float
                        let qs: Int
                        switch scale {
                        case .f16: dw = blk.loadHalf(at: 0); qs = 2
                        case .e8m0Half: dw = e8m0Half(blk.byte(0)); qs = 1
                        }
                        let values = scale == .f16 ? iq4Values : fp4Values
                        for j in 0..<16 {
                            let q = blk.byte(qs + j)
                            wv[j] = Int(values[Int(q & 0xF)])
                            wv[j + 16] = Int(values[Int(q >> 4)])
                        }
                        var sumi = 0
                        for j in 0..<32 { sumi += wv[j] * aq[32 * b + j] }
                        acc = acc.addingProduct(Float(sumi), dw * ad[b])
                    case .q4K:
                        let dw = blk.loadHalf(at: 0), dmin = blk.loadHalf(at: 2)
                        for j in 0..<8 { (sc[j], mn[j]) = q4KScaleMin(blk + 4, j) }
                        // Chunk p of 32 bytes: sub-block 2p in the low nibbles, 2p + 1 in the high ones.
                        for p in 0..<4 {
                            for l in 0..<32 {
                                let q = blk.byte(16 + 32 * p + l)
                                wv[64 * p + l] = Int(q & 0xF)
                                wv[64 * p + 32 + l] = Int(q >> 4)
                            }
                        }
                        var dots = [Int](repeating: 0, count: 8), sums = [Int](repeating: 0, count: 8)
                        for s in 0..<8 {
                            for l in 0..<32 {
                                dots[s] += wv[32 * s + l] * aq[256 * b + 32 * s + l]
                                sums[s] += aq[256 * b + 32 * s + l]
                            }
                        }
                        if r < gemm {
                            for p in 0..<4 {
                                let i = sc[2 * p] * dots[2 * p] + sc[2 * p + 1] * dots[2 * p + 1]
                                let im = mn[2 * p] * sums[2 * p] + mn[2 * p + 1] * sums[2 * p + 1]
                                acc = acc.addingProduct(Float(i), dw * ad[b])
                                accm = accm.addingProduct(Float(im), dmin * ad[b])
                            }
                        } else {
                            var i = 0, im = 0
                            for s in 0..<8 {
                                i += sc[s] * dots[s]
                                im += mn[s] * sums[s]
                            }
                            acc = acc.addingProduct(Float(i), dw * ad[b])
                            accm = accm.addingProduct(Float(im), dmin * ad[b])
                        }
                    }
                }
                c[r * ldc + n] = order == .q4K ? acc - accm : acc
            }
        }
    }

    /// Sub-block `j`'s 6-bit scale and minimum from a K-quant's 12 scale bytes (ggml-quants.c
    /// `get_scale_min_k4`).
    static func q4KScaleMin(_ q: UnsafeRawPointer, _ j: Int) -> (Int, Int) {
        if j < 4 {
            return (Int(q.byte(j) & 63), Int(q.byte(j + 4) & 63))
        }
        let d = (q.byte(j + 4) & 0xF) | ((q.byte(j - 4) >> 6) << 4)
        let m = (q.byte(j + 4) >> 4) | ((q.byte(j) >> 6) << 4)
        return (Int(d), Int(m))
    }

    /// Q8_K blocks as ggml's four-row quantizer writes them for one row (arch/x86/repack.cpp
    /// `ggml_quantize_mat_q8_K_4x8`, AVX2), in `block_q8_K` layout (`d: f32, qs: [256],
    /// bsums: [16] i16`): the largest magnitude `amax`; the scale `iscale = −127/amax` if some
    /// positive element equals `amax`, else `127/amax`; quants rounded half to even; `d = 1/iscale`.
    static func quantizeQ8_KFourRowsReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int) {
        for b in 0..<(count / 256) {
            let xb = x + 256 * b, yb = y + GGMLType.q8_K.typeSize * b
            var amax: Float = 0
            for j in 0..<256 where abs(xb[j]) > amax { amax = abs(xb[j]) }
            var positive = false
            for j in 0..<256 where xb[j] == amax && amax != 0 { positive = true }
            let iscale: Float = amax == 0 ? 0 : (positive ? -127 / amax : 127 / amax)
            var q = [Int](repeating: 0, count: 256)
            for j in 0..<256 {
                q[j] = Int(Int32(clamping: Int((iscale * xb[j]).rounded(.toNearestOrEven))))
                q[j] = Swift.max(-128, Swift.min(127, q[j]))
                yb.storeBytes(of: Int8(q[j]), toByteOffset: 4 + j, as: Int8.self)
            }
            for s in 0..<16 {
                var sum = 0
                for j in 0..<16 { sum += q[16 * s + j] }
                yb.storeBytes(of: Int16(sum), toByteOffset: 260 + 2 * s, as: Int16.self)
            }
            yb.storeBytes(of: amax == 0 ? Float(0) : 1 / iscale, as: Float.self)
        }
    }
}
