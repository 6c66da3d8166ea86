// 8 × 8 transposes of f32 values in SIMD registers, for packing rows into the lane-interleaved
// layouts of the micro-kernels (weight panels and slabs, activation groups, attention's queries
// and probabilities). Packing only moves values: results do not depend on it.

public enum LaneTranspose {
    /// Eight columns of an 8 × 8 block.
    public typealias Block = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>,
                              SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// The columns of the 8×8 block whose rows are `v0 … v7`: three rounds of splitting
    /// neighbouring rows into even and odd elements (each round rotates the six index bits by one;
    /// three swap row and column).
    @inlinable @inline(__always)
    public static func block(_ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ v2: SIMD8<Float>, _ v3: SIMD8<Float>,
                             _ v4: SIMD8<Float>, _ v5: SIMD8<Float>, _ v6: SIMD8<Float>, _ v7: SIMD8<Float>) -> Block {
        @inline(__always) func split(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
            let c = SIMD16<Float>(lowHalf: a, highHalf: b)
            return (c.evenHalf, c.oddHalf)
        }
        let (a0, a4) = split(v0, v1), (a1, a5) = split(v2, v3), (a2, a6) = split(v4, v5), (a3, a7) = split(v6, v7)
        let (b0, b4) = split(a0, a1), (b1, b5) = split(a2, a3), (b2, b6) = split(a4, a5), (b3, b7) = split(a6, a7)
        let (c0, c4) = split(b0, b1), (c1, c5) = split(b2, b3), (c2, c6) = split(b4, b5), (c3, c7) = split(b6, b7)
        return (c0, c1, c2, c3, c4, c5, c6, c7)
    }

    /// Stores column `L` of the 8×8 block whose rows are `v0 … v7` at `out + L·laneStride` (bytes).
    @inlinable @inline(__always)
    public static func store(_ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ v2: SIMD8<Float>, _ v3: SIMD8<Float>,
                             _ v4: SIMD8<Float>, _ v5: SIMD8<Float>, _ v6: SIMD8<Float>, _ v7: SIMD8<Float>,
                             _ out: UnsafeMutableRawPointer, laneStride: Int) {
        let c = block(v0, v1, v2, v3, v4, v5, v6, v7)
        out.storeBytes(of: c.0, as: SIMD8<Float>.self)
        out.storeBytes(of: c.1, toByteOffset: laneStride, as: SIMD8<Float>.self)
        out.storeBytes(of: c.2, toByteOffset: 2 * laneStride, as: SIMD8<Float>.self)
        out.storeBytes(of: c.3, toByteOffset: 3 * laneStride, as: SIMD8<Float>.self)
        out.storeBytes(of: c.4, toByteOffset: 4 * laneStride, as: SIMD8<Float>.self)
        out.storeBytes(of: c.5, toByteOffset: 5 * laneStride, as: SIMD8<Float>.self)
        out.storeBytes(of: c.6, toByteOffset: 6 * laneStride, as: SIMD8<Float>.self)
        out.storeBytes(of: c.7, toByteOffset: 7 * laneStride, as: SIMD8<Float>.self)
    }

    /// `store` of four rows (`v0 … v3`): the first four elements of each column.
    @inlinable @inline(__always)
    public static func store4(_ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ v2: SIMD8<Float>, _ v3: SIMD8<Float>,
                              _ out: UnsafeMutableRawPointer, laneStride: Int) {
        let z = SIMD8<Float>()
        let c = block(v0, v1, v2, v3, z, z, z, z)
        out.storeBytes(of: c.0.lowHalf, as: SIMD4<Float>.self)
        out.storeBytes(of: c.1.lowHalf, toByteOffset: laneStride, as: SIMD4<Float>.self)
        out.storeBytes(of: c.2.lowHalf, toByteOffset: 2 * laneStride, as: SIMD4<Float>.self)
        out.storeBytes(of: c.3.lowHalf, toByteOffset: 3 * laneStride, as: SIMD4<Float>.self)
        out.storeBytes(of: c.4.lowHalf, toByteOffset: 4 * laneStride, as: SIMD4<Float>.self)
        out.storeBytes(of: c.5.lowHalf, toByteOffset: 5 * laneStride, as: SIMD4<Float>.self)
        out.storeBytes(of: c.6.lowHalf, toByteOffset: 6 * laneStride, as: SIMD4<Float>.self)
        out.storeBytes(of: c.7.lowHalf, toByteOffset: 7 * laneStride, as: SIMD4<Float>.self)
    }

    /// The twelve rows `row(0) … row(11)` (eight values each) as a 12-row group holds them: column L
    /// at `out + L·laneStride`, rows 0–7 (`store`) then rows 8–11 (`store4`, 32 bytes on).
    @inlinable @inline(__always)
    public static func store12(_ row: (Int) -> SIMD8<Float>, _ out: UnsafeMutableRawPointer, laneStride: Int) {
        store(row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7), out, laneStride: laneStride)
        store4(row(8), row(9), row(10), row(11), out + 32, laneStride: laneStride)
    }

    /// Eight rows read in place.
    public typealias Rows = (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer,
                             UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer)

    /// `store` of the eight values at `byteOffset` of each of `rows`.
    @inlinable @inline(__always)
    public static func store(_ rows: Rows, byteOffset o: Int, _ out: UnsafeMutableRawPointer, laneStride: Int) {
        store(rows.0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              rows.1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              rows.2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              rows.3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              rows.4.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              rows.5.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              rows.6.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              rows.7.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self),
              out, laneStride: laneStride)
    }
}
