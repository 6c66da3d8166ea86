#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output file that appears at its final path only when complete.
///
/// Data goes to a temporary file beside the destination (`.NAME.tmp-PID-N`), registered with
/// `TemporaryFiles` so an interrupt removes it. `commit` renames it into place; `abort` (or
/// deinit without commit) deletes it. Writes are buffered; every failure throws naming the
/// destination and the OS reason.
public final class AtomicOutputFile {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var slot: Int
    private var buffer: UnsafeMutableRawPointer
    private let bufferCapacity = 1 << 22
    private var buffered = 0
    public private(set) var bytesWritten = 0
    /// Bytes that have reached the file (the rest of `bytesWritten` is still in the buffer); a
    /// failed write is reported at this offset, where the file really ends.
    private var bytesOnDisk = 0
    private var done = false

    nonisolated(unsafe) private static var counter = 0

    /// Creates the temporary file. Does not touch `path` itself.
    public init(path: String) throws(GGUFError) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        AtomicOutputFile.counter += 1
        temporaryPath = (dir.isEmpty ? "" : dir + "/") + ".\(base).tmp-\(getpid())-\(AtomicOutputFile.counter)"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let e = errno
            throw GGUFError(.io, file: path, "cannot create output in '\(dir)': \(String(cString: strerror(e)))")
        }
        slot = TemporaryFiles.register(temporaryPath)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferCapacity, alignment: 64)
    }

    deinit {
        if !done { discard() }
        buffer.deallocate()
    }

    private func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        TemporaryFiles.unregister(slot)
        slot = -1
        done = true
    }

    private func fail(_ what: String, _ e: Int32) -> GGUFError {
        let err = GGUFError(.io, file: path, offset: bytesOnDisk, "\(what) failed: \(String(cString: strerror(e)))")
        discard()
        return err
    }

    private func rawWrite(_ p: UnsafeRawPointer, _ n: Int) throws(GGUFError) {
        var p = p
        var left = n
        while left > 0 {
            let w = Glibc.write(fd, p, min(left, 1 << 30))
            if w < 0 {
                if errno == EINTR { continue }
                throw fail("write", errno)
            }
            if w == 0 { throw fail("write", EIO) }
            p += w
            left -= w
            bytesOnDisk += w
        }
    }

    public func flush() throws(GGUFError) {
        guard !done else { throw GGUFError(.usage, file: path, "write after the file was closed") }
        if buffered > 0 {
            try rawWrite(buffer, buffered)
            buffered = 0
        }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(GGUFError) {
        guard !done else { throw GGUFError(.usage, file: path, "write after the file was closed") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if buffered + bytes.count <= bufferCapacity {
            (buffer + buffered).copyMemory(from: base, byteCount: bytes.count)
            buffered += bytes.count
        } else {
            try flush()
            if bytes.count >= bufferCapacity / 2 {
                try rawWrite(base, bytes.count)
            } else {
                buffer.copyMemory(from: base, byteCount: bytes.count)
                buffered = bytes.count
            }
        }
        bytesWritten += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws(GGUFError) {
        var failure: GGUFError?
        bytes.withUnsafeBytes { b in
            do throws(GGUFError) { try write(b) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Appends `n` zero bytes.
    public func writeZeros(_ n: Int) throws(GGUFError) {
        guard n > 0 else { return }
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: min(n, 4096), alignment: 16)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        var left = n
        while left > 0 {
            let k = min(left, zeros.count)
            try write(UnsafeRawBufferPointer(rebasing: zeros[0..<k]))
            left -= k
        }
    }

    /// Flushes, closes and renames the file to `path`. With `replace` false an existing file at
    /// `path` is an error and is left untouched (the check and the move are one atomic `link`).
    public func commit(replace: Bool) throws(GGUFError) {
        try flush()
        if fsync(fd) != 0 && errno != EINVAL { throw fail("fsync", errno) }
        if close(fd) != 0 { let e = errno; fd = -1; throw fail("close", e) }
        fd = -1
        if replace {
            if rename(temporaryPath, path) != 0 { throw fail("rename to '\(path)'", errno) }
        } else {
            if link(temporaryPath, path) == 0 {
                unlink(temporaryPath)
            } else {
                let e = errno
                if e == EEXIST {
                    discard()
                    throw GGUFError(.io, file: path, "output file already exists (use --force to replace it)")
                }
                // File systems without hard links: check, then rename.
                var st = stat()
                if stat(path, &st) == 0 {
                    discard()
                    throw GGUFError(.io, file: path, "output file already exists (use --force to replace it)")
                }
                if rename(temporaryPath, path) != 0 { throw fail("rename to '\(path)'", errno) }
            }
        }
        TemporaryFiles.unregister(slot)
        slot = -1
        done = true
    }

    /// Deletes the temporary file.
    public func abort() {
        if !done { discard() }
    }
}
