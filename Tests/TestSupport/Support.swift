import Foundation

/// Paths and helpers shared by every test target.
public enum TestPaths {
    /// The package root (two levels above this file's directory).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let fixtures = root.appendingPathComponent("Fixtures")

    /// `../shared` beside the checkout (golden data from llama.cpp), or nil when absent.
    /// `SWIFT_GGUF_SHARED` overrides the location.
    public static let shared: URL? = {
        if let env = ProcessInfo.processInfo.environment["SWIFT_GGUF_SHARED"], !env.isEmpty {
            let u = URL(fileURLWithPath: env)
            return FileManager.default.fileExists(atPath: u.path) ? u : nil
        }
        let u = root.deletingLastPathComponent().appendingPathComponent("shared")
        return FileManager.default.fileExists(atPath: u.appendingPathComponent("reference").path) ? u : nil
    }()

    /// Where the model cache is looked for: `SWIFT_GGUF_MODELS`, else `~/.cache/swift-gguf/models`.
    public static let modelsLocation: URL = {
        if let m = ProcessInfo.processInfo.environment["SWIFT_GGUF_MODELS"], !m.isEmpty {
            return URL(fileURLWithPath: m)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swift-gguf/models")
    }()

    /// The model cache built by `tools/prepare-models.sh` (SmolLM2-135M-Instruct-hf and the tiny
    /// checkpoints of ../shared/tools/make-tiny-fixtures.py), or nil when it was not built.
    /// Golden tests read it through `Golden.require(model:)`.
    public static let models: URL? = {
        FileManager.default.fileExists(atPath: modelsLocation.path) ? modelsLocation : nil
    }()

    public static func sharedFile(_ relative: String) -> URL? {
        guard let s = shared else { return nil }
        let u = s.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    public static func modelDir(_ name: String) -> URL? {
        guard let m = models else { return nil }
        let u = m.appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }
}

/// A fresh temporary directory, removed when the value is dropped.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL
    public var path: String { url.path }

    public init(_ label: String = "test") {
        let base = FileManager.default.temporaryDirectory
        url = base.appendingPathComponent("swift-gguf-\(label)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A small deterministic generator (SplitMix64) for test data.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    public mutating func nextSignedUnit() -> Float {
        Float(Int64(bitPattern: next()) >> 40) / Float(1 << 23)
    }
    /// Approximately standard normal (sum of uniforms).
    public mutating func nextGaussian() -> Float {
        var s: Float = 0
        for _ in 0..<6 { s += nextSignedUnit() }
        return s / 1.41421356
    }
}

/// Runs python3 with a script, returning stdout, or nil when python3 or a module is missing.
public func runPython(_ args: [String], cwd: URL? = nil) -> (status: Int32, stdout: String, stderr: String)? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3"] + args
    if let cwd { p.currentDirectoryURL = cwd }
    let out = Pipe()
    let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("py-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errFile) }
    guard let errHandle = try? FileHandle(forWritingTo: errFile) else { return nil }
    p.standardOutput = out
    p.standardError = errHandle
    do { try p.run() } catch { return nil }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    try? errHandle.close()
    let e = (try? Data(contentsOf: errFile)) ?? Data()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// True when `python3 -c "import numpy, gguf"` works.
public let pythonHasGGUF: Bool = {
    guard let r = runPython(["-c", "import numpy, gguf"]) else { return false }
    return r.status == 0
}()

import Testing

/// Skips the running test with a reason (Swift Testing's cancellation: shown as "cancelled", not
/// failed) when something the test needs is not there (a tool not built, a mount not permitted).
/// Inside a `.golden` test this is `Golden.unavailable`: in CI the test fails instead.
public func skip(_ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Never {
    try Golden.unavailable(reason, sourceLocation: sourceLocation)
}

extension TestPaths {
    /// The local llama.cpp oracle: one llama.cpp b4748 checkout, built in place.
    ///
    ///     $SWIFT_GGUF_ORACLE/              the checkout (default: ../oracle/llama.cpp beside this one)
    ///       models/ggml-vocab-NAME.gguf    vocabulary-only GGUFs, each with .inp / .out test vectors
    ///       build/bin/llama-*              its binaries (llama-tokenize, llama-quantize, llama-perplexity)
    ///
    /// `SWIFT_GGUF_ORACLE` names the directory and is used as given; without it the default is used
    /// when it has a `models/` folder. nil otherwise: `.oracle` tests (`Golden.requireOracle()`) skip.
    public static let oracle: URL? = {
        if let env = ProcessInfo.processInfo.environment["SWIFT_GGUF_ORACLE"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let u = root.deletingLastPathComponent().appendingPathComponent("oracle/llama.cpp")
        return FileManager.default.fileExists(atPath: u.appendingPathComponent("models").path) ? u : nil
    }()

    /// A file of the oracle (`models/ggml-vocab-gpt-2.gguf`, `build/bin/llama-tokenize`), or nil.
    public static func oracleFile(_ relative: String) -> URL? {
        guard let o = oracle else { return nil }
        let u = o.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }
}
