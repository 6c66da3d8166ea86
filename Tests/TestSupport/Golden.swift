import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Golden tests: the tests that compare our output with llama.cpp's (../shared/reference, the model
/// cache of tools/prepare-models.sh) or with Python packages (gguf-py, tokenizers).
///
/// A golden test is declared with the `.golden` trait and gets its inputs through `Golden.require…`:
///
///     @Test("conversion is identical to the reference digest", .golden, arguments: cases)
///     func golden(_ c: Case) throws {
///         let ref = try Golden.require(shared: "reference/convert/\(c.digest).json")
///         let model = try Golden.require(model: c.folder)
///
/// When an input is missing the test is cancelled (shown as skipped) — except in CI (the `CI`
/// environment variable is set and non-empty), where it fails with the reason: CI cannot be green
/// with golden tests that did not run. `.ci/run` also counts them: every golden test case appends
/// `golden ran <key>` to the file named by `SWIFT_GGUF_GOLDEN_LOG` when it ran to the end (passed or
/// failed) and `.ci/golden-count.py` compares the keys with the `.golden` declarations of Tests/
/// (`golden tests: N of M ran`; a parameterized test counts once).
///
/// Cross-checks against a local llama.cpp checkout (`TestPaths.oracle`: `SWIFT_GGUF_ORACLE`, default
/// ../oracle/llama.cpp) are a separate kind, `.oracle`: developer tests that CI does not have the
/// inputs for. `Golden.requireOracle()` cancels them everywhere when the checkout is absent, and
/// the count line reports them apart.
public enum Golden {
    public enum Kind: String, Sendable { case golden, oracle }

    /// The kind and key (`Module/File.swift:function`) of the running test, set by the trait.
    public struct Context: Sendable {
        public let kind: Kind
        public let key: String
        let outcome: Outcome
    }

    /// Whether the test case stopped on a missing input (as opposed to running to the end or failing).
    final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var _stopped: String?
        var stopped: String? { lock.withLock { _stopped } }
        func stop(_ how: String) { lock.withLock { if _stopped == nil { _stopped = how } } }
    }

    @TaskLocal public static var current: Context?

    /// True in CI (`CI` is set and non-empty): a golden test whose input is missing fails.
    public static let inCI: Bool = !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty

    /// The error that stops a golden test in CI; Swift Testing records it as the test's issue.
    public struct InputMissing: Error, CustomStringConvertible {
        public let reason: String
        public var description: String {
            "golden input missing in CI (CI=\(ProcessInfo.processInfo.environment["CI"] ?? "")): \(reason). "
                + "(golden tests fail instead of skipping in CI: Tests/TestSupport/Golden.swift)"
        }
    }

    // MARK: Inputs

    /// The folder or file `name` of the model cache (tools/prepare-models.sh).
    public static func require(model name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        try checkMarked(sourceLocation)
        guard let u = TestPaths.modelDir(name) else {
            try unavailable("model cache \(TestPaths.modelsLocation.path) has no \(name) (run tools/prepare-models.sh)",
                            sourceLocation: sourceLocation)
        }
        return u
    }

    /// A file or folder of ../shared (`SWIFT_GGUF_SHARED`).
    public static func require(shared relative: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        try checkMarked(sourceLocation)
        guard let u = TestPaths.sharedFile(relative) else {
            try unavailable("../shared/\(relative) is absent", sourceLocation: sourceLocation)
        }
        return u
    }

    /// A condition on the environment, e.g. `pythonHasGGUF` ("python3 with numpy and gguf").
    public static func require(_ available: Bool, _ what: @autoclosure () -> String,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        try checkMarked(sourceLocation)
        if !available { try unavailable("\(what()) is not available", sourceLocation: sourceLocation) }
    }

    /// The llama.cpp checkout of an `.oracle` test; cancels the test when absent, in CI too.
    public static func requireOracle(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        if current?.kind != .oracle {
            Issue.record("Golden.requireOracle() in a test without the .oracle trait", sourceLocation: sourceLocation)
        }
        guard let o = TestPaths.oracle else {
            current?.outcome.stop("skipped")
            try Test.cancel(Comment(rawValue: "llama.cpp checkout absent (SWIFT_GGUF_ORACLE, default ../oracle/llama.cpp): "
                                    + "developer cross-check, not run in CI"), sourceLocation: sourceLocation)
        }
        return o
    }

    /// A missing input: cancels the test, or in a golden test in CI fails it with the reason.
    public static func unavailable(_ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Never {
        if inCI, let c = current, c.kind == .golden {
            c.outcome.stop("missing")
            throw InputMissing(reason: reason)
        }
        current?.outcome.stop("skipped")
        try Test.cancel(Comment(rawValue: reason), sourceLocation: sourceLocation)
    }

    /// Golden inputs are only read by tests declared `.golden` (or `.oracle`, which may read
    /// ../shared too): otherwise they would not be counted.
    static func checkMarked(_ sourceLocation: SourceLocation) throws {
        if current == nil {
            Issue.record("a golden input is read by a test without the .golden trait (add it to the @Test)",
                         sourceLocation: sourceLocation)
        }
    }

    // MARK: Run log

    /// `Module/File.swift:function` — what .ci/golden-count.py derives from the declarations.
    static func key(_ test: Test) -> String {
        let function = test.name.prefix { $0 != "(" }
        return "\(test.sourceLocation.fileID):\(function)"
    }

    private static let logLock = NSLock()

    /// Appends `kind outcome key` to `SWIFT_GGUF_GOLDEN_LOG` (one write per line, O_APPEND).
    static func log(_ kind: Kind, _ outcome: String, _ key: String) {
        guard let path = ProcessInfo.processInfo.environment["SWIFT_GGUF_GOLDEN_LOG"], !path.isEmpty else { return }
        let line = Array("\(kind.rawValue) \(outcome) \(key)\n".utf8)
        logLock.withLock {
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            guard fd >= 0 else { return }
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
    }
}

/// The trait behind `.golden` and `.oracle`: sets `Golden.current` around each test case and logs
/// whether it ran.
public struct GoldenTrait: TestTrait, TestScoping {
    public let kind: Golden.Kind

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        let context = Golden.Context(kind: kind, key: Golden.key(test), outcome: Golden.Outcome())
        do {
            try await Golden.$current.withValue(context) { try await function() }
            Golden.log(kind, "ran", context.key)
        } catch {
            Golden.log(kind, context.outcome.stopped ?? "ran", context.key)
            throw error
        }
    }
}

extension Trait where Self == GoldenTrait {
    /// Compares with llama.cpp's reference, the model cache or Python: must run in CI.
    public static var golden: Self { GoldenTrait(kind: .golden) }
    /// Cross-check against a local llama.cpp checkout: skipped where there is none (CI).
    public static var oracle: Self { GoldenTrait(kind: .oracle) }
}
