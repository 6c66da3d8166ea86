import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport

/// hf2gguf reads `HF_HUB_CACHE` from the process environment: these tests set it, so they run one
/// at a time and restore it.
@Suite("hf2gguf ORG/NAME: the Hugging Face cache", .serialized)
struct HubCacheCommandTests {
    /// The bundled tiny model as `Org/Tiny` in a cache laid out like huggingface_hub's: blobs,
    /// refs/main and a snapshot of symbolic links.
    static func makeCache(_ tmp: TemporaryDirectory) throws -> (hub: String, snapshot: String) {
        let fm = FileManager.default
        let repo = tmp.file("hub/models--Org--Tiny")
        let commit = "0123456789abcdef0123456789abcdef01234567"
        let snap = repo + "/snapshots/" + commit
        try fm.createDirectory(atPath: repo + "/blobs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: repo + "/refs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: snap, withIntermediateDirectories: true)
        try commit.write(toFile: repo + "/refs/main", atomically: true, encoding: .utf8)
        let src = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path
        for (i, name) in try fm.contentsOfDirectory(atPath: src).sorted().enumerated() {
            try fm.copyItem(atPath: src + "/" + name, toPath: repo + "/blobs/blob\(i)")
            try fm.createSymbolicLink(atPath: snap + "/" + name, withDestinationPath: "../../blobs/blob\(i)")
        }
        return (tmp.file("hub"), snap)
    }

    func withHubCache<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        let old = ProcessInfo.processInfo.environment["HF_HUB_CACHE"]
        setenv("HF_HUB_CACHE", path, 1)
        defer { if let old { setenv("HF_HUB_CACHE", old, 1) } else { unsetenv("HF_HUB_CACHE") } }
        return try body()
    }

    @Test("a cached model converts like its snapshot folder with --model-name ORG/NAME")
    func converts() throws {
        let tmp = TemporaryDirectory("hub")
        let (hub, snap) = try Self.makeCache(tmp)
        let r = withHubCache(hub) { runCommand(ConvertCommand.run, ["Org/Tiny", "--outfile", tmp.file("a.gguf"), "-q"]) }
        #expect(r.error == nil)
        #expect(r.console.stderr.contains(snap))
        #expect(runCommand(ConvertCommand.run, [snap, "--model-name", "Org/Tiny", "--outfile", tmp.file("b.gguf"), "-q"]).error == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("a.gguf"))) == Data(contentsOf: URL(fileURLWithPath: tmp.file("b.gguf"))))
        #expect(try GGUFFile(path: tmp.file("a.gguf")).metadata[GGUFKey.General.name] == .string("Org/Tiny"))
    }

    @Test("a model not in the cache: exit 1 naming the folder looked for; --revision needs a model id")
    func missing() throws {
        let tmp = TemporaryDirectory("hub")
        let (hub, _) = try Self.makeCache(tmp)
        let r = withHubCache(hub) { runCommand(ConvertCommand.run, ["Org/Missing", "-q"]) }
        #expect(r.error?.exitCode == 1)
        #expect(r.error?.description.contains(hub + "/models--Org--Missing") == true)
        let rev = withHubCache(hub) { runCommand(ConvertCommand.run, ["Org/Tiny", "--revision", "v2", "-q"]) }
        #expect(rev.error?.description.contains("refs/v2") == true)
        let folder = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path, "--revision", "main"])
        #expect(folder.error?.exitCode == 64)
    }
}
