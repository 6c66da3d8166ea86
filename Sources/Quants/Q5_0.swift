import GGUF

/// Q5_0: 32 weights per block, `d: f16, qh: u32 LE (bit 4 of each level), qs: [16]` (22 bytes);
/// y = (q − 16)·d.
///
/// Quantization matches ggml-quants.c `quantize_row_q5_0_ref` byte for byte, and with an importance
/// matrix `quantize_q5_0` (→ `quantize_row_q5_0_impl`: make_qx_quants(32, 16, …) with weights
/// qw·sqrt(σ² + x²)). Dequantization is `dequantize_row_q5_0`.
enum Q5_0: BlockFormat {
    static let type = GGMLType.q5_0
    static let blockBytes = 22
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = true
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 32, scaleOffset: 0, intQuads: .fiveBits(qh: 2, qs: 6, offset: 16))

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        if let qw = importance { return weighted(x, y, count: count, qw, fast: true) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { lb in
            let L = lb.baseAddress!
            for b in 0..<(count / 32) {
                let xb = x + 32 * b, yb = y + blockBytes * b
                let (amax, max) = signedAbsMaxLanes(xb, 32)
                let d = max / -16
                let id: Float = d != 0 ? 1 / d : 0
                guard amax.isFinite && id.isFinite else {
                    quantizeReference(xb, yb, count: 32, importance: nil)
                    continue
                }
                yb.storeHalf(d, at: 0)
                for j in 0..<32 { L[j] = UInt8(truncatingIfNeeded: Swift.min(31, lowByte(truncTame(xb[j] * id + 16.5)))) }
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
                let (_, max) = signedAbsMax(xb, 32)
                let d = max / -16
                let id: Float = d != 0 ? 1 / d : 0
                yb.storeHalf(d, at: 0)
                for j in 0..<32 { L[j] = UInt8(truncatingIfNeeded: Swift.min(31, Int32(cInt8(xb[j] * id + 16.5)))) }
                pack(L, yb)
            }
        }
    }

    /// Low nibbles as in Q4_0; bit 4 of level j goes to bit j of qh (j = 0…31).
    @inline(__always)
    static func pack(_ L: UnsafePointer<UInt8>, _ yb: UnsafeMutableRawPointer) {
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = L[j], q1 = L[16 + j]
            yb.storeBytes(of: (q0 & 0x0F) | ((q1 & 0x0F) << 4), toByteOffset: 6 + j, as: UInt8.self)
            qh |= (UInt32(q0 & 0x10) >> 4) << UInt32(j)
            qh |= (UInt32(q1 & 0x10) >> 4) << UInt32(j + 16)
        }
        yb.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }

    /// `quantize_row_q5_0_impl` for one row.
    static func weighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         _ qw: UnsafePointer<Float>, fast: Bool) {
        withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 32) { li in
          withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 1) { dv in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { lb in
                let LT = li.baseAddress!, L = lb.baseAddress!
                let Lu = UnsafeMutableRawPointer(L).assumingMemoryBound(to: UInt8.self)
                forEachWeightedBlock(x, qw, count: count, fast: fast, lanes: { b0, k, xT, wT in
                    makeQXQuantsLanes(Q5_0Search.self, xT, wT, LT, dv.baseAddress!)
                    let d = dv[0]
                    for j in 0..<k {
                        let yb = y + blockBytes * (b0 + j)
                        yb.storeHalf(d[j], at: 0)
                        for k in 0..<32 { Lu[k] = UInt8(truncatingIfNeeded: LT[k][j]) }
                        pack(Lu, yb)
                    }
                }, scalar: { b, weight in
                    let d = makeQXQuants(32, 16, x + 32 * b, L, weight)
                    let yb = y + blockBytes * b
                    yb.storeHalf(d, at: 0)
                    pack(Lu, yb)
                })
            }
          }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0)
            let qh = UInt32(littleEndian: xb.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let q = (xb + 6).assumingMemoryBound(to: UInt8.self)
            let o = y + 32 * b
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
                let h1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
                o[j] = Float(Int32((q[j] & 0x0F) | h0) - 16) * d
                o[16 + j] = Float(Int32((q[j] >> 4) | h1) - 16) * d
            }
        }
    }
}
