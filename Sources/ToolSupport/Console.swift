#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a command writes: results to `out`, diagnostics and progress to `err`. The tools use
/// the process's stdout/stderr; tests use `CapturedConsole`.
public protocol Console: AnyObject {
    func out(_ s: String)
    func err(_ s: String)
    /// True when `err` is an interactive terminal (progress lines are redrawn in place).
    var errIsTerminal: Bool { get }
}

/// stdout / stderr of the process. stdout is buffered (flushed at 64 KiB, before anything goes
/// to stderr, and by `flush()`); stderr is written immediately.
public final class StandardConsole: Console {
    private var buffer: [UInt8] = []
    public init() { buffer.reserveCapacity(1 << 16) }
    deinit { flush() }

    public func out(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func err(_ s: String) {
        flush()
        StandardConsole.writeAll(2, Array(s.utf8))
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        StandardConsole.writeAll(1, buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    public var errIsTerminal: Bool { isatty(2) != 0 }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { b in
            var p = b.baseAddress
            var left = b.count
            while left > 0, let q = p {
                let w = write(fd, q, left)
                if w < 0 { if errno == EINTR { continue } else { return } }
                p = q + w
                left -= w
            }
        }
    }
}

/// Collects output in memory (for tests).
public final class CapturedConsole: Console {
    public private(set) var stdout = ""
    public private(set) var stderr = ""
    public init() {}
    public func out(_ s: String) { stdout += s }
    public func err(_ s: String) { stderr += s }
    public var errIsTerminal: Bool { false }
}
