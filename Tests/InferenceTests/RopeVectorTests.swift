import Testing
import Architectures
@testable import Inference

/// RoPE eight pairs at a time (`RopeTable.apply`) and the f16 rounding of the cache sixteen values
/// at a time give the bits of the pair-by-pair and element-by-element loops.
@Suite("RoPE and the KV cache, vectorized")
struct RopeVectorTests {
    static func values(_ n: Int, seed: UInt64, scale: Float) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000 * scale
        }
    }

    /// ggml's loops, one pair at a time.
    static func scalar(_ x: inout [Float], _ c: ArraySlice<Float>, dims: Int, style: RopeStyle) {
        let c = Array(c)
        for i0 in stride(from: 0, to: dims, by: 2) {
            let cs = c[i0], sn = c[i0 + 1]
            let (a, b) = style == .normal ? (i0, i0 + 1) : (i0 / 2, i0 / 2 + dims / 2)
            let x0 = x[a], x1 = x[b]
            x[a] = (-(x1 * sn)).addingProduct(x0, cs)
            x[b] = (x1 * cs).addingProduct(x0, sn)
        }
    }

    @Test("rotations equal the pair-by-pair loop", arguments: [RopeStyle.normal, .neox], [16, 24, 64, 80, 96, 128])
    func rope(_ style: RopeStyle, _ dims: Int) {
        let positions = 5, headDim = dims + 8
        let table = Self.values(positions * dims, seed: UInt64(dims), scale: 1.3)
        let rope = RopeTable(dims: dims, style: style, values: table)
        for pos in 0..<positions {
            let x = Self.values(headDim, seed: UInt64(100 * dims + pos), scale: 40)
            var expected = x
            Self.scalar(&expected, table[(pos * dims)..<((pos + 1) * dims)], dims: dims, style: style)
            var got = x
            got.withUnsafeMutableBufferPointer { rope.apply($0.baseAddress!, position: pos) }
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "position \(pos)")
            #expect(got.map(\.bitPattern) != x.map(\.bitPattern))
        }
    }

    @Test("cache stores round like Float(Float16(x))", arguments: [40, 64, 80])
    func cacheStore(_ headDim: Int) {
        let kvHeads = 3
        let cache = KVCache(layers: 2, sequences: 2, positions: 40, kvHeads: kvHeads, headDim: headDim)
        var k = Self.values(kvHeads * headDim, seed: 7, scale: 70_000)
        let v = Self.values(kvHeads * headDim, seed: 8, scale: 3e-5)
        k[3] = .infinity; k[5] = -0.0; k[9] = 65_519; k[10] = 65_520
        cache.store(layer: 1, sequence: 1, position: 17, key: k, value: v)
        for h in 0..<kvHeads {
            let kt = cache.keys(layer: 1, sequence: 1, head: h) + 17
            let vr = cache.values(layer: 1, sequence: 1) + 17 * cache.valueRowStride + h * cache.headDimPadded
            for d in 0..<headDim {
                #expect(kt[d * cache.capacity].bitPattern == Float(Float16(k[h * headDim + d])).bitPattern)
                #expect(vr[d].bitPattern == Float(Float16(v[h * headDim + d])).bitPattern)
            }
        }
    }
}
