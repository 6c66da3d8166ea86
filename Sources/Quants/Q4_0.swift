import GGUF

/// Q4_0: 32 weights per block, `d: f16, qs: [16]` (low nibbles hold elements 0–15, high nibbles
/// 16–31) (18 bytes); y = (q − 8)·d.
///
/// Quantization matches ggml-quants.c `quantize_row_q4_0_ref` byte for byte, and with an importance
/// matrix `quantize_q4_0` (→ `quantize_row_q4_0_impl`: weights qw·sqrt(σ² + x²), d from
/// make_qx_quants(32, 8, …)). Dequantization is `dequantize_row_q4_0`.
enum Q4_0: BlockFormat {
    static let type = GGMLType.q4_0
    static let blockBytes = 18
    static let blockSize = 32

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_0
    static let usesImportance = true
    /// llamafile's tinyBLAS_Q0_AVX lanes; with a multiple of 8 rows ggml repacks the weights
    /// (`q4_0_8x8_q8_0`) and keeps one chain per output.
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 32, scaleOffset: 0, repackedRows: 8, intQuads: .nibbles(qs: 2, offset: 8))

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        if let qw = importance { return weighted(x, y, count: count, qw, fast: true) }
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            let (amax, max) = signedAbsMaxLanes(xb, 32)
            let d = max / -8
            let id: Float = d != 0 ? 1 / d : 0
            guard amax.isFinite && id.isFinite else {
                quantizeReference(xb, yb, count: 32, importance: nil)
                continue
            }
            yb.storeHalf(d, at: 0)
            let q = (yb + 2).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                let q0 = Swift.min(15, lowByte(truncTame(xb[j] * id + 8.5)))
                let q1 = Swift.min(15, lowByte(truncTame(xb[16 + j] * id + 8.5)))
                q[j] = UInt8(truncatingIfNeeded: q0) | (UInt8(truncatingIfNeeded: q1) << 4)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        if let qw = importance { return weighted(x, y, count: count, qw, fast: false) }
        for b in 0..<(count / 32) {
            let xb = x + 32 * b, yb = y + blockBytes * b
            let (_, max) = signedAbsMax(xb, 32)
            let d = max / -8
            let id: Float = d != 0 ? 1 / d : 0
            yb.storeHalf(d, at: 0)
            for j in 0..<16 {
                let x0 = xb[j] * id
                let x1 = xb[16 + j] * id
                let q0 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(cInt8(x0 + 8.5))))
                let q1 = UInt8(truncatingIfNeeded: Swift.min(15, Int32(cInt8(x1 + 8.5))))
                yb.storeBytes(of: q0 | (q1 << 4), toByteOffset: 2 + j, as: UInt8.self)
            }
        }
    }

    /// `quantize_row_q4_0_impl` for one row.
    static func weighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int,
                         _ qw: UnsafePointer<Float>, fast: Bool) {
        withUnsafeTemporaryAllocation(of: LaneInts.self, capacity: 32) { li in
          withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 1) { dv in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { lb in
                let LT = li.baseAddress!, L = lb.baseAddress!
                forEachWeightedBlock(x, qw, count: count, fast: fast, lanes: { b0, k, xT, wT in
                    makeQXQuantsLanes(Q4_0Search.self, xT, wT, LT, dv.baseAddress!)
                    let d = dv[0]
                    for j in 0..<k {
                        let yb = y + blockBytes * (b0 + j)
                        yb.storeHalf(d[j], at: 0)
                        for k in 0..<16 {
                            let v = UInt8(truncatingIfNeeded: LT[k][j]) | (UInt8(truncatingIfNeeded: LT[k + 16][j]) << 4)
                            yb.storeBytes(of: v, toByteOffset: 2 + k, as: UInt8.self)
                        }
                    }
                }, scalar: { b, weight in
                    let d = makeQXQuants(32, 8, x + 32 * b, L, weight)
                    let yb = y + blockBytes * b
                    yb.storeHalf(d, at: 0)
                    for k in 0..<16 {
                        let v = UInt8(bitPattern: L[k]) | (UInt8(bitPattern: L[k + 16]) << 4)
                        yb.storeBytes(of: v, toByteOffset: 2 + k, as: UInt8.self)
                    }
                })
            }
          }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for b in 0..<(count / 32) {
            let xb = x + blockBytes * b
            let d = xb.loadHalf(at: 0)
            let q = (xb + 2).assumingMemoryBound(to: UInt8.self)
            let o = y + 32 * b
            for j in 0..<16 {
                o[j] = Float(Int32(q[j] & 0x0F) - 8) * d
                o[16 + j] = Float(Int32(q[j] >> 4) - 8) * d
            }
        }
    }
}
