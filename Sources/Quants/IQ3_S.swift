import GGUF

/// IQ3_S (3.4375 bits per weight): super-blocks of 256 in eight sub-blocks of 32;
/// `d: f16, qs: [64], qh: [8], signs: [32], scales: [4]` (110 bytes). Each group of four weights
/// is a point of the 512-point `iq3s` grid: low eight index bits in `qs`, the ninth in `qh`
/// (one bit per group); `signs` holds one plain sign bit per weight; each scale byte two 4-bit
/// sub-block scales s (low nibble first): y = d·(1 + 2s)·grid·sign.
///
/// Quantization matches ggml-quants.c `quantize_iq3_s` (→ `quantize_row_iq3_s_impl` with blocks of
/// 32) byte for byte, with or without an importance matrix; dequantization is
/// `dequantize_row_iq3_s`.
enum IQ3_S: BlockFormat {
    static let type = GGMLType.iq3_S
    static let blockBytes = 110
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// b10572's AVX2 `ggml_vec_dot_iq3_s_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .iq3S)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        let grid = IQLattice.iq3s
        IQSearchScratch.with { search in
            withScratch(floats: 32 * 3 + 8, bytes: 32 * 2 + 8 * 2 + 4) { f, b in
                let s = Scratch(weight: f, xval: f + 32, waux: f + 64, scales: f + 96,
                                L: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Int8.self),
                                Laux: UnsafeMutableRawPointer(b + 32).assumingMemoryBound(to: Int8.self),
                                onGrid: b + 64, onGridAux: b + 72, signs: b + 80)
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

    /// One super-block, in quantize_row_iq3_s_impl's order of operations.
    @inline(__always)
    static func quantizeBlock(_ xbl: UnsafePointer<Float>, _ qwbl: UnsafePointer<Float>?, _ yb: UnsafeMutableRawPointer,
                              _ grid: IQLattice, _ s: Scratch, _ search: IQSearchScratch?) {
        let kMaxQ: Int32 = 8
        let weight = s.weight, xval = s.xval, waux = s.waux, scales = s.scales
        let L = s.L, Laux = s.Laux
        yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
        let qs = (yb + 2).assumingMemoryBound(to: UInt8.self)
        let qh = (yb + 66).assumingMemoryBound(to: UInt8.self)
        let signs = (yb + 74).assumingMemoryBound(to: UInt8.self)
        var maxScale: Float = 0
        var sumx2: Float = 0
        for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
        let sigma2 = 2 * sumx2 / 256
        // ggml advances its qs and signs pointers only past sub-blocks it quantizes (an all-zero
        // sub-block is skipped before the advance), so after a skipped one the later sub-blocks'
        // indices and signs sit one sub-block early and the block's tail stays zero. The ninth
        // index bits in qh use the true position.
        var stored = 0

        for ib in 0..<8 {
            let xb = xbl + 32 * ib
            if let qwbl {
                let qw = qwbl + 32 * ib
                for i in 0..<32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
            } else {
                for i in 0..<32 { weight[i] = xb[i] * xb[i] }
            }
            for i in 0..<32 { waux[i] = weight[i].squareRoot() }
            for k in 0..<4 {
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
            for i in 1..<32 { max = max > xval[i] ? max : xval[i] }
            L.initialize(repeating: 0, count: 32)
            if max == 0 {
                scales[ib] = 0
                continue
            }
            var best: Float = 0
            var scale = max / Float(2 * kMaxQ - 1)
            s.onGrid.initialize(repeating: 0, count: 8)
            if let search {
                _ = grid.searchScale(IQ3Shape.self, count: 32, kMaxQ: kMaxQ, trials: 19, first: -9, step: 0.2, denominator: max,
                                     xval, weight, waux, L, s.onGrid, &scale, search)
            } else {
                for step in -9...9 {
                    let id = (Float(2 * kMaxQ - 1) + Float(step) * 0.2) / max
                    let thisScale = 1 / id
                    for k in 0..<8 {
                        var u = 0
                        for i in 0..<4 {
                            let l = nearestInt(0.5 * (id * xval[4 * k + i] - 1))
                            let c = Swift.max(0, Swift.min(kMaxQ - 1, l))
                            Laux[4 * k + i] = Int8(c)
                            u |= Int(c) << (3 * i)
                        }
                        let entry = grid.map[u]
                        s.onGridAux[k] = 1
                        if entry < 0 {
                            s.onGridAux[k] = 0
                            _ = grid.bestNeighbour(grid.neighbourList(entry), xval + 4 * k, waux + 4 * k, thisScale, Laux + 4 * k)
                        }
                    }
                    var sumqx: Float = 0, sumq2: Float = 0
                    for i in 0..<32 {
                        let w = weight[i]
                        let q = Float(2 * Int32(Laux[i]) + 1)
                        sumqx += w * xval[i] * q
                        sumq2 += w * q * q
                    }
                    if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                        scale = sumqx / sumq2
                        best = scale * sumqx
                        L.update(from: Laux, count: 32)
                        s.onGrid.update(from: s.onGridAux, count: 8)
                    }
                }
            }
            var offGrid = 0
            for k in 0..<8 where s.onGrid[k] == 0 { offGrid += 1 }
            if offGrid > 0 && scale > 0 {
                // Unlike IQ3_XXS, every group is searched again, on the grid or not.
                let id = 1 / scale
                for k in 0..<8 {
                    var u = 0
                    for i in 0..<4 {
                        let l = nearestInt(0.5 * (id * xval[4 * k + i] - 1))
                        u |= Int(Swift.max(0, Swift.min(kMaxQ - 1, l))) << (3 * i)
                    }
                    var index = Int(grid.map[u])
                    if index < 0 {
                        index = grid.bestNeighbour(grid.neighbourList(Int32(index)), xval + 4 * k, waux + 4 * k, scale, L + 4 * k,
                                               fast: search != nil, IQ3Shape.self)
                    }
                    let pg = grid.points + 4 * index
                    for i in 0..<4 { L[4 * k + i] = (pg[i] - 1) / 2 }
                }
                var sumqx: Float = 0, sumq2: Float = 0
                for i in 0..<32 {
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
                for k in 0..<4 { s.signs[k] = ~s.signs[k] }
            }
            for k in 0..<8 {
                var u = 0
                for i in 0..<4 { u |= Int(L[4 * k + i]) << (3 * i) }
                // Always on the grid (ggml aborts otherwise); point 0 keeps a malformed input finite.
                let index = Int(Swift.max(0, grid.map[u]))
                qs[8 * stored + k] = UInt8(truncatingIfNeeded: index)
                let g = 8 * ib + k
                qh[g / 8] |= UInt8(truncatingIfNeeded: (index >> 8) << (g % 8))
            }
            for k in 0..<4 { signs[4 * stored + k] = s.signs[k] }
            stored += 1
            scales[ib] = scale
            maxScale = maxScale > scale ? maxScale : scale
        }

        if maxScale == 0 { return }
        let d = maxScale / 31
        yb.storeHalf(d * 1.033, at: 0)  // ggml's fudge factor
        let id = 1 / d
        let sc = (yb + 106).assumingMemoryBound(to: UInt8.self)
        for ib in stride(from: 0, to: 8, by: 2) {
            let l1 = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
            let l2 = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib + 1] - 1))))
            sc[ib / 2] = UInt8(l1) | (UInt8(l2) << 4)
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        IQGrids.iq3s.withUnsafeBufferPointer { gp in
            let grid = UnsafeRawPointer(gp.baseAddress!).assumingMemoryBound(to: UInt8.self)
            for b in 0..<(count / 256) {
                let xb = x + blockBytes * b
                let d = xb.loadHalf(at: 0)
                var out = y + 256 * b
                for ib in 0..<8 {
                    let sc = xb.byte(106 + ib / 2)
                    let db = d * Float(1 + 2 * Int32(ib % 2 == 0 ? sc & 0xF : sc >> 4))
                    let qs = xb + 2 + 8 * ib
                    let qh = Int(xb.byte(66 + ib))
                    for l in 0..<4 {
                        let signs = xb.byte(74 + 4 * ib + l)
                        let g1 = grid + 4 * (Int(qs.byte(2 * l)) | ((qh << (8 - 2 * l)) & 256))
                        let g2 = grid + 4 * (Int(qs.byte(2 * l + 1)) | ((qh << (7 - 2 * l)) & 256))
                        for j in 0..<4 {
                            out[j] = db * Float(g1[j]) * ((signs & (UInt8(1) << j)) != 0 ? -1 : 1)
                            out[j + 4] = db * Float(g2[j]) * ((signs & (UInt8(1) << (j + 4))) != 0 ? -1 : 1)
                        }
                        out += 8
                    }
                }
            }
        }
    }
}
