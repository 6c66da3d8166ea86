import Quants

/// A growable f32 buffer owned by a session (allocated outside the hot loops).
final class FloatBuffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init(_ count: Int = 0) {
        capacity = max(count, 1)
        pointer = .allocateAligned(capacity: capacity)
        pointer.initialize(repeating: 0, count: capacity)
    }

    deinit { pointer.deallocate() }

    /// Makes room for `count` floats (contents are not preserved when it grows).
    @discardableResult
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            capacity = count
            pointer = .allocateAligned(capacity: count)
            pointer.initialize(repeating: 0, count: count)
        }
        return pointer
    }
}

/// The activations of one pass ("the wave of activations"), sized for `rows` rows.
final class Activations {
    let residual = FloatBuffer()
    let normed = FloatBuffer()
    let q = FloatBuffer()
    let k = FloatBuffer()
    let v = FloatBuffer()
    let attention = FloatBuffer()
    let gate = FloatBuffer()
    let up = FloatBuffer()
    let projected = FloatBuffer()

    func reserve(rows n: Int, config c: ModelConfig) {
        let e = c.embeddingLength
        residual.reserve(n * e)
        normed.reserve(n * max(e, c.feedForwardLength))
        q.reserve(n * c.headCount * c.headDimK)
        k.reserve(n * c.kvDimK)
        v.reserve(n * c.kvDimV)
        attention.reserve(n * c.headCount * c.headDimV)
        gate.reserve(n * c.feedForwardLength)
        up.reserve(n * c.feedForwardLength)
        projected.reserve(n * e)
    }
}
