import GGUF

/// IQ1_S (1.5625 bits per weight): super-blocks of 256 in eight sub-blocks of 32;
/// `d: f16, qs: [32], qh: [8] UInt16` (50 bytes). Each group of eight weights is a point of the
/// 2048-point `iq1s` grid (levels −1, 0, 1): low index byte in `qs`, three high bits per group in
/// bits 0–11 of the sub-block's `qh`, whose bits 12–14 hold a 3-bit scale s and bit 15 the sign
/// of the shift δ = 0.125: y = d·(2s + 1)·(grid ± δ).
///
/// Quantization matches ggml-quants.c `quantize_iq1_s` (→ `quantize_row_iq1_s_impl`) byte for
/// byte. llama.cpp requires an importance matrix for this type (ggml asserts without one); given
/// none, this quantizer uses importance 1 for every column. Dequantization is
/// `dequantize_row_iq1_s`.
enum IQ1_S: BlockFormat {
    static let type = GGMLType.iq1_S
    static let blockBytes = 50
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    static let requiresImportance = true
    /// b10572's AVX2 `ggml_vec_dot_iq1_s_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .iq1S)

    /// ggml's `GROUP_MAX_EPS_IQ1_S`.
    static let groupMaxEps: Float = 1e-12
    /// ggml's `IQ1S_DELTA`.
    static let delta: Float = 0.125

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: true)
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        quantize(x, y, count: count, importance: importance, fast: false)
    }

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         importance: UnsafePointer<Float>?, fast: Bool) {
        let grid = IQLattice.iq1s
        withScratch(floats: 32 + 33 + 33 + 32 + 32 + 8 + 6, bytes: 32 + 8) { f, b in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 68) { ib in
                let s = Scratch(weight: f, sumx: f + 32, sumw: f + 65, values: f + 98, tmpValues: f + 130,
                                scales: f + 162, xp: f + 170, xm: f + 173,
                                order: ib.baseAddress!, tmpOrder: ib.baseAddress! + 32, index: ib.baseAddress! + 64,
                                L: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Int8.self),
                                shifts: UnsafeMutableRawPointer(b + 32).assumingMemoryBound(to: Int8.self))
                s.xp[0] = -1 + delta; s.xp[1] = delta; s.xp[2] = 1 + delta
                s.xm[0] = -1 - delta; s.xm[1] = -delta; s.xm[2] = 1 - delta
                for ibl in 0..<(count / 256) {
                    quantizeBlock(x + 256 * ibl, importance.map { $0 + 256 * ibl }, y + blockBytes * ibl, grid, s)
                }
            }
        }
    }

    struct Scratch {
        let weight, sumx, sumw, values, tmpValues, scales, xp, xm: UnsafeMutablePointer<Float>
        let order, tmpOrder, index: UnsafeMutablePointer<Int32>
        let L, shifts: UnsafeMutablePointer<Int8>
    }

    /// One super-block, in quantize_row_iq1_s_impl's order of operations.
    @inline(__always)
    static func quantizeBlock(_ xbl: UnsafePointer<Float>, _ qwbl: UnsafePointer<Float>?, _ yb: UnsafeMutableRawPointer,
                              _ grid: IQLattice, _ s: Scratch) {
        let weight = s.weight, sumx = s.sumx, sumw = s.sumw, scales = s.scales, L = s.L
        let xp = s.xp, xm = s.xm
        yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
        let qs = (yb + 2).assumingMemoryBound(to: UInt8.self)
        var maxScale: Float = 0
        var sumx2: Float = 0
        for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
        let sigma2 = 2 * sumx2 / 256
        let index = s.index

        for ib in 0..<8 {
            let xb = xbl + 32 * ib
            if let qwbl {
                let qw = qwbl + 32 * ib
                for i in 0..<32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
            } else {
                for i in 0..<32 { weight[i] = (sigma2 + xb[i] * xb[i]).squareRoot() }
            }
            var max = abs(xb[0])
            for i in 1..<32 { max = max > abs(xb[i]) ? max : abs(xb[i]) }
            if max < groupMaxEps {
                scales[ib] = 0
                s.shifts[ib] = 1
                continue
            }
            // The exact weighted fit to three levels: sort by value, then try every pair of cuts.
            for j in 0..<32 {
                s.values[j] = xb[j]
                s.order[j] = Int32(j)
            }
            glibcSortPairs(s.values, s.order, 32, s.tmpValues, s.tmpOrder)
            sumx[0] = 0
            sumw[0] = 0
            for j in 0..<32 {
                let i = Int(s.order[j])
                sumx[j + 1] = sumx[j] + weight[i] * xb[i]
                sumw[j + 1] = sumw[j] + weight[i]
            }
            var bestScore = -Float.greatestFiniteMagnitude, scale = max
            var besti1 = -1, besti2 = -1, bestShift = 0
            for i1 in 0...32 {
                for i2 in i1...32 {
                    var sumqx = (sumx[i1] - sumx[0]) * xp[0] + (sumx[i2] - sumx[i1]) * xp[1] + (sumx[32] - sumx[i2]) * xp[2]
                    var sumq2 = (sumw[i1] - sumw[0]) * xp[0] * xp[0] + (sumw[i2] - sumw[i1]) * xp[1] * xp[1]
                        + (sumw[32] - sumw[i2]) * xp[2] * xp[2]
                    if sumq2 > 0 && sumqx * sumqx > bestScore * sumq2 {
                        scale = sumqx / sumq2
                        bestScore = scale * sumqx
                        besti1 = i1; besti2 = i2; bestShift = 1
                    }
                    sumqx = (sumx[i1] - sumx[0]) * xm[0] + (sumx[i2] - sumx[i1]) * xm[1] + (sumx[32] - sumx[i2]) * xm[2]
                    sumq2 = (sumw[i1] - sumw[0]) * xm[0] * xm[0] + (sumw[i2] - sumw[i1]) * xm[1] * xm[1]
                        + (sumw[32] - sumw[i2]) * xm[2] * xm[2]
                    if sumq2 > 0 && sumqx * sumqx > bestScore * sumq2 {
                        scale = sumqx / sumq2
                        bestScore = scale * sumqx
                        besti1 = i1; besti2 = i2; bestShift = -1
                    }
                }
            }
            if besti1 < 0 || besti2 < 0 || bestShift == 0 {
                scales[ib] = 0
                s.shifts[ib] = 1
                continue
            }
            for j in 0..<besti1 { L[Int(s.order[j])] = 0 }
            for j in besti1..<besti2 { L[Int(s.order[j])] = 1 }
            for j in besti2..<32 { L[Int(s.order[j])] = 2 }
            if scale < 0 {
                for j in 0..<32 { L[j] = 2 - L[j] }
                scale = -scale
                bestShift = -bestShift
            }
            var allOnGrid = true
            let xx = UnsafePointer(bestShift == 1 ? xp : xm)
            for k in 0..<4 {
                var u = 0
                for j in 0..<8 { u |= Int(L[8 * k + j]) << (2 * j) }
                var gi = Int(grid.map[u])
                if gi < 0 {
                    allOnGrid = false
                    gi = grid.bestShiftedNeighbour(grid.neighbourList(Int32(gi)), xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k)
                }
                index[k] = Int32(gi)
            }
            if !allOnGrid {
                var sumqx: Float = 0, sumq2: Float = 0
                for k in 0..<4 {
                    let pg = grid.points + 8 * Int(index[k])
                    for j in 0..<8 {
                        let w = weight[8 * k + j]
                        let q = xx[Int((pg[j] - 1) / 2)]
                        sumqx += w * q * xb[8 * k + j]
                        sumq2 += w * q * q
                    }
                }
                if sumqx > 0 && sumq2 > 0 { scale = sumqx / sumq2 }
            }
            var h: UInt16 = 0
            for k in 0..<4 {
                qs[4 * ib + k] = UInt8(truncatingIfNeeded: index[k])
                h |= UInt16(truncatingIfNeeded: (index[k] >> 8) << (3 * k))
            }
            yb.storeBytes(of: h.littleEndian, toByteOffset: 34 + 2 * ib, as: UInt16.self)
            scales[ib] = scale
            s.shifts[ib] = Int8(bestShift)
            maxScale = maxScale > scale ? maxScale : scale
        }

        if maxScale == 0 { return }
        let d = maxScale / 15
        yb.storeHalf(d * 1.125, at: 0)  // ggml's fudge factor
        let id = 1 / d
        for ib in 0..<8 {
            var l = Swift.max(0, Swift.min(7, nearestInt(0.5 * (id * scales[ib] - 1))))
            if s.shifts[ib] == -1 { l |= 8 }
            let h = UInt16(littleEndian: yb.loadUnaligned(fromByteOffset: 34 + 2 * ib, as: UInt16.self)) | (UInt16(l) << 12)
            yb.storeBytes(of: h.littleEndian, toByteOffset: 34 + 2 * ib, as: UInt16.self)
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        IQGrids.iq1s.withUnsafeBufferPointer { gp in
            let grid = UnsafeRawPointer(gp.baseAddress!).assumingMemoryBound(to: Int8.self)
            for b in 0..<(count / 256) {
                let xb = x + blockBytes * b
                let d = xb.loadHalf(at: 0)
                var out = y + 256 * b
                for ib in 0..<8 {
                    let qh = Int(UInt16(littleEndian: xb.loadUnaligned(fromByteOffset: 34 + 2 * ib, as: UInt16.self)))
                    let dl = d * Float(2 * ((qh >> 12) & 7) + 1)
                    let delta: Float = qh & 0x8000 != 0 ? -Self.delta : Self.delta
                    for l in 0..<4 {
                        let g = grid + 8 * (Int(xb.byte(2 + 4 * ib + l)) | (((qh >> (3 * l)) & 7) << 8))
                        for j in 0..<8 { out[j] = dl * (Float(g[j]) + delta) }
                        out += 8
                    }
                }
            }
        }
    }
}
