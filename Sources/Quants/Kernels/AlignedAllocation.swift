/// Buffers that hot loops read with 512-bit vectors start on a cache-line boundary.
///
/// `UnsafeMutablePointer<Float>.allocate` aligns to the element (glibc's malloc gives 16 bytes), so
/// where a large buffer starts within a cache line depends on what was allocated before it, down to
/// the length of the command line. A 64-byte load that straddles two lines costs two; on the
/// perplexity run that made the same binary on the same file 25 % slower for some model paths.
public let cacheLineAlignment = 64

extension UnsafeMutablePointer {
    /// `capacity` uninitialized elements starting on a 64-byte boundary; free with `deallocate()`.
    @inlinable
    public static func allocateAligned(capacity: Int) -> UnsafeMutablePointer<Pointee> {
        let bytes = Swift.max(1, capacity) * MemoryLayout<Pointee>.stride
        return UnsafeMutableRawPointer.allocate(
            byteCount: bytes, alignment: Swift.max(cacheLineAlignment, MemoryLayout<Pointee>.alignment)
        ).bindMemory(to: Pointee.self, capacity: capacity)
    }
}
