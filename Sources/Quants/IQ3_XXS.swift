import GGUF

/// IQ3_XXS (3.0625 bits per weight): super-blocks of 256 in eight sub-blocks of 32;
/// `d: f16, qs: [64] grid indices, [8] UInt32 sub-block words` (98 bytes). Each group of four
/// weights is a point of the 256-point `iq3xxs` grid; a sub-block word holds four groups' seven
/// sign bits (the eighth makes the count even, `IQGrids.ksigns`) in bits 0–27 and a 4-bit scale s
/// in bits 28–31: y = d·(0.5 + s)·0.5·grid·sign.
///
/// Quantization matches ggml-quants.c `quantize_iq3_xxs` (→ `quantize_row_iq3_xxs_impl` with grid
/// size 256) byte for byte, with or without an importance matrix; dequantization is
/// `dequantize_row_iq3_xxs`.
enum IQ3_XXS: BlockFormat {
    static let type = GGMLType.iq3_XXS
    static let blockBytes = 98
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// b10572's AVX2 `ggml_vec_dot_iq3_xxs_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .iq3XXS)

    /// ggml's `GROUP_MAX_EPS_IQ3_XXS`.
    static let groupMaxEps: Float = 1e-8

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        let grid = IQLattice.iq3xxs
        IQSearchScratch.with { search in
            withScratch(floats: 32 * 3 + 8, bytes: 32 * 2 + 96 + 8 * 2 + 4) { f, b in
                let s = Scratch(weight: f, xval: f + 32, waux: f + 64, scales: f + 96,
                                L: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Int8.self),
                                Laux: UnsafeMutableRawPointer(b + 32).assumingMemoryBound(to: Int8.self),
                                q3: b + 64, onGrid: b + 160, onGridAux: b + 168, signs: b + 176)
                for ibl in 0..<(count / 256) {
                    quantizeBlock(x + 256 * ibl, importance.map { $0 + 256 * ibl }, y + blockBytes * ibl, grid, s, fast ? search : nil)
                }
            }
        }
    }

    struct Scratch {
        let weight, xval, waux, scales: UnsafeMutablePointer<Float>
        let L, Laux: UnsafeMutablePointer<Int8>
        let q3, onGrid, onGridAux, signs: UnsafeMutablePointer<UInt8>
    }

    /// One super-block, in quantize_row_iq3_xxs_impl's order of operations.
    @inline(__always)
    static func quantizeBlock(_ xbl: UnsafePointer<Float>, _ qwbl: UnsafePointer<Float>?, _ yb: UnsafeMutableRawPointer,
                              _ grid: IQLattice, _ s: Scratch, _ search: IQSearchScratch?) {
        let kMaxQ: Int32 = 8
        let weight = s.weight, xval = s.xval, waux = s.waux, scales = s.scales
        let L = s.L, Laux = s.Laux, q3 = s.q3
        q3.initialize(repeating: 0, count: 96)
        var maxScale: Float = 0
        var sumx2: Float = 0
        for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
        let sigma2 = 2 * sumx2 / 256

        for ib in 0..<8 {
            let xb = xbl + 32 * ib
            if let qwbl {
                let qw = qwbl + 32 * ib
                for i in 0..<32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
            } else {
                for i in 0..<32 { weight[i] = xb[i] * xb[i] }
            }
            for i in 0..<32 { waux[i] = weight[i].squareRoot() }
            iqEvenSigns(xb, weight, xval, s.signs)
            var max = xval[0]
            for i in 1..<32 { max = max > xval[i] ? max : xval[i] }
            L.initialize(repeating: 0, count: 32)
            if max < groupMaxEps {
                scales[ib] = 0
                continue
            }
            var best: Float = 0
            var scale = max / Float(2 * kMaxQ - 1)
            s.onGrid.initialize(repeating: 1, count: 8)
            if let search {
                _ = grid.searchScale(IQ3Shape.self, count: 32, kMaxQ: kMaxQ, trials: 31, first: -15, step: 0.2, denominator: max,
                                     xval, weight, waux, L, s.onGrid, &scale, search)
            } else {
                for step in -15...15 {
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
                let id = 1 / scale
                for k in 0..<8 where s.onGrid[k] == 0 {
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
                // ggml's guard (never taken in practice): a positive scale with the signs flipped.
                scale = -scale
                for k in 0..<4 { s.signs[k] = ~s.signs[k] & 127 }
            }
            for k in 0..<8 {
                var u = 0
                for i in 0..<4 { u |= Int(L[4 * k + i]) << (3 * i) }
                // Always on the grid (ggml aborts otherwise); point 0 keeps a malformed input finite.
                q3[8 * ib + k] = UInt8(truncatingIfNeeded: Swift.max(0, grid.map[u]))
            }
            let word = UInt32(s.signs[0]) | (UInt32(s.signs[1]) << 7) | (UInt32(s.signs[2]) << 14) | (UInt32(s.signs[3]) << 21)
            (UnsafeMutableRawPointer(q3) + 64).storeBytes(of: word.littleEndian, toByteOffset: 4 * ib, as: UInt32.self)
            scales[ib] = scale
            maxScale = maxScale > scale ? maxScale : scale
        }

        if maxScale == 0 {
            yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
            return
        }
        let d = maxScale / 31
        yb.storeHalf(d * 1.0125, at: 0)  // ggml's fudge factor
        let id = 1 / d
        let words = UnsafeMutableRawPointer(q3) + 64
        for ib in 0..<8 {
            let l = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
            let w = UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * ib, as: UInt32.self)) | (UInt32(l) << 28)
            words.storeBytes(of: w.littleEndian, toByteOffset: 4 * ib, as: UInt32.self)
        }
        (yb + 2).copyMemory(from: q3, byteCount: 96)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        IQGrids.iq3xxs.withUnsafeBufferPointer { gp in
            IQGrids.ksigns.withUnsafeBufferPointer { sp in
                let grid = UnsafeRawPointer(gp.baseAddress!).assumingMemoryBound(to: UInt8.self)
                let ksigns = sp.baseAddress!
                for b in 0..<(count / 256) {
                    let xb = x + blockBytes * b
                    let d = xb.loadHalf(at: 0)
                    var out = y + 256 * b
                    for ib in 0..<8 {
                        let qs = xb + 2 + 8 * ib
                        let word = UInt32(littleEndian: xb.loadUnaligned(fromByteOffset: 66 + 4 * ib, as: UInt32.self))
                        let db = d * (0.5 + Float(word >> 28)) * 0.5
                        for l in 0..<4 {
                            let signs = ksigns[Int((word >> (7 * UInt32(l))) & 127)]
                            let g1 = grid + 4 * Int(qs.byte(2 * l)), g2 = grid + 4 * Int(qs.byte(2 * l + 1))
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
}
