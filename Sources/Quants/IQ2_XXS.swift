import GGUF

/// IQ2_XXS (2.0625 bits per weight): super-blocks of 256 in eight sub-blocks of 32;
/// `d: f16, qs: [16] UInt32` (66 bytes). Per sub-block two words: the first holds four indices
/// into the 256-point `iq2xxs` grid (eight weights each), the second four groups' seven sign bits
/// (`IQGrids.ksigns`) in bits 0–27 and a 4-bit scale s in bits 28–31: y = d·(0.5 + s)·0.25·grid·sign.
///
/// Quantization matches ggml-quants.c `quantize_iq2_xxs` (→ `quantize_row_iq2_xxs_impl`) byte for
/// byte. llama.cpp requires an importance matrix for this type (ggml asserts without one); given
/// none, this quantizer uses importance 1 for every column. Dequantization is
/// `dequantize_row_iq2_xxs`.
enum IQ2_XXS: BlockFormat {
    static let type = GGMLType.iq2_XXS
    static let blockBytes = 66
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    static let requiresImportance = true
    /// b10572's AVX2 `ggml_vec_dot_iq2_xxs_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .iq2XXS)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        let grid = IQLattice.iq2xxs
        IQSearchScratch.with { search in
            withScratch(floats: 32 * 3 + 8, bytes: 32 * 2 + 64 + 4) { f, b in
                let s = Scratch(weight: f, xval: f + 32, waux: f + 64, scales: f + 96,
                                L: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Int8.self),
                                Laux: UnsafeMutableRawPointer(b + 32).assumingMemoryBound(to: Int8.self),
                                q2: UnsafeMutableRawPointer(b + 64), signs: b + 128)
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
        let signs: UnsafeMutablePointer<UInt8>
    }

    @inline(__always)
    static func orWord(_ p: UnsafeMutableRawPointer, _ i: Int, _ v: UInt32) {
        let w = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) | v
        p.storeBytes(of: w.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
    }

    /// One super-block, in quantize_row_iq2_xxs_impl's order of operations.
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

        for ib in 0..<8 {
            let xb = xbl + 32 * ib
            if let qwbl {
                let qw = qwbl + 32 * ib
                for i in 0..<32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
            } else {
                for i in 0..<32 { weight[i] = (sigma2 + xb[i] * xb[i]).squareRoot() }
            }
            for i in 0..<32 { waux[i] = weight[i].squareRoot() }
            iqEvenSigns(xb, weight, xval, s.signs)
            var max = xval[0]
            for i in 1..<32 { max = max > xval[i] ? max : xval[i] }
            if max < groupMaxEps {
                scales[ib] = 0
                L.initialize(repeating: 0, count: 32)
                continue
            }
            var scale = UnsafeMutableRawPointer(L).withMemoryRebound(to: UInt8.self, capacity: 32) {
                makeQPQuants(32, kMaxQ + 1, xval, $0, weight, lanes: search != nil)
            }
            let effMax = scale * Float(kMaxQ)
            if effMax <= 0 {
                scales[ib] = 0
                L.initialize(repeating: 0, count: 32)
                continue
            }
            var best: Float = 0
            if let search {
                _ = grid.searchScale(IQ2Shape.self, count: 32, kMaxQ: kMaxQ, trials: 13, first: -6, step: 0.1, denominator: effMax,
                                     xval, weight, waux, L, nil, &scale, search)
            } else {
                for step in -6...6 {
                    let id = (Float(2 * kMaxQ - 1) + Float(step) * 0.1) / effMax
                    let thisScale = 1 / id
                    for k in 0..<4 {
                        var u = 0
                        for i in 0..<8 {
                            let l = nearestInt(0.5 * (id * xval[8 * k + i] - 1))
                            let c = Swift.max(0, Swift.min(kMaxQ - 1, l))
                            Laux[8 * k + i] = Int8(c)
                            u |= Int(c) << (2 * i)
                        }
                        let entry = grid.map[u]
                        if entry < 0 {
                            _ = grid.bestNeighbour(grid.neighbourList(entry), xval + 8 * k, waux + 8 * k, thisScale, Laux + 8 * k)
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
                    }
                }
            }
            if scale > 0 {
                let id = 1 / scale
                for k in 0..<4 {
                    var u = 0
                    for i in 0..<8 {
                        let l = nearestInt(0.5 * (id * xval[8 * k + i] - 1))
                        u |= Int(Swift.max(0, Swift.min(kMaxQ - 1, l))) << (2 * i)
                    }
                    var index = Int(grid.map[u])
                    if index < 0 {
                        index = grid.bestNeighbour(grid.neighbourList(Int32(index)), xval + 8 * k, waux + 8 * k, scale, L + 8 * k,
                                               fast: search != nil, IQ2Shape.self)
                    }
                    let pg = grid.points + 8 * index
                    for i in 0..<8 { L[8 * k + i] = (pg[i] - 1) / 2 }
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
            for k in 0..<4 {
                var u = 0
                for i in 0..<8 { u |= (Int(L[8 * k + i]) & 3) << (2 * i) }
                // Always on the grid (ggml aborts otherwise); point 0 keeps a malformed input finite.
                let index = UInt32(truncatingIfNeeded: u < grid.mapSize ? Swift.max(0, grid.map[u]) : 0)
                orWord(q2, 2 * ib, index << (8 * UInt32(k)))
                orWord(q2, 2 * ib + 1, UInt32(s.signs[k]) << (7 * UInt32(k)))
            }
            scales[ib] = scale
            maxScale = maxScale > scale ? maxScale : scale
        }

        if maxScale == 0 {
            yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
            return
        }
        let d = maxScale / 31
        yb.storeHalf(d, at: 0)
        let id = 1 / d
        for ib in 0..<8 {
            let l = Swift.max(0, Swift.min(15, nearestInt(0.5 * (id * scales[ib] - 1))))
            orWord(q2, 2 * ib + 1, UInt32(l) << 28)
        }
        (yb + 2).copyMemory(from: q2, byteCount: 64)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        IQGrids.iq2xxs.withUnsafeBufferPointer { gp in
            IQGrids.ksigns.withUnsafeBufferPointer { sp in
                let grid = UnsafeRawPointer(gp.baseAddress!).assumingMemoryBound(to: UInt8.self)
                let ksigns = sp.baseAddress!
                for b in 0..<(count / 256) {
                    let xb = x + blockBytes * b
                    let d = xb.loadHalf(at: 0)
                    var out = y + 256 * b
                    for ib in 0..<8 {
                        let indices = xb + 2 + 8 * ib
                        let word = UInt32(littleEndian: xb.loadUnaligned(fromByteOffset: 6 + 8 * ib, as: UInt32.self))
                        let db = d * (0.5 + Float(word >> 28)) * 0.25
                        for l in 0..<4 {
                            let g = grid + 8 * Int(indices.byte(l))
                            let signs = ksigns[Int((word >> (7 * UInt32(l))) & 127)]
                            for j in 0..<8 {
                                out[j] = db * Float(g[j]) * ((signs & (UInt8(1) << j)) != 0 ? -1 : 1)
                            }
                            out += 8
                        }
                    }
                }
            }
        }
    }
}
