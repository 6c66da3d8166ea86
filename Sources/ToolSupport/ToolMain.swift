#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftGGUF

/// Process-level entry point shared by the executables: installs the signal handlers that
/// remove temporary outputs, runs the command, prints errors as `error: ...` on stderr and exits
/// with 0, 1 or 64.
public enum ToolMain {
    public static func run(_ body: ([String], any Console) throws -> Void) -> Never {
        installSignalHandlers()
        let console = StandardConsole()
        let args = Array(CommandLine.arguments.dropFirst())
        do {
            try body(args, console)
            console.flush()
            exit(0)
        } catch let e as ToolError {
            if case .help(let text) = e {
                console.out(text)
                console.flush()
                exit(0)
            }
            console.err("error: \(e.description)\n")
            exit(e.exitCode)
        } catch {
            console.err("error: \(error)\n")
            exit(1)
        }
    }

    /// SIGINT/SIGTERM/SIGHUP: delete registered temporary files and exit 128+signal.
    /// SIGXFSZ (file size limit) is ignored so that a write fails with EFBIG and the writer
    /// reports it cleanly instead of the process dying with a core dump.
    public static func installSignalHandlers() {
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        for s in [SIGINT, SIGTERM, SIGHUP] {
            signal(s) { sig in
                TemporaryFiles.removeAllFromSignalHandler()
                _exit(128 + sig)
            }
        }
        // A parent may start us with these signals blocked (Foundation's Process does): unblock
        // them, or an interrupt would stay pending until the work is done.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
