#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file.
///
/// The mapping is immutable after `init` and freed in `deinit`; reading it from several threads at
/// once is safe, which is why the class is `@unchecked Sendable`. Pages are brought in on demand by
/// the kernel; `release(_:)` hands back the pages of a range we are done with so that streaming
/// a model larger than RAM keeps the resident set flat.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeRawPointer?
    /// Anonymous memory (`init(anonymous:name:fill:)`), not a file: `release(_:)` leaves it alone,
    /// since dropped anonymous pages would read back as zeros.
    private var anonymous = false

    /// Maps `path`. Throws `GGUFError(.io)` naming the file when it cannot be opened or mapped.
    public init(path: String) throws(GGUFError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw GGUFError(.io, file: path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError(.io, file: path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GGUFError(.io, file: path, "not a regular file") }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw GGUFError(.io, file: path, "cannot map \(count) bytes: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    /// Anonymous memory of `count` bytes that `fill` writes once (it starts zeroed), then read-only
    /// like a file's map; `path` is only a name for messages (nothing is read from or written to
    /// disk). Used for a GGUF image built in memory (`GGUFImage`).
    /// - Throws: `GGUFError(.io)` when the memory cannot be mapped, or what `fill` throws (the
    ///   memory is then unmapped).
    public init(anonymous count: Int, name: String, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard count > 0 else {
            try fill(UnsafeMutableRawBufferPointer(start: nil, count: 0))
            path = name
            self.count = 0
            base = nil
            anonymous = true
            return
        }
        let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw GGUFError(.io, file: name, "cannot map \(count) bytes of memory: \(String(cString: strerror(errno)))")
        }
        do { try fill(UnsafeMutableRawBufferPointer(start: p, count: count)) } catch {
            munmap(p, count)
            throw error
        }
        _ = mprotect(p, count, PROT_READ)
        path = name
        self.count = count
        base = UnsafeRawPointer(p)
        anonymous = true
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The whole file.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A checked sub-range: nil when `offset..<offset+length` is not inside the file.
    public func slice(offset: Int, length: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, length >= 0 else { return nil }
        let (end, o) = offset.addingReportingOverflow(length)
        guard !o, end <= count else { return nil }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }

    /// Tells the kernel the pages covering `range` (byte offsets) are no longer needed. They are
    /// dropped from the resident set and read again from disk if touched later.
    public func release(_ range: Range<Int>) {
        guard let base, !range.isEmpty, !anonymous else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = max(0, range.lowerBound) / page * page
        let hi = min(count, range.upperBound)
        guard hi > lo else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, MADV_DONTNEED)
    }

    /// Releases every page of the file.
    public func releaseAll() { release(0..<count) }
}
