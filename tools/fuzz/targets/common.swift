// Helpers shared by every fuzz target (compiled into each one).
#if canImport(Glibc)
import Glibc
#endif

/// Stops the run (libFuzzer records the input) when a promise of the code under test is broken.
func check(_ ok: Bool, _ message: @autoclosure () -> String) {
    if !ok { fatalError("fuzz invariant: \(message())") }
}

/// Keeps a value alive so the work that produced it is not optimised away.
@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

/// A private scratch folder for targets that need files on disk (in /dev/shm when present).
let scratchFolder: String = {
    let dir: String
    if let env = getenv("FUZZ_SCRATCH") {
        dir = String(cString: env)
    } else {
        dir = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/swift-gguf-fuzz-\(getpid())"
    }
    mkdir(dir, 0o700)
    atexit { removeScratchFolder() }
    return dir
}()

func removeScratchFolder() {
    // Targets remove their own files first (their atexit handlers run before this one).
    guard let d = opendir(scratchFolder) else { return }
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name != "." && name != ".." { unlink(scratchFolder + "/" + name) }
    }
    closedir(d)
    rmdir(scratchFolder)
}

/// Writes `bytes` to `path` (replacing it), or stops the run.
func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    check(fd >= 0, "cannot create \(path)")
    var off = 0
    while off < bytes.count {
        let w = write(fd, bytes.baseAddress! + off, bytes.count - off)
        check(w > 0, "cannot write \(path)")
        off += w
    }
    close(fd)
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { writeFile(path, $0) }
}
