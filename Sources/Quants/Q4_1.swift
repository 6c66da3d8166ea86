import GGUF

/// Q4_1: 32 weights per block, `d: f16, m: f16, qs: [16]` (20 bytes); y = q·d + m.
///
/// Quantization matches ggml-quants.c `quantize_row_q4_1_ref` byte for byte, and with an importance
/// matrix `quantize_q4_1` (→ `quantize_row_q4_1_impl`: make_qkx3_quants(32, 15, …, −0.9, 0.05, 36)
/// with weights qw·sqrt(σ² + x²)). Dequantization is `dequantize_row_q4_1`.
enum Q4_1: BlockFormat {
    static let type = GGMLType.q4_1
    static let blockBytes = 20
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_1
    static let usesImportance = true
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 32, scaleOffset: 0, minOffset: 2, mins: .perBlock,
                                                                  intQuads: .nibbles(qs: 4, offset: 0))

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        if let qw = importance { return weighted(x, y, count: count, qw, fast: true) }
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            guard let (min, max) = minMaxLanes32(xb) else {
                quantizeReference(xb, yb, count: 32, importance: nil)
                continue
            }
            let d = (max - min) / 15
            let id: Float = d != 0 ? 1 / d : 0
            guard min.isFinite && d.isFinite && id.isFinite else {
                quantizeReference(xb, yb, count: 32, importance: nil)
                continue
            }
            yb.storeHalf(d, at: 0)
            yb.storeHalf(min, at: 2)
            let q = (yb + 4).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                let q0 = Swift.min(15, lowByte(truncTame((xb[j] - min) * id + 0.5)))
                let q1 = Swift.min(15, lowByte(truncTame((xb[16 + j] - min) * id + 0.5)))
                q[j] = UInt8(truncatingIfNeeded: q0) | (UInt8(truncatingIfNeeded: q1) << 4)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        if let qw = importance { return weighted(x, y, count: count, qw, fast: false) }
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            let (min, max) = minMax(xb, 32)
            let d = (max - min) / 15
            let id: Float = d != 0 ? 1 / d : 0
            yb.storeHalf(d, at: 0)
            yb.storeHalf(min, at: 2)
            for j in 0..<16 {
                let x0 = (xb[j] - min) * id
                let x1 = (xb[16 + j] - min) * id
                let q0 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(cInt8(x0 + 0.5))))
                let q1 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(cInt8(x1 + 0.5))))
                yb.storeBytes(of: q0 | (q1 << 4), toByteOffset: 4 + j, as: UInt8.self)
            }
        }
    }

    /// `quantize_row_q4_1_impl` for one row.
    static func weighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         _ qw: UnsafePointer<Float>, fast: Bool) {
        withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 32) { li in
            withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 34) { la in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { lb in
                    let LT = li.baseAddress!, laux = la.baseAddress!, L = lb.baseAddress!, Laux = L + 32
                    forEachWeightedBlock(x, qw, count: count, fast: fast, lanes: { b0, k, xT, wT in
                        let r = laux + 32
                        makeQKXQuantsLanes(Weighted4BitSearch.self, xT, wT, LT, laux, r)
                        for j in 0..<k {
                            let yb = y + blockBytes * (b0 + j)
                            yb.storeHalf(r[0][j], at: 0)
                            yb.storeHalf(-r[1][j], at: 2)
                            for k in 0..<16 {
                                let v = UInt8(truncatingIfNeeded: LT[k][j]) | (UInt8(truncatingIfNeeded: LT[k + 16][j]) << 4)
                                yb.storeBytes(of: v, toByteOffset: 4 + k, as: UInt8.self)
                            }
                        }
                    }, scalar: { b, weight in
                        var theMin: Float = 0
                        let d = makeQKX3Quants(32, 15, x + 32 * b, weight, L, &theMin, Laux, rmin: -0.9, rdelta: 0.05, nstep: 36)
                        let yb = y + blockBytes * b
                        yb.storeHalf(d, at: 0)
                        yb.storeHalf(-theMin, at: 2)
                        for k in 0..<16 { yb.storeBytes(of: L[k] | (L[k + 16] << 4), toByteOffset: 4 + k, as: UInt8.self) }
                    })
                }
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0), m = xb.loadHalf(at: 2)
            let q = (xb + 4).assumingMemoryBound(to: UInt8.self)
            let o = y + 32 * b
            for j in 0..<16 {
                o[j] = Float(q[j] & 0x0F) * d + m
                o[16 + j] = Float(q[j] >> 4) * d + m
            }
        }
    }
}
