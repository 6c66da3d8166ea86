import GGUF

// Packing for LaneGEMM: activations quantized as ggml's CPU `from_float` does and interleaved
// 12 rows per group in lane order; weights decoded to their integer values, 32 rows per panel.

extension LaneGEMM {
    // MARK: Activations

    /// Quantizes `m` rows of `k` activations (`lda` apart) to the dot type of `weight` (rows up to
    /// the next multiple of 12 are zero): quants interleaved per group of 12 rows in lane order,
    /// `q[g·12k + lanePosition(kk)·12 + i]` for row 12g + i, then block scales `d[r·nb + b]` (from
    /// `rows12·k` on), then for Q8_K the 32-element sub-block sums `s[r·(k/32) + sb]` (from
    /// `rows12·(k + nb)` on).
    static func packActivations(_ a: UnsafePointer<Float>, lda: Int, rows m: Int, columns k: Int, weight: GGMLType,
                                into buf: UnsafeMutablePointer<Float>, threads: Int) {
        let rows12 = (m + mr - 1) / mr * mr
        let lay = layout(weight)!
        let nb = k / lay.block
        let qBase = buf, dBase = buf + rows12 * k, sBase = dBase + rows12 * nb
        nonisolated(unsafe) let src = a
        let groups = rows12 / mr
        let tasks = Swift.min(groups, Swift.max(1, threads) * 4)
        parallelFor(chunks: tasks, threads: threads) { t in
            // One group's twelve rows in lane order, then interleaved into `q` at once.
            let rows = UnsafeMutablePointer<Float>.allocateAligned(capacity: (mr + 1) * k)
            defer { rows.deallocate() }
            let row = rows + mr * k
            for g in (groups * t / tasks)..<(groups * (t + 1) / tasks) {
                for i in 0..<mr {
                    let r = g * mr + i
                    let lanes = rows + i * k, d = dBase + r * nb, s = sBase + r * (k / 32)
                    if r >= m {
                        lanes.update(repeating: 0, count: k)
                        d.update(repeating: 0, count: nb)
                        s.update(repeating: 0, count: k / 32)
                        continue
                    }
                    let x = src + r * lda
                    if lay.block == 32 {
                        for b in 0..<nb {
                            let (q0, q1) = q8Block(x + 32 * b, scale: d + b, sum: lay.mins == .perBlock ? s + b : nil)
                            UnsafeMutableRawPointer(row + 32 * b).storeBytes(of: q0, as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(row + 32 * b).storeBytes(of: q1, toByteOffset: 64, as: SIMD16<Float>.self)
                        }
                    } else {
                        for b in 0..<nb {
                            d[b] = ActivationRounding.q8_KQuants(x + 256 * b, into: row + 256 * b)
                            for sb in (8 * b)..<(8 * b + 8) {
                                var sum: Float = 0
                                for j in (32 * sb)..<(32 * sb + 32) { sum += row[j] }
                                s[sb] = sum
                            }
                        }
                    }
                    // Lane order: the four columns 32c + 4L ..< 32c + 4L + 4 go to L·k/8 + 4c.
                    let lk = k / 8
                    for c in 0..<(k / 32) {
                        let from = UnsafeRawPointer(row + 32 * c)
                        for lane in 0..<8 {
                            UnsafeMutableRawPointer(lanes + lane * lk + 4 * c)
                                .storeBytes(of: from.loadUnaligned(fromByteOffset: 16 * lane, as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                        }
                    }
                }
                interleave(rows, count: mr, columns: k, into: qBase + g * mr * k)
            }
        }
    }

    /// One 32-value block of activations quantized as Q8_0 (`ActivationRounding.q8_0Quants`): its
    /// scale f16(amax/127) into `d`, with `s` Q8_1's block sum f16(d·Σq) with the unrounded
    /// d = amax/127; returns the quants.
    @inline(__always)
    static func q8Block(_ x: UnsafePointer<Float>, scale d: UnsafeMutablePointer<Float>,
                        sum s: UnsafeMutablePointer<Float>?) -> (SIMD16<Float>, SIMD16<Float>) {
        let (q0, q1, amax) = ActivationRounding.q8_0Quants(x)
        d.pointee = Float(Float16(amax / 127))
        if let s { s.pointee = Float(Float16((amax / 127) * (q0 + q1).sum())) }
        return (q0, q1)
    }

    /// `q[p·n + i] = rows[i·k + p]` for `n` rows (a multiple of 4) of `k` (a multiple of 4): four
    /// columns at a time (4×4 transposes), each output line written whole (one group: `n` = 12).
    @inline(__always)
    static func interleave(_ rows: UnsafePointer<Float>, count n: Int, columns k: Int, into q: UnsafeMutablePointer<Float>) {
        let src = UnsafeRawPointer(rows), dst = UnsafeMutableRawPointer(q)
        var p = 0
        while p < k {
            for i0 in stride(from: 0, to: n, by: 4) {
                @inline(__always) func load(_ i: Int) -> SIMD4<Float> {
                    src.loadUnaligned(fromByteOffset: 4 * ((i0 + i) * k + p), as: SIMD4<Float>.self)
                }
                let a = load(0), b = load(1), c = load(2), d = load(3)
                @inline(__always) func put(_ t: Int, _ v: SIMD4<Float>) {
                    dst.storeBytes(of: v, toByteOffset: 4 * ((p + t) * n + i0), as: SIMD4<Float>.self)
                }
                put(0, SIMD4(a[0], b[0], c[0], d[0])); put(1, SIMD4(a[1], b[1], c[1], d[1]))
                put(2, SIMD4(a[2], b[2], c[2], d[2])); put(3, SIMD4(a[3], b[3], c[3], d[3]))
            }
            p += 4
        }
    }

    /// Where column `kk` of a row of `k` (a multiple of 32) is packed: lane by lane, so that the
    /// four columns lane L takes from each 32-column chunk follow each other, chunk after chunk:
    /// `L·k/8 + chunk·4 + t` for `kk = 32·chunk + 4·L + t`.
    @inline(__always)
    static func lanePosition(_ kk: Int, _ k: Int) -> Int {
        ((kk & 31) >> 2) * (k >> 3) + ((kk >> 5) << 2) + (kk & 3)
    }

    // MARK: Weights

    /// Decodes weight rows `row0 ..< row0+32` into a panel: integer values `wq[lanePosition(kk)·32 + j]`,
    /// block scales `wd[b·32 + j]`, and for Q4_K the minimum scales `wdm[b·32 + j]` and sub-block
    /// minimums `wm[sb·32 + j]`. Rows past the end are zero. `row` is scratch for `k + 256` floats.
    static func packPanel(_ w: WeightMatrix, row0: Int, panel: UnsafeMutablePointer<Float>, row: UnsafeMutablePointer<Float>) {
        let k = w.columns
        let lay = layout(w.type)!
        let format = BlockFormats.format(w.type)!
        let nb = k / lay.block
        let ts = w.type.typeSize
        let wq = panel, wd = panel + k * nr, wdm = wd + nb * nr, wm = wdm + nb * nr
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                     UInt64(0), UInt64(0), UInt64(0))  // 216 bytes ≥ the largest block (Q6_K, 210)
        withUnsafeMutableBytes(of: &block) { bb in
            let tmp = bb.baseAddress!
            for j in 0..<nr {
                let r = row0 + j
                if r >= w.rows {
                    for kk in 0..<k { wq[kk * nr + j] = 0 }
                    for b in 0..<nb { wd[b * nr + j] = 0; wdm[b * nr + j] = 0 }
                    for sb in 0..<(k / 32) { wm[sb * nr + j] = 0 }
                    continue
                }
                let src = w.data + r * w.rowBytes
                for b in 0..<nb {
                    let blk = src + b * ts
                    tmp.copyMemory(from: blk, byteCount: ts)
                    wd[b * nr + j] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: lay.scaleOffset, as: UInt16.self))
                    // Scale 1 (and minimum scale 0): the dequantizer yields the integer values.
                    tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: lay.scaleOffset, as: UInt16.self)
                    if let mo = lay.minOffset { tmp.storeBytes(of: UInt16(0), toByteOffset: mo, as: UInt16.self) }
                    format.dequantize(UnsafeRawPointer(tmp), row + b * lay.block, count: lay.block)
                    if let mo = lay.minOffset {
                        wdm[b * nr + j] = FP16.toFloat(blk.loadUnaligned(fromByteOffset: mo, as: UInt16.self))
                    }
                    if let mo = lay.minOffset, lay.mins != .perBlock {
                        // Scale 0, minimum scale 1: every element is minus its sub-block minimum.
                        tmp.storeBytes(of: UInt16(0), toByteOffset: lay.scaleOffset, as: UInt16.self)
                        tmp.storeBytes(of: FP16.fromFloat(1), toByteOffset: mo, as: UInt16.self)
                        let scratch = row + k  // room for one block past the row
                        format.dequantize(UnsafeRawPointer(tmp), scratch, count: lay.block)
                        for sb in 0..<(lay.block / 32) { wm[((lay.block / 32) * b + sb) * nr + j] = -scratch[32 * sb] + 0 }
                    }
                }
                for kk in 0..<k { wq[lanePosition(kk, k) * nr + j] = row[kk] }
            }
        }
    }

    /// Floats of one decoded panel of `w`.
    static func panelFloats(_ w: WeightMatrix) -> Int {
        let lay = layout(w.type)!
        let nb = w.columns / lay.block
        return (w.columns + 2 * nb + w.columns / 32) * nr
    }
}
