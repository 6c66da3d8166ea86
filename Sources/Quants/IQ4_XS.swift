import GGUF

/// IQ4_XS: super-blocks of 256 weights in eight blocks of 32 with 6-bit scales;
/// `d: f16, scales_h: u16 (2 high bits per block), scales_l: [4] (low nibbles, block 2i in the low
/// half of byte i), qs: [128]` (per block 16 bytes: low nibbles its elements 0–15, high 16–31)
/// (136 bytes); y = d·(ls − 32)·iq4Values[q].
///
/// Quantization matches ggml-quants.c `quantize_iq4_xs` byte for byte, with and without an
/// importance matrix (`quantize_row_iq4_xs_ref` is the same call without one); the search is
/// `IQ4Search`. Dequantization is `dequantize_row_iq4_xs`.
enum IQ4_XS: BlockFormat {
    static let type = GGMLType.iq4_XS
    static let blockBytes = 136
    static let blockSize = 256

    // Kernel traits (see BlockFormat).
    static let dotType: GGMLType? = .q8_K
    static let usesImportance = true
    /// `ggml_vec_dot_iq4_xs_q8_K` (AVX2): lane L sums the elements at offsets 4L..<4L+4 of every
    /// 32-element block times its scale (ls − 32), `acc_L = fma(d_w·d_a, sum_L, acc_L)` per
    /// super-block, then the eight-lane tree (ggml never repacks IQ4_XS).
    static let lanes: LaneGEMM.Layout? = LaneGEMM.Layout(block: 256, scaleOffset: 0)

    static func quantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        IQ4Search.withScratch { L, scales, weight, v, s in
            for b in 0..<(count / 256) {
                IQ4Search.quantizeFast(256, x + 256 * b, y + blockBytes * b, qsOffset: 8,
                                       importance.map { $0 + 256 * b }, L, scales, weight, v, s)
            }
        }
    }

    static func quantizeReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, count: Int, importance: UnsafePointer<Float>?) {
        IQ4Search.withScratch { L, scales, weight, v, _ in
            for b in 0..<(count / 256) {
                IQ4Search.quantizeReference(256, x + 256 * b, y + blockBytes * b, qsOffset: 8,
                                            importance.map { $0 + 256 * b }, L, scales, weight, v)
            }
        }
    }

    static func dequantize(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, count: Int) {
        iq4ValuesF.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            for b in 0..<(count / 256) {
                let xb = x + blockBytes * b
                let d = xb.loadHalf(at: 0)
                let scalesH = UInt16(littleEndian: xb.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                for ib in 0..<8 {
                    let low = Int32((xb.byte(4 + ib / 2) >> UInt8(4 * (ib % 2))) & 0xF)
                    let high = Int32((scalesH >> UInt16(2 * ib)) & 3)
                    let ls = low | (high << 4)
                    let dl = d * Float(ls - 32)
                    let o = y + 256 * b + 32 * ib
                    for j in 0..<16 {
                        let q = xb.byte(8 + 16 * ib + j)
                        o[j] = dl * v[Int(q & 0xF)]
                        o[16 + j] = dl * v[Int(q >> 4)]
                    }
                }
            }
        }
    }
}
