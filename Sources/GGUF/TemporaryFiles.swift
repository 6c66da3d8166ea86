#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths of temporary output files that must not survive the process. Writers register their
/// temporary file while it exists; a SIGINT/SIGTERM handler (installed by the tools) calls
/// `removeAllFromSignalHandler()`, which only uses `unlink`, an async-signal-safe call.
public enum TemporaryFiles {
    private static let capacity = 64
    // Fixed storage so the signal handler never allocates or locks: one slot per live temp file,
    // each a malloc'd NUL-terminated path or nil.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let p = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        p.initialize(repeating: nil, count: capacity)
        return p
    }()
    nonisolated(unsafe) private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    private static func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Registers `path`; returns a slot number for `unregister`, or -1 when all slots are taken
    /// (the file is then still removed by its writer on error, just not on a signal).
    public static func register(_ path: String) -> Int {
        withLock {
            for i in 0..<capacity where slots[i] == nil {
                slots[i] = strdup(path)
                return i
            }
            return -1
        }
    }

    public static func unregister(_ slot: Int) {
        guard slot >= 0 && slot < capacity else { return }
        withLock {
            let p = slots[slot]
            slots[slot] = nil
            free(p)
        }
    }

    /// Unlinks every registered file. Safe to call from a signal handler.
    public static func removeAllFromSignalHandler() {
        for i in 0..<capacity {
            if let p = slots[i] { unlink(p) }
        }
    }
}
