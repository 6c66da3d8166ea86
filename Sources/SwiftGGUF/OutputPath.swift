#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks made before any output is written: the output is not one of the inputs (same inode),
/// does not exist unless replacing is allowed, and its folder exists and is writable.
public enum OutputPath {
    public static func check(_ output: String, inputs: [String], force: Bool) throws(SwiftGGUFError) {
        var so = stat()
        let exists = stat(output, &so) == 0
        if exists {
            for input in inputs {
                var si = stat()
                if stat(input, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino {
                    throw SwiftGGUFError(.output, "\(output): output path is the input file '\(input)'; refusing to overwrite the input")
                }
            }
            if (so.st_mode & S_IFMT) == S_IFDIR {
                throw SwiftGGUFError(.output, "\(output): output path is a directory")
            }
            if !force {
                throw SwiftGGUFError(.output, "\(output): output file already exists (use --force to replace it)")
            }
        }
        let dir = output.lastIndex(of: "/").map { String(output[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        var sd = stat()
        guard stat(dir, &sd) == 0, (sd.st_mode & S_IFMT) == S_IFDIR else {
            throw SwiftGGUFError(.output, "\(output): output folder '\(dir)' does not exist")
        }
        guard access(dir, W_OK) == 0 else {
            throw SwiftGGUFError(.output, "\(output): output folder '\(dir)' is not writable")
        }
    }
}
