import GGUF

/// Q5_1: 32 weights per block, `d: f16, m: f16, qh: u32 LE, qs: [16]` (24 bytes); y = q·d + m.
///
/// Quantization matches ggml-quants.c `quantize_row_q5_1_ref` byte for byte, and with an importance
/// matrix `quantize_q5_1` (→ `quantize_row_q5_1_impl`: make_qkx3_quants(32, 31, …, −0.9, 0.05, 36)
/// with weights qw·sqrt(σ² + x²)). Dequantization is `dequantize_row_q5_1`.
enum Q5_1: BlockFormat {
    static let type = GGMLType.q5_1
    static let blockBytes = 24
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_1
    static let usesImportance = true
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 32, scaleOffset: 0, minOffset: 2, mins: .perBlock,
                                                                  intQuads: .fiveBits(qh: 4, qs: 8, offset: 0))

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        if let qw = importance { return weighted(x, y, count: count, qw, fast: true) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { lb in
            let L = lb.baseAddress!
            for b in 0..<(count / 32) {
                let xb = x + 32 * b, yb = y + blockBytes * b
                guard let (min, max) = minMaxLanes32(xb) else {
                    quantizeReference(xb, yb, count: 32, importance: nil)
                    continue
                }
                let d = (max - min) / 31
                let id: Float = d != 0 ? 1 / d : 0
                guard min.isFinite && d.isFinite && id.isFinite else {
                    quantizeReference(xb, yb, count: 32, importance: nil)
                    continue
                }
                yb.storeHalf(d, at: 0)
                yb.storeHalf(min, at: 2)
                for j in 0..<32 { L[j] = UInt8(truncatingIfNeeded: truncTame((xb[j] - min) * id + 0.5)) }
                pack(L, yb)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        if let qw = importance { return weighted(x, y, count: count, qw, fast: false) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { lb in
            let L = lb.baseAddress!
            for b in 0..<(count / 32) {
                let xb = x + 32 * b, yb = y + blockBytes * b
                let (min, max) = minMax(xb, 32)
                let d = (max - min) / 31
                let id: Float = d != 0 ? 1 / d : 0
                yb.storeHalf(d, at: 0)
                yb.storeHalf(min, at: 2)
                for j in 0..<32 { L[j] = cUInt8((xb[j] - min) * id + 0.5) }
                pack(L, yb)
            }
        }
    }

    /// Low nibbles and qh as in Q5_0, at offsets 4 (qh) and 8 (qs).
    @inline(__always)
    static func pack(_ L: UnsafePointer<UInt8>, _ yb: UnsafeMutableRawPointer) {
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = L[j], q1 = L[16 + j]
            yb.storeBytes(of: (q0 & 0x0F) | ((q1 & 0x0F) << 4), toByteOffset: 8 + j, as: UInt8.self)
            qh |= (UInt32(q0 & 0x10) >> 4) << UInt32(j)
            qh |= (UInt32(q1 & 0x10) >> 4) << UInt32(j + 16)
        }
        yb.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
    }

    /// `quantize_row_q5_1_impl` for one row.
    static func weighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         _ qw: UnsafePointer<Float>, fast: Bool) {
        withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 32) { li in
            withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 34) { la in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { lb in
                    let LT = li.baseAddress!, laux = la.baseAddress!, L = lb.baseAddress!, Laux = L + 32
                    forEachWeightedBlock(x, qw, count: count, fast: fast, lanes: { b0, k, xT, wT in
                        let r = laux + 32
                        makeQKXQuantsLanes(Weighted5BitSearch.self, xT, wT, LT, laux, r)
                        for j in 0..<k {
                            let yb = y + blockBytes * (b0 + j)
                            yb.storeHalf(r[0][j], at: 0)
                            yb.storeHalf(-r[1][j], at: 2)
                            for k in 0..<32 { L[k] = UInt8(truncatingIfNeeded: LT[k][j]) }
                            pack(L, yb)
                        }
                    }, scalar: { b, weight in
                        var theMin: Float = 0
                        let d = makeQKX3Quants(32, 31, x + 32 * b, weight, L, &theMin, Laux, rmin: -0.9, rdelta: 0.05, nstep: 36)
                        let yb = y + blockBytes * b
                        yb.storeHalf(d, at: 0)
                        yb.storeHalf(-theMin, at: 2)
                        pack(L, yb)
                    })
                }
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0), m = xb.loadHalf(at: 2)
            let qh = UInt32(littleEndian: xb.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let q = (xb + 8).assumingMemoryBound(to: UInt8.self)
            let o = y + 32 * b
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
                let h1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
                o[j] = Float((q[j] & 0x0F) | h0) * d + m
                o[16 + j] = Float((q[j] >> 4) | h1) * d + m
            }
        }
    }
}
