import GGUF

/// IQ2_S (2.5625 bits per weight): super-blocks of 256 in sixteen sub-blocks of 16;
/// `d: f16, qs: [32] low index bytes + [32] sign bytes, qh: [8], scales: [8]` (82 bytes). Each
/// group of eight weights is a point of the 1024-point `iq2s` grid (two high index bits per
/// group in `qh`) with one plain sign bit per weight; each scale byte holds two 4-bit sub-block
/// scales s (low nibble first): y = d·(0.5 + s)·0.25·grid·sign.
///
/// Quantization matches ggml-quants.c `quantize_iq2_s` (→ `quantize_row_iq2_s_impl`) byte for
/// byte, with or without an importance matrix; dequantization is `dequantize_row_iq2_s`.
enum IQ2_S: BlockFormat {
    static let type = GGMLType.iq2_S
    static let blockBytes = 82
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// b10572's AVX2 `ggml_vec_dot_iq2_s_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .iq2S)

    /// ggml's `GROUP_MAX_EPS_IQ2_S`.
    static let groupMaxEps: Float = 1e-8

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        let grid = IQLattice.iq2s
        IQSearchScratch.with { search in
            withScratch(floats: 16 * 3 + 16, bytes: 16 * 2 + 8) { f, b in
                let s = Scratch(weight: f, xval: f + 16, waux: f + 32, scales: f + 48,
                                L: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Int8.self),
                                Laux: UnsafeMutableRawPointer(b + 16).assumingMemoryBound(to: Int8.self),
                                onGrid: b + 32, onGridAux: b + 34, signs: b + 36)
                for ibl in 0..<(count / 256) {
                    quantizeBlock(x + 256 * ibl, importance.map { $0 + 256 * ibl }, y + blockBytes * ibl, grid, s, fast ? search : nil)
                }
            }
        }
    }

    struct Scratch {
        let weight, xval, waux, scales: UnsafeMutablePointer<Float>
        let L, Laux: UnsafeMutablePointer<Int8>
        let onGrid, onGridAux, signs: UnsafeMutablePointer<UInt8>
    }

    /// One super-block, in quantize_row_iq2_s_impl's order of operations.
    @inline(__always)
    static func quantizeBlock(_ xbl: UnsafePointer<Float>, _ qwbl: UnsafePointer<Float>?, _ yb: UnsafeMutableRawPointer,
                              _ grid: IQLattice, _ s: Scratch, _ search: IQSearchScratch?) {
        let kMaxQ: Int32 = 3
        let weight = s.weight, xval = s.xval, waux = s.waux, scales = s.scales
        let L = s.L, Laux = s.Laux
        yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
        let qs = (yb + 2).assumingMemoryBound(to: UInt8.self)
        let qh = (yb + 66).assumingMemoryBound(to: UInt8.self)
        var maxScale: Float = 0
        var sumx2: Float = 0
        for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
        let sigma2 = 2 * sumx2 / 256

        for ib in 0..<16 {
            let xb = xbl + 16 * ib
            if let qwbl {
                let qw = qwbl + 16 * ib
                for i in 0..<16 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
            } else {
                for i in 0..<16 { weight[i] = 0.25 * sigma2 + xb[i] * xb[i] }
            }
            for i in 0..<16 { waux[i] = weight[i].squareRoot() }
            for k in 0..<2 {
                var sg: UInt8 = 0
                for i in 0..<8 {
                    let v = xb[8 * k + i]
                    if v >= 0 {
                        xval[8 * k + i] = v
                    } else {
                        xval[8 * k + i] = -v
                        sg |= UInt8(1) << i
                    }
                }
                s.signs[k] = sg
            }
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
                // ggml's guard (never taken in practice): a positive scale with all signs flipped.
                scale = -scale
                for k in 0..<2 { s.signs[k] = ~s.signs[k] }
            }
            for k in 0..<2 {
                var u = 0
                for i in 0..<8 { u |= Int(L[8 * k + i]) << (2 * i) }
                // Always on the grid (ggml aborts otherwise); point 0 keeps a malformed input finite.
                let index = Int(Swift.max(0, grid.map[u]))
                let i8 = 2 * ib + k
                qs[i8] = UInt8(truncatingIfNeeded: index)
                qh[i8 / 4] |= UInt8(truncatingIfNeeded: (index >> 8) << (2 * (i8 % 4)))
                qs[32 + i8] = s.signs[k]
            }
            scales[ib] = scale
            maxScale = maxScale > scale ? maxScale : scale
        }

        if maxScale == 0 { return }
        let d = maxScale / 31
        yb.storeHalf(d * 0.9875, at: 0)  // ggml's fudge factor
        let id = 1 / d
        let sc = (yb + 74).assumingMemoryBound(to: UInt8.self)
        for ib in 0..<16 {
            let l = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
            if ib % 2 == 0 {
                sc[ib / 2] = UInt8(l)
            } else {
                sc[ib / 2] |= UInt8(l) << 4
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        IQGrids.iq2s.withUnsafeBufferPointer { gp in
            let grid = UnsafeRawPointer(gp.baseAddress!).assumingMemoryBound(to: UInt8.self)
            for b in 0..<(count / 256) {
                let xb = x + blockBytes * b
                let d = xb.loadHalf(at: 0)
                var out = y + 256 * b
                for ib in 0..<8 {
                    let sc = xb.byte(74 + ib)
                    let qh = Int(xb.byte(66 + ib))
                    let db0 = d * (0.5 + Float(sc & 0xF)) * 0.25
                    let db1 = d * (0.5 + Float(sc >> 4)) * 0.25
                    for l in 0..<4 {
                        let g = grid + 8 * (Int(xb.byte(2 + 4 * ib + l)) | ((qh << (8 - 2 * l)) & 0x300))
                        let signs = xb.byte(34 + 4 * ib + l)
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
