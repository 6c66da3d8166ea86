import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

/// A llama checkpoint big enough that converting it takes a moment (8 layers of hidden size 1024,
/// F32, about 360 MB of sparse zeros, so it costs no disk), with the tiny fixture's tokenizer.
enum SyntheticCheckpoint {
    static let hidden = 1024, ffn = 2816, layers = 8, vocab = 320, heads = 16, kvHeads = 4

    static func tensors() -> [(name: String, shape: [Int])] {
        let kv = hidden / heads * kvHeads
        var out: [(String, [Int])] = [("model.embed_tokens.weight", [vocab, hidden]), ("model.norm.weight", [hidden])]
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            out += [(p + "input_layernorm.weight", [hidden]), (p + "post_attention_layernorm.weight", [hidden]),
                    (p + "self_attn.q_proj.weight", [hidden, hidden]), (p + "self_attn.k_proj.weight", [kv, hidden]),
                    (p + "self_attn.v_proj.weight", [kv, hidden]), (p + "self_attn.o_proj.weight", [hidden, hidden]),
                    (p + "mlp.gate_proj.weight", [ffn, hidden]), (p + "mlp.up_proj.weight", [ffn, hidden]),
                    (p + "mlp.down_proj.weight", [hidden, ffn])]
        }
        return out
    }

    /// Writes the folder; returns the size of model.safetensors.
    @discardableResult
    static func make(_ dir: String) throws -> Int {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fixture = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama")
        for f in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: fixture.appendingPathComponent(f).path, toPath: dir + "/" + f)
        }
        let config = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": \(vocab),
             "hidden_size": \(hidden), "intermediate_size": \(ffn), "num_hidden_layers": \(layers),
             "num_attention_heads": \(heads), "num_key_value_heads": \(kvHeads), "max_position_embeddings": 512,
             "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": true, "torch_dtype": "float32"}
            """
        try config.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        var entries: [String] = []
        var offset = 0
        for t in tensors() {
            let n = t.shape.reduce(1, *) * 4
            entries.append("\"\(t.name)\":{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + n)]}")
            offset += n
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += header
        let path = dir + "/model.safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let total = bytes.count + offset
        guard truncate(path, off_t(total)) == 0 else { throw CocoaError(.fileWriteUnknown) }
        return total
    }
}

/// Runs the built executables as child processes.
enum Tool {
    /// The executable `name` in the build folder that holds the test bundle, or nil.
    static func path(_ name: String) -> String? {
        var dirs = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        dirs.append(Bundle.main.bundleURL.deletingLastPathComponent())
        dirs.append(Bundle.main.bundleURL)
        for d in dirs {
            let p = d.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func require(_ name: String) throws -> String {
        guard let p = path(name) else { try skip("\(name) is not built next to the test bundle (swift build first)") }
        return p
    }

    /// A child process started with posix_spawn. Foundation's `Process` hands the child the
    /// signal mask of the calling thread, and Swift Testing's threads block SIGINT and SIGTERM, so
    /// the tools are started here as a shell would start them: empty mask, default dispositions.
    final class Child {
        let pid: pid_t
        private(set) var status: Int32?

        /// Runs `/bin/bash -c shell` (so that `ulimit` can come first), stderr to `stderr`.
        init(_ shell: String, stderr: String, blockSignals: Bool = false) throws {
            var attr = posix_spawnattr_t()
            posix_spawnattr_init(&attr)
            defer { posix_spawnattr_destroy(&attr) }
            var mask = sigset_t()
            sigemptyset(&mask)
            if blockSignals { for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&mask, s) } }
            posix_spawnattr_setsigmask(&attr, &mask)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for s in [SIGINT, SIGTERM, SIGHUP, SIGXFSZ, SIGPIPE] { sigaddset(&defaults, s) }
            posix_spawnattr_setsigdefault(&attr, &defaults)
            posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/bash", "-c", shell].map { (a: String) in strdup(a) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, "/bin/bash", &actions, &attr, argv, environ)
            guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
            self.pid = pid
        }

        /// Raw wait status, once the child has ended.
        private func reap(_ options: Int32) -> Bool {
            if status != nil { return true }
            var st: Int32 = 0
            if waitpid(pid, &st, options) == pid { status = st; return true }
            return false
        }

        var isRunning: Bool { !reap(WNOHANG) }

        /// Waits; returns the exit code (128 + signal when killed by a signal, as a shell reports).
        @discardableResult func wait() -> Int32 {
            _ = reap(0)
            let st = status ?? 0
            return (st & 0x7F) == 0 ? (st >> 8) & 0xFF : 128 + (st & 0x7F)
        }
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// Files named like AtomicOutputFile's temporaries (`.NAME.tmp-PID-N`) in `dir`.
func temporaryOutputs(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".tmp-") }
}

/// Open descriptors and memory maps of process `pid` that refer to files under `folder` and allow
/// writing (/proc/PID/fdinfo flags with O_WRONLY or O_RDWR; maps with 'w' permission).
func writableHandles(pid: Int32, under folder: String) -> [String] {
    var bad: [String] = []
    let fdDir = "/proc/\(pid)/fd"
    for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? [] {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDir + "/" + fd),
              target.hasPrefix(folder + "/") else { continue }
        guard let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
              let flags = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) else { continue }
        if flags & Int(O_ACCMODE) != Int(O_RDONLY) { bad.append("fd \(fd) → \(target) flags \(String(flags, radix: 8))") }
    }
    let maps = (try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)) ?? ""
    for line in maps.split(separator: "\n") where line.contains(folder + "/") {
        let perms = line.split(separator: " ").dropFirst().first ?? ""
        if perms.contains("w") { bad.append("map \(line)") }
    }
    return bad
}

@Suite("Writers under faults: signals, full disks and failed runs leave no partial output", .serialized)
struct FaultTests {
    /// Converts the synthetic checkpoint and delivers `signal` once the temporary output has begun
    /// to fill; meanwhile checks that no input is open for writing.
    func interrupted(_ signal: Int32, force existing: String? = nil, blocked: Bool = false) throws {
        let hf2gguf = try Tool.require("hf2gguf")
        let tmp = TemporaryDirectory("fault-signal")
        let model = tmp.file("model")
        try SyntheticCheckpoint.make(model)
        let outDir = tmp.file("out")
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let out = outDir + "/model.gguf"
        if let existing { try existing.write(toFile: out, atomically: false, encoding: .utf8) }
        let inputsBefore = try snapshot(model)
        let cmd = "exec \(Tool.quote(hf2gguf)) \(Tool.quote(model)) --outfile \(Tool.quote(out)) -q" + (existing != nil ? " --force" : "")
        let p = try Tool.Child(cmd, stderr: tmp.file("stderr"), blockSignals: blocked)
        var sent = false
        var inputChecks = 0
        let deadline = Date().addingTimeInterval(120)
        // Poll only the output folder: reading /proc/PID/maps takes the child's memory-map lock,
        // so the descriptor check runs just twice (when the output appears and before the signal).
        while p.isRunning && Date() < deadline {
            var st = stat()
            if let t = temporaryOutputs(outDir).first, stat(outDir + "/" + t, &st) == 0 {
                if inputChecks == 0 || st.st_size > 1 << 20 {
                    let bad = writableHandles(pid: p.pid, under: model)
                    #expect(bad.isEmpty, "input opened for writing: \(bad)")
                    inputChecks += 1
                }
                if st.st_size > 1 << 20 {
                    kill(p.pid, signal)
                    sent = true
                    break
                }
            }
            usleep(20_000)
        }
        let status = p.wait()
        let stderr = (try? String(contentsOfFile: tmp.file("stderr"), encoding: .utf8)) ?? ""
        #expect(sent, "the conversion ended before the signal could be sent (\(stderr))")
        #expect(inputChecks > 0)
        if sent {
            // ToolMain's handler removes the temporary file and exits with 128 + signal.
            #expect(status == 128 + signal, "status \(status): \(stderr)")
        }
        #expect(temporaryOutputs(outDir).isEmpty, "temporary files left: \(temporaryOutputs(outDir))")
        if let existing {
            #expect(try String(contentsOfFile: out, encoding: .utf8) == existing, "the old output was touched")
        } else {
            #expect(!FileManager.default.fileExists(atPath: out), "an output appeared")
        }
        #expect(try snapshot(model) == inputsBefore, "an input changed")
    }

    /// Size, modification time and inode of every file of a folder.
    func snapshot(_ dir: String) throws -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
            var st = stat()
            guard stat(dir + "/" + f, &st) == 0 else { continue }
            out[f] = [Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_ino)]
        }
        return out
    }

    @Test("SIGINT during a conversion removes the temporary file and writes no output")
    func sigint() throws { try interrupted(SIGINT) }

    @Test("SIGTERM during a conversion removes the temporary file and writes no output")
    func sigterm() throws { try interrupted(SIGTERM) }

    @Test("SIGTERM during a --force conversion leaves the existing output as it was")
    func sigtermKeepsOld() throws { try interrupted(SIGTERM, force: "the previous output") }

    @Test("a tool started with SIGINT/SIGTERM blocked (as Foundation's Process starts it) still cleans up")
    func inheritedMask() throws {
        // ToolMain unblocks SIGINT/SIGTERM/SIGHUP (pthread_sigmask) after installing its handlers:
        // an inherited mask would otherwise keep the signal pending until the conversion ends.
        let hf2gguf = try Tool.require("hf2gguf")
        let tmp = TemporaryDirectory("fault-mask")
        let model = tmp.file("model")
        try SyntheticCheckpoint.make(model)
        let out = tmp.file("model.gguf")
        let p = try Tool.Child("exec \(Tool.quote(hf2gguf)) \(Tool.quote(model)) --outfile \(Tool.quote(out)) -q",
                               stderr: tmp.file("stderr"), blockSignals: true)
        defer {
            if p.isRunning { kill(p.pid, SIGKILL) }
            p.wait()
        }
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline && temporaryOutputs(tmp.path).isEmpty { usleep(20_000) }
        kill(p.pid, SIGTERM)
        let stop = Date().addingTimeInterval(3)
        while p.isRunning && Date() < stop { usleep(20_000) }
        #expect(!p.isRunning, "still converting 3 s after SIGTERM")
        let status = p.wait()
        #expect(status == 128 + SIGTERM, "exit status \(status): the handler, not the end of the conversion, must stop it")
        #expect(temporaryOutputs(tmp.path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Runs hf2gguf on the tiny fixture (F32 output, about 3.5 MB) with `prefix` in front.
    func failingWrite(_ prefix: String, outDir: String, existing: String?) throws -> (status: Int32, stderr: String, out: String) {
        let hf2gguf = try Tool.require("hf2gguf")
        let tmp = TemporaryDirectory("fault-write")
        let model = tmp.file("model")
        try FileManager.default.copyItem(atPath: TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path, toPath: model)
        let out = outDir + "/model.gguf"
        if let existing { try existing.write(toFile: out, atomically: false, encoding: .utf8) }
        let cmd = prefix + "exec \(Tool.quote(hf2gguf)) \(Tool.quote(model)) --outfile \(Tool.quote(out)) --outtype f32 -q --force"
        let status = try Tool.Child(cmd, stderr: tmp.file("stderr")).wait()
        return (status, (try? String(contentsOfFile: tmp.file("stderr"), encoding: .utf8)) ?? "", out)
    }

    @Test("a file-size limit (ulimit -f) fails the write with a clear error; the old output survives")
    func fileSizeLimit() throws {
        let tmp = TemporaryDirectory("fault-ulimit")
        let r = try failingWrite("ulimit -f 1024 && ", outDir: tmp.path, existing: "old output")
        #expect(r.status == 1)
        #expect(r.stderr == "error: \(r.out): write failed: File too large (at offset 1048576)\n", "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        #expect(try String(contentsOfFile: r.out, encoding: .utf8) == "old output")
        #expect(temporaryOutputs(tmp.path).isEmpty)
    }

    @Test("a full disk (2 MiB tmpfs) fails with 'No space left on device' and leaves nothing behind")
    func fullDisk() throws {
        let tmp = TemporaryDirectory("fault-tmpfs")
        let mnt = tmp.file("mnt")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/sh")
        mount.arguments = ["-c", "mount -t tmpfs -o size=2m tmpfs \(Tool.quote(mnt)) 2>/dev/null"]
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { try skip("cannot mount a tmpfs here (not permitted)") }
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/sh")
            u.arguments = ["-c", "umount \(Tool.quote(mnt))"]
            try? u.run()
            u.waitUntilExit()
        }
        let r = try failingWrite("", outDir: mnt, existing: "old output")
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: \(r.out): write failed: No space left on device (at offset "), "\(r.stderr)")
        #expect(try String(contentsOfFile: r.out, encoding: .utf8) == "old output")
        #expect(temporaryOutputs(mnt).isEmpty, "\(temporaryOutputs(mnt))")
    }

    @Test("gguf-quantize under a file-size limit: clear error, old output kept, input untouched, nothing left")
    func quantizeWriteFaults() throws {
        let quantize = try Tool.require("gguf-quantize")
        let tmp = TemporaryDirectory("fault-quantize")
        let input = tmp.file("tiny-f32.gguf")
        let m = try ModelCopy()
        #expect(runCommand(ConvertCommand.run, [m.dir, "--outfile", input, "--outtype", "f32", "-q"]).error == nil)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        func run(_ prefix: String, outDir: String) throws -> (status: Int32, stderr: String, out: String) {
            let out = outDir + "/q8.gguf"
            try "old output".write(toFile: out, atomically: false, encoding: .utf8)
            let cmd = prefix + "exec \(Tool.quote(quantize)) -q -f \(Tool.quote(input)) \(Tool.quote(out)) q8_0"
            let status = try Tool.Child(cmd, stderr: tmp.file("stderr")).wait()
            return (status, (try? String(contentsOfFile: tmp.file("stderr"), encoding: .utf8)) ?? "", out)
        }
        let r = try run("ulimit -f 256 && ", outDir: tmp.path)
        #expect(r.status == 1)
        // The offset is where the file stops: the 256 KiB limit.
        #expect(r.stderr.hasSuffix("error: \(r.out): write failed: File too large (at offset 262144)\n"), "\(r.stderr)")
        #expect(try String(contentsOfFile: r.out, encoding: .utf8) == "old output")
        #expect(temporaryOutputs(tmp.path).isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before, "the input changed")
        let ok = try run("", outDir: tmp.path)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try GGUFFile(path: ok.out).tensors.count == 20)
    }

    @Test("--force replaces an existing output only at the end, by rename: a reader of the old file keeps it")
    func forceIsAtomic() throws {
        let tmp = TemporaryDirectory("fault-force")
        let out = tmp.file("model.gguf")
        try "old output".write(toFile: out, atomically: false, encoding: .utf8)
        var before = stat()
        #expect(stat(out, &before) == 0)
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: out))
        defer { try? reader.close() }
        let r = try failingWrite("", outDir: tmp.path, existing: nil)
        #expect(r.status == 0, "\(r.stderr)")
        var after = stat()
        #expect(stat(out, &after) == 0)
        #expect(after.st_ino != before.st_ino, "the output was rewritten in place, not renamed into place")
        #expect(String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) == "old output")
        #expect(try GGUFFile(path: out).tensors.count == 20)
        #expect(temporaryOutputs(tmp.path).isEmpty)
    }
}
