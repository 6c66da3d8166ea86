import GGUF

/// IQ1_M (1.75 bits per weight): super-blocks of 256 in sixteen sub-blocks of 16;
/// `qs: [32], qh: [16], scales: [4] UInt16` (56 bytes, no separate d). Each group of eight weights
/// is a point of the 2048-point `iq1s` grid (levels −1, 0, 1): low index byte in `qs`, three high
/// bits in a nibble of `qh` whose fourth bit is the sign of the group's shift δ = 0.125. The
/// scale words hold twelve bits of 3-bit sub-block scales s each and, in their top nibbles, the
/// fp16 super-block scale d: y = d·(2s + 1)·(grid ± δ).
///
/// Quantization matches ggml-quants.c `quantize_iq1_m` (→ `quantize_row_iq1_m_impl`) byte for
/// byte, with or without an importance matrix; dequantization is `dequantize_row_iq1_m`.
enum IQ1_M: BlockFormat {
    static let type = GGMLType.iq1_M
    static let blockBytes = 56
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// b10572's AVX2 `ggml_vec_dot_iq1_m_q8_K` order (LaneGEMM+IQLanes.swift).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0, iq: .iq1M)

    /// ggml's `GROUP_MAX_EPS_IQ1_M`.
    static let groupMaxEps: Float = 1e-7
    /// ggml's `IQ1M_DELTA` (and `IQ1S_DELTA`, which dequantization uses).
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
        withScratch(floats: 16 * 3 + 16 + 6 + 8, bytes: 16 + 16) { f, b in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 34) { ib in
                let s = Scratch(weight: f, values: f + 16, tmpValues: f + 32, scales: f + 48, xp: f + 64, xm: f + 67,
                                sums: f + 70,
                                order: ib.baseAddress!, tmpOrder: ib.baseAddress! + 16, index: ib.baseAddress! + 32,
                                L: UnsafeMutableRawPointer(b).assumingMemoryBound(to: Int8.self),
                                shifts: UnsafeMutableRawPointer(b + 16).assumingMemoryBound(to: Int8.self))
                s.xp[0] = -1 + delta; s.xp[1] = delta; s.xp[2] = 1 + delta
                s.xm[0] = -1 - delta; s.xm[1] = -delta; s.xm[2] = 1 - delta
                for ibl in 0..<(count / 256) {
                    quantizeBlock(x + 256 * ibl, importance.map { $0 + 256 * ibl }, y + blockBytes * ibl, grid, s)
                }
            }
        }
    }

    struct Scratch {
        let weight, values, tmpValues, scales, xp, xm, sums: UnsafeMutablePointer<Float>
        let order, tmpOrder, index: UnsafeMutablePointer<Int32>
        let L, shifts: UnsafeMutablePointer<Int8>
    }

    /// The shift of group `k` (0: first eight, 1: last eight) for shift pattern `shift`
    /// (0: +,+  1: +,−  2: −,+  3: −,−): true for +δ.
    @inline(__always)
    static func plus(_ shift: Int, _ k: Int) -> Bool { k == 0 ? shift < 2 : shift % 2 == 0 }

    /// One super-block, in quantize_row_iq1_m_impl's order of operations.
    @inline(__always)
    static func quantizeBlock(_ xbl: UnsafePointer<Float>, _ qwbl: UnsafePointer<Float>?, _ yb: UnsafeMutableRawPointer,
                              _ grid: IQLattice, _ s: Scratch) {
        let weight = s.weight, scales = s.scales, L = s.L, xp = s.xp, xm = s.xm, index = s.index
        let sumqx = s.sums, sumq2 = s.sums + 4
        yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
        let qs = yb.assumingMemoryBound(to: UInt8.self)
        let qh = (yb + 32).assumingMemoryBound(to: UInt8.self)
        var maxScale: Float = 0
        var sumx2: Float = 0
        for i in 0..<256 { sumx2 += xbl[i] * xbl[i] }
        let sigma2 = 2 * sumx2 / 256

        @inline(__always) func weights(_ ib: Int) {
            let xb = xbl + 16 * ib
            if let qwbl {
                let qw = qwbl + 16 * ib
                for i in 0..<16 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
            } else {
                for i in 0..<16 { weight[i] = xb[i] * xb[i] }
            }
        }

        for ib in 0..<16 {
            let xb = xbl + 16 * ib
            weights(ib)
            var max = abs(xb[0])
            for i in 1..<16 { max = max > abs(xb[i]) ? max : abs(xb[i]) }
            if max < groupMaxEps {
                scales[ib] = 0
                s.shifts[ib] = 0
                continue
            }
            for j in 0..<16 {
                s.values[j] = xb[j]
                s.order[j] = Int32(j)
            }
            glibcSortPairs(s.values, s.order, 16, s.tmpValues, s.tmpOrder)
            var bestScore = -Float.greatestFiniteMagnitude, scale = max
            var besti1 = -1, besti2 = -1, bestK = -1
            for i1 in 0...16 {
                for i2 in i1...16 {
                    for k in 0..<4 {
                        sumqx[k] = 0
                        sumq2[k] = 0
                    }
                    for j in 0..<16 {
                        let seg = j < i1 ? 0 : j < i2 ? 1 : 2
                        let i = Int(s.order[j])
                        let p = xp[seg], m = xm[seg], w = weight[i]
                        // Accumulators 0…3 are the shift patterns +,+  +,−  −,+  −,−.
                        let c1 = i < 8 ? p : m, c2 = i < 8 ? m : p
                        sumqx[0] += w * p * xb[i]
                        sumqx[1] += w * c1 * xb[i]
                        sumqx[2] += w * c2 * xb[i]
                        sumqx[3] += w * m * xb[i]
                        sumq2[0] += w * p * p
                        sumq2[1] += w * c1 * c1
                        sumq2[2] += w * c2 * c2
                        sumq2[3] += w * m * m
                    }
                    for k in 0..<4 where sumq2[k] > 0 && sumqx[k] * sumqx[k] > bestScore * sumq2[k] {
                        scale = sumqx[k] / sumq2[k]
                        bestScore = scale * sumqx[k]
                        besti1 = i1; besti2 = i2; bestK = k
                    }
                }
            }
            if besti1 < 0 || besti2 < 0 || bestK < 0 {
                scales[ib] = 0
                s.shifts[ib] = 0
                continue
            }
            for j in 0..<besti1 { L[Int(s.order[j])] = 0 }
            for j in besti1..<besti2 { L[Int(s.order[j])] = 1 }
            for j in besti2..<16 { L[Int(s.order[j])] = 2 }
            if scale < 0 {
                for j in 0..<16 { L[j] = 2 - L[j] }
                scale = -scale
                bestK = 3 - bestK
            }
            var allOnGrid = true
            for k in 0..<2 {
                let xx = UnsafePointer(plus(bestK, k) ? xp : xm)
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
                var sqx: Float = 0, sq2: Float = 0
                for k in 0..<2 {
                    let xx = plus(bestK, k) ? xp : xm
                    let pg = grid.points + 8 * Int(index[k])
                    for j in 0..<8 {
                        let w = weight[8 * k + j]
                        let q = xx[Int((pg[j] - 1) / 2)]
                        sqx += w * q * xb[8 * k + j]
                        sq2 += w * q * q
                    }
                }
                if sqx > 0 && sq2 > 0 { scale = sqx / sq2 }
            }
            qs[2 * ib] = UInt8(truncatingIfNeeded: index[0])
            qs[2 * ib + 1] = UInt8(truncatingIfNeeded: index[1])
            qh[ib] = UInt8(truncatingIfNeeded: (index[0] >> 8) | ((index[1] >> 8) << 4))
            scales[ib] = scale
            s.shifts[ib] = Int8(bestK)
            maxScale = maxScale > scale ? maxScale : scale
        }

        if maxScale == 0 { return }
        let masks: (UInt8, UInt8, UInt8, UInt8) = (0x00, 0x80, 0x08, 0x88)
        var sc: (UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0)
        var d = maxScale / 15
        let id = 1 / d
        var sqx: Float = 0, sq2: Float = 0
        for ib in 0..<16 {
            let l = Swift.max(0, Swift.min(7, nearestInt(0.5 * (id * scales[ib] - 1))))
            let bits = UInt16(l) << (3 * UInt16(ib % 4))
            switch ib / 4 {
            case 0: sc.0 |= bits
            case 1: sc.1 |= bits
            case 2: sc.2 |= bits
            default: sc.3 |= bits
            }
            let shift = Int(s.shifts[ib])
            switch shift {
            case 0: qh[ib] |= masks.0
            case 1: qh[ib] |= masks.1
            case 2: qh[ib] |= masks.2
            default: qh[ib] |= masks.3
            }
            let xb = xbl + 16 * ib
            weights(ib)
            let m = Float(2 * l + 1)
            for k in 0..<2 {
                let xx = plus(shift, k) ? xp : xm
                let gi = Int(qs[2 * ib + k]) + ((Int(qh[ib]) << (8 - 4 * k)) & 0x700)
                let pg = grid.points + 8 * gi
                for j in 0..<8 {
                    let w = weight[8 * k + j]
                    let q = xx[Int((pg[j] - 1) / 2)] * m
                    sqx += w * q * xb[8 * k + j]
                    sq2 += w * q * q
                }
            }
        }
        if sq2 > 0 { d = sqx / sq2 }
        let h = FP16.fromFloat(d * 1.1125)  // ggml's fudge factor
        sc.0 |= (h & 0x000F) << 12
        sc.1 |= (h & 0x00F0) << 8
        sc.2 |= (h & 0x0F00) << 4
        sc.3 |= h & 0xF000
        yb.storeBytes(of: sc.0.littleEndian, toByteOffset: 48, as: UInt16.self)
        yb.storeBytes(of: sc.1.littleEndian, toByteOffset: 50, as: UInt16.self)
        yb.storeBytes(of: sc.2.littleEndian, toByteOffset: 52, as: UInt16.self)
        yb.storeBytes(of: sc.3.littleEndian, toByteOffset: 54, as: UInt16.self)
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        IQGrids.iq1s.withUnsafeBufferPointer { gp in
            let grid = UnsafeRawPointer(gp.baseAddress!).assumingMemoryBound(to: Int8.self)
            for b in 0..<(count / 256) {
                let xb = x + blockBytes * b
                @inline(__always) func sc(_ i: Int) -> Int {
                    Int(UInt16(littleEndian: xb.loadUnaligned(fromByteOffset: 48 + 2 * i, as: UInt16.self)))
                }
                let bits = (sc(0) >> 12) | ((sc(1) >> 8) & 0x00F0) | ((sc(2) >> 4) & 0x0F00) | (sc(3) & 0xF000)
                let d = FP16.toFloat(UInt16(truncatingIfNeeded: bits))
                var out = y + 256 * b
                for ib in 0..<8 {
                    let s = sc(ib / 2)
                    let dl1 = d * Float(2 * ((s >> (6 * (ib % 2))) & 7) + 1)
                    let dl2 = d * Float(2 * ((s >> (6 * (ib % 2) + 3)) & 7) + 1)
                    let qs = xb + 4 * ib
                    let h0 = Int(xb.byte(32 + 2 * ib)), h1 = Int(xb.byte(33 + 2 * ib))
                    for l in 0..<4 {
                        let h = l < 2 ? h0 : h1
                        let index = Int(qs.byte(l)) | ((h << (l % 2 == 0 ? 8 : 4)) & 0x700)
                        let delta: Float = (h & (l % 2 == 0 ? 0x08 : 0x80)) != 0 ? -Self.delta : Self.delta
                        let g = grid + 8 * index
                        let dl = l < 2 ? dl1 : dl2
                        for j in 0..<8 { out[j] = dl * (Float(g[j]) + delta) }
                        out += 8
                    }
                }
            }
        }
    }
}
