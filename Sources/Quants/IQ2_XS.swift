import GGUF

/// IQ2_XS (2.3125 bits per weight): super-blocks of 256 in sixteen sub-blocks of 16;
/// `d: f16, qs: [32] UInt16, scales: [8]` (74 bytes). Each UInt16 holds an index into the
/// 512-point `iq2xs` grid (bits 0–8, eight weights) and seven sign bits (bits 9–15,
/// `IQGrids.ksigns`); each scale byte two 4-bit sub-block scales s (low nibble first):
/// y = d·(0.5 + s)·0.25·grid·sign.
///
/// Quantization matches ggml-quants.c `quantize_iq2_xs` (→ `quantize_row_iq2_xs_impl`) byte for
/// byte. llama.cpp requires an importance matrix for this type (ggml asserts without one); given
/// none, this quantizer uses importance 1 for every column. Dequantization is
/// `dequantize_row_iq2_xs`.
enum IQ2_XS: BlockFormat {
    static let type = GGMLType.iq2_XS
    static let blockBytes = 74
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    static let requiresImportance = true
    /// b10572's AVX2 `ggml_vec_dot_iq2_xs_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .iq2XS)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        let grid = IQLattice.iq2xs
        IQSearchScratch.with { search in
            withScratch(floats: 16 * 3 + 16, bytes: 16 * 2 + 64 + 8) { f, b in
                let s = Scratch(weight: f, xval: f + 16, waux: f + 32, scales: f + 48,
                                L: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Int8.self),
                                Laux: UnsafeMutableRawPointer(b + 16).assumingMemoryBound(to: Int8.self),
                                q2: UnsafeMutableRawPointer(b + 32), onGrid: b + 96, onGridAux: b + 98, signs: b + 100)
                for ibl in 0..<(count / 256) {
                    quantizeBlock(x + 256 * ibl, importance.map { $0 + 256 * ibl }, y + blockBytes * ibl, grid, s, fast ? search : nil)
                }
            }
        }
    }

    struct Scratch {
        let weight, xval, waux, scales: UnsafeMutablePointer<Float>
        let L, Laux: UnsafeMutablePointer<Int8>
        let q2: UnsafeMutableRawPointer
        let onGrid, onGridAux, signs: UnsafeMutablePointer<UInt8>
    }

    /// One super-block, in quantize_row_iq2_xs_impl's order of operations.
    @inline(__always)
    static func quantizeBlock(_ xbl: UnsafePointer<Float>, _ qwbl: UnsafePointer<Float>?, _ yb: UnsafeMutableRawPointer,
                              _ grid: IQLattice, _ s: Scratch, _ search: IQSearchScratch?) {
        let kMaxQ: Int32 = 3
        let weight = s.weight, xval = s.xval, waux = s.waux, scales = s.scales
        let L = s.L, Laux = s.Laux, q2 = s.q2
        q2.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        var maxScale: Float = 0
        var sumx2: Float = 0
        for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
        let sigma2 = sumx2 / 256

        for ib in 0..<16 {
            let xb = xbl + 16 * ib
            if let qwbl {
                let qw = qwbl + 16 * ib
                for i in 0..<16 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
            } else {
                for i in 0..<16 { weight[i] = (sigma2 + xb[i] * xb[i]).squareRoot() }
            }
            for i in 0..<16 { waux[i] = weight[i].squareRoot() }
            iqEvenSigns(xb, weight, xval, s.signs, groups: 2)
            var max = xval[0]
            for i in 1..<16 { max = max > xval[i] ? max : xval[i] }
            L.initialize(repeating: 0, count: 16)
            if max < groupMaxEps {
                scales[ib] = 0
                continue
            }
            var best: Float = 0
            var scale = max / Float(2 * kMaxQ - 1)
            s.onGrid[0] = 1
            s.onGrid[1] = 1
            if let search {
                _ = grid.searchScale(IQ2Shape.self, count: 16, kMaxQ: kMaxQ, trials: 19, first: -9, step: 0.1, denominator: max,
                                     xval, weight, waux, L, s.onGrid, &scale, search)
            } else {
                for step in -9...9 {
                    let id = (Float(2 * kMaxQ - 1) + Float(step) * 0.1) / max
                    let thisScale = 1 / id
                    for k in 0..<2 {
                        var u = 0
                        for i in 0..<8 {
                            let l = nearestInt(0.5 * (id * xval[8 * k + i] - 1))
                            let c = Swift.max(0, Swift.min(kMaxQ - 1, l))
                            Laux[8 * k + i] = Int8(c)
                            u |= Int(c) << (2 * i)
                        }
                        let entry = grid.map[u]
                        s.onGridAux[k] = 1
                        if entry < 0 {
                            s.onGridAux[k] = 0
                            _ = grid.bestNeighbour(grid.neighbourList(entry), xval + 8 * k, waux + 8 * k, thisScale, Laux + 8 * k)
                        }
                    }
                    var sumqx: Float = 0, sumq2: Float = 0
                    for i in 0..<16 {
                        let w = weight[i]
                        let q = Float(2 * Int32(Laux[i]) + 1)
                        sumqx += w * xval[i] * q
                        sumq2 += w * q * q
                    }
                    if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                        scale = sumqx / sumq2
                        best = scale * sumqx
                        L.update(from: Laux, count: 16)
                        s.onGrid.update(from: s.onGridAux, count: 2)
                    }
                }
            }
            if (s.onGrid[0] == 0 || s.onGrid[1] == 0) && scale > 0 {
                let id = 1 / scale
                for k in 0..<2 where s.onGrid[k] == 0 {
                    var u = 0
                    for i in 0..<8 {
                        let l = Swift.max(0, Swift.min(kMaxQ - 1, nearestInt(0.5 * (id * xval[8 * k + i] - 1))))
                        u |= Int(l) << (2 * i)
                        L[8 * k + i] = Int8(l)
                    }
                    let entry = grid.map[u]
                    if entry < 0 {
                        _ = grid.bestNeighbour(grid.neighbourList(entry), xval + 8 * k, waux + 8 * k, scale, L + 8 * k,
                                               fast: search != nil, IQ2Shape.self)
                    }
                }
                var sumqx: Float = 0, sumq2: Float = 0
                for i in 0..<16 {
                    let w = weight[i]
                    let q = Float(2 * Int32(L[i]) + 1)
                    sumqx += w * xval[i] * q
                    sumq2 += w * q * q
                }
                if sumq2 > 0 { scale = sumqx / sumq2 }
            }
            if scale < 0 {
                // ggml's guard (never taken in practice): a positive scale with the signs flipped.
                scale = -scale
                for k in 0..<2 { s.signs[k] = ~s.signs[k] & 127 }
            }
            for k in 0..<2 {
                var u = 0
                for i in 0..<8 { u |= Int(L[8 * k + i]) << (2 * i) }
                // Always on the grid (ggml aborts otherwise); point 0 keeps a malformed input finite.
                let index = UInt16(truncatingIfNeeded: Swift.max(0, grid.map[u]))
                let v = index | (UInt16(s.signs[k]) << 9)
                q2.storeBytes(of: v.littleEndian, toByteOffset: 2 * (2 * ib + k), as: UInt16.self)
            }
            scales[ib] = scale
            maxScale = maxScale > scale ? maxScale : scale
        }

        yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
        if maxScale == 0 { return }
        let d = maxScale / 31
        yb.storeHalf(d, at: 0)
        let id = 1 / d
        let sc = (yb + 66).assumingMemoryBound(to: UInt8.self)
        for ib in 0..<16 {
            let l = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
            if ib % 2 == 0 {
                sc[ib / 2] = UInt8(l)
            } else {
                sc[ib / 2] |= UInt8(l) << 4
            }
        }
        (yb + 2).copyMemory(from: q2, byteCount: 64)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        IQGrids.iq2xs.withUnsafeBufferPointer { gp in
            IQGrids.ksigns.withUnsafeBufferPointer { sp in
                let grid = UnsafeRawPointer(gp.baseAddress!).assumingMemoryBound(to: UInt8.self)
                let ksigns = sp.baseAddress!
                for b in 0..<(count / 256) {
                    let xb = x + blockBytes * b
                    let d = xb.loadHalf(at: 0)
                    var out = y + 256 * b
                    for ib in 0..<8 {
                        let sc = xb.byte(66 + ib)
                        let db0 = d * (0.5 + Float(sc & 0xF)) * 0.25
                        let db1 = d * (0.5 + Float(sc >> 4)) * 0.25
                        for l in 0..<4 {
                            let q = UInt16(littleEndian: xb.loadUnaligned(fromByteOffset: 2 + 2 * (4 * ib + l), as: UInt16.self))
                            let g = grid + 8 * Int(q & 511)
                            let signs = ksigns[Int(q >> 9)]
                            let dl = l < 2 ? db0 : db1
                            for j in 0..<8 {
                                out[j] = dl * Float(g[j]) * ((signs & (UInt8(1) << j)) != 0 ? -1 : 1)
                            }
                            out += 8
                        }
                    }
                }
            }
        }
    }
}
