import Quants

/// Keys and values of past positions for a number of independent sequences, as the f32 values of
/// llama.cpp's default f16 cache (every entry is rounded to f16 when stored).
///
/// Layout per (layer, sequence): keys transposed, `kT[head][dim][position]` (the B operand of the
/// score product, 32 positions per load), values `v[position][head][dimPadded]` with the head
/// dimension padded to 32 with zeros (the B operand of the weighted sum).
final class KVCache {
    let layers: Int
    let sequences: Int
    /// Positions per sequence, padded to 32.
    let capacity: Int
    let kvHeads: Int
    let headDim: Int
    let headDimPadded: Int
    private let keys: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>

    init(layers: Int, sequences: Int, positions: Int, kvHeads: Int, headDim: Int) {
        self.layers = layers
        self.sequences = sequences
        capacity = max(32, (positions + 31) & ~31)
        self.kvHeads = kvHeads
        self.headDim = headDim
        headDimPadded = (headDim + 31) & ~31
        let kCount = layers * sequences * kvHeads * headDim * capacity
        let vCount = layers * sequences * capacity * kvHeads * headDimPadded
        keys = .allocateAligned(capacity: kCount)
        keys.initialize(repeating: 0, count: kCount)
        values = .allocateAligned(capacity: vCount)
        values.initialize(repeating: 0, count: vCount)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// `kT` of (layer, sequence, head): `headDim` rows of `capacity` positions.
    @inline(__always)
    func keys(layer: Int, sequence: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keys + (((layer * sequences + sequence) * kvHeads + head) * headDim) * capacity
    }

    /// Values of (layer, sequence): `capacity` rows of `kvHeads · headDimPadded`.
    @inline(__always)
    func values(layer: Int, sequence: Int) -> UnsafeMutablePointer<Float> {
        values + (layer * sequences + sequence) * capacity * kvHeads * headDimPadded
    }

    var valueRowStride: Int { kvHeads * headDimPadded }

    /// Stores one position's key and value rows (`kvHeads · headDim` each), rounded to f16.
    @inline(__always)
    func store(layer: Int, sequence: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        // Rounded sixteen at a time (the same bits as one by one).
        let kr = UnsafeRawPointer(key), vsrc = UnsafeRawPointer(value)
        for h in 0..<kvHeads {
            let kt = keys(layer: layer, sequence: sequence, head: h) + position
            var d = 0
            while d + 16 <= headDim {
                let r = RowOps.f16(kr.loadUnaligned(fromByteOffset: 4 * (h * headDim + d), as: SIMD16<Float>.self))
                for j in 0..<16 { kt[(d + j) * capacity] = r[j] }
                d += 16
            }
            while d < headDim {
                kt[d * capacity] = RowOps.f16(key[h * headDim + d])
                d += 1
            }
        }
        let vr = values(layer: layer, sequence: sequence) + position * valueRowStride
        for h in 0..<kvHeads {
            let out = UnsafeMutableRawPointer(vr + h * headDimPadded)
            var d = 0
            while d + 16 <= headDim {
                let r = RowOps.f16(vsrc.loadUnaligned(fromByteOffset: 4 * (h * headDim + d), as: SIMD16<Float>.self))
                out.storeBytes(of: r, toByteOffset: 4 * d, as: SIMD16<Float>.self)
                d += 16
            }
            while d < headDim {
                vr[h * headDimPadded + d] = RowOps.f16(value[h * headDim + d])
                d += 1
            }
        }
    }
}
