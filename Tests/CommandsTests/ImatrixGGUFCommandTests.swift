import Foundation
import GGUF
import Quants
import Testing
import TestSupport
@testable import ToolSupport

/// gguf-imatrix / gguf-quantize with GGUF importance matrices, against b10572's llama-imatrix and
/// llama-quantize (Fixtures/reference-b10572/imatrix, see the README there for the commands).
@Suite("gguf-imatrix GGUF format, --in-file, --show-statistics; gguf-quantize --imatrix FILE.gguf")
struct ImatrixGGUFCommandTests {
    static let dir = TestPaths.fixtures.appendingPathComponent("reference-b10572/imatrix")
    static let fixture = dir.appendingPathComponent("smollm2-calib4.imatrix.gguf")

    /// `llama-quantize --imatrix imatrix.gguf smollm2-f32.gguf OUT Q4_K_M 2`, run from the folder of
    /// imatrix.gguf: every key and tensor of the output must match the digest.
    @Test("--imatrix with llama-imatrix's GGUF file: the digest of llama-quantize's output", .golden)
    func quantizeDigest() throws {
        let model = try Golden.require(model: "smollm2-f32.gguf")
        let quantize = try Tool.require("gguf-quantize")
        let tmp = TemporaryDirectory("imatrix-gguf-digest")
        try FileManager.default.copyItem(atPath: Self.fixture.path, toPath: tmp.file("imatrix.gguf"))
        let p = try Tool.Child("cd \(Tool.quote(tmp.path)) && exec \(Tool.quote(quantize)) --imatrix imatrix.gguf "
                               + "\(Tool.quote(model.path)) out.gguf Q4_K_M 2", stderr: tmp.file("stderr"))
        let status = p.wait()
        let stderr = (try? String(contentsOfFile: tmp.file("stderr"), encoding: .utf8)) ?? ""
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("load_imatrix: imatrix datasets=['/work/shared/data/wikitext-2-raw/wiki.calib.raw']"), "\(stderr.prefix(600))")
        #expect(stderr.contains("load_imatrix: loaded 210 importance matrix entries from imatrix.gguf computed on 4 chunks"))
        let digest = try #require(ReferenceDigest(TestPaths.fixtures.appendingPathComponent(
            "reference-b10572/quantize/smollm2-Q4_K_M-imatrix-gguf.json")))
        let diffs = digest.differences(from: try GGUFFile(path: tmp.file("out.gguf")))
        #expect(diffs.isEmpty, "\(diffs.prefix(5).joined(separator: "\n"))")
    }

    static func reference(_ name: String) throws -> String {
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }

    @Test("--show-statistics: llama-imatrix's table, character for character")
    func statistics() throws {
        let tmp = TemporaryDirectory("imatrix-stats")
        try FileManager.default.copyItem(atPath: Self.fixture.path, toPath: tmp.file("imatrix.gguf"))
        // llama-imatrix shows the file as given; ours names the same file.
        let r = runCommand(ImatrixCommand.run, ["--in-file", tmp.file("imatrix.gguf"), "--show-statistics"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let ours = r.console.stdout.replacingOccurrences(of: tmp.file("imatrix.gguf"), with: "imatrix.gguf")
        let ref = try Self.reference("show-statistics-calib4.txt")
        #expect(ours == ref, "first difference at line \(Self.firstDifference(ours, ref))")
        var e = runCommand(ImatrixCommand.run, ["--in-file", tmp.file("imatrix.gguf"), "--in-file", tmp.file("imatrix.gguf"), "--show-statistics"])
        #expect(e.error?.exitCode == 64)
        e = runCommand(ImatrixCommand.run, ["--show-statistics"])
        #expect(e.error?.exitCode == 64)
    }

    static func firstDifference(_ a: String, _ b: String) -> String {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false), y = b.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<min(x.count, y.count) where x[i] != y[i] { return "\(i + 1):\n  ours: \(x[i])\n  ref:  \(y[i])" }
        return "end (\(x.count) vs \(y.count) lines)"
    }

    @Test("legacy .dat: --show-statistics, merging with a GGUF file, conversion to GGUF and back", .golden)
    func mergeWithLegacy() throws {
        let dat = try Golden.require(shared: "reference/imatrix/imatrix.dat")
        let tmp = TemporaryDirectory("imatrix-merge")
        let legacy = tmp.file("legacy.dat"), gguf = tmp.file("imatrix.gguf")
        try FileManager.default.copyItem(atPath: dat.path, toPath: legacy)
        try FileManager.default.copyItem(atPath: Self.fixture.path, toPath: gguf)
        var r = runCommand(ImatrixCommand.run, ["--in-file", legacy, "--show-statistics"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let ours = r.console.stdout.replacingOccurrences(of: legacy, with: "legacy.dat")
        let ref = try Self.reference("show-statistics-dat168.txt")
        #expect(ours == ref, "first difference at line \(Self.firstDifference(ours, ref))")
        // --in-file imatrix.gguf --in-file legacy.dat -o merged.gguf
        r = runCommand(ImatrixCommand.run, ["--in-file", gguf, "--in-file", legacy, "-o", tmp.file("merged.gguf")])
        #expect(r.error == nil, "\(String(describing: r.error))")
        var digest = try #require(ReferenceDigest(Self.dir.appendingPathComponent("merged-calib4-dat168.json")))
        var diffs = digest.differences(from: try GGUFFile(path: tmp.file("merged.gguf")))
        #expect(diffs.isEmpty, "\(diffs.prefix(5).joined(separator: "\n"))")
        // --in-file imatrix.gguf,legacy.dat --output-format dat
        r = runCommand(ImatrixCommand.run, ["--in-file", "\(gguf),\(legacy)", "-o", tmp.file("merged.dat"), "--output-format", "dat"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let datBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: tmp.file("merged.dat"))))
        let sha = datBytes.withUnsafeBytes { SHA256.hex($0) }
        #expect(try Self.reference("merged-calib4-dat168.dat.sha256").hasPrefix(sha))
        // --in-file legacy.dat -o legacy.gguf
        r = runCommand(ImatrixCommand.run, ["--in-file", legacy, "-o", tmp.file("legacy.gguf")])
        #expect(r.error == nil, "\(String(describing: r.error))")
        digest = try #require(ReferenceDigest(Self.dir.appendingPathComponent("dat168-as-gguf.json")))
        diffs = digest.differences(from: try GGUFFile(path: tmp.file("legacy.gguf")))
        #expect(diffs.isEmpty, "\(diffs.prefix(5).joined(separator: "\n"))")
    }

    @Test("--in-file alone rewrites a GGUF imatrix byte for byte; options")
    func rewrite() throws {
        let tmp = TemporaryDirectory("imatrix-rewrite")
        var r = runCommand(ImatrixCommand.run, ["--in-file", Self.fixture.path, "-o", tmp.file("same.gguf")])
        #expect(r.error == nil, "\(String(describing: r.error))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("same.gguf"))) == Data(contentsOf: Self.fixture))
        // Not .gguf without --output-format: GGUF all the same, with a warning.
        r = runCommand(ImatrixCommand.run, ["--in-file", Self.fixture.path, "-o", tmp.file("x.dat")])
        #expect(r.error == nil && r.console.stderr.contains("--output-format dat"))
        #expect(try ImportanceMatrixFile(path: tmp.file("x.dat")).isLegacy == false)
        r = runCommand(ImatrixCommand.run, ["--in-file", Self.fixture.path, "-o", tmp.file("y.dat"), "--output-format", "dat"])
        #expect(r.error == nil)
        let dat = try ImportanceMatrix(path: tmp.file("y.dat"))
        #expect(dat.entries.count == 210 && dat.chunkCount == 4 && dat.dataset == "/work/shared/data/wikitext-2-raw/wiki.calib.raw")
        #expect(dat.entries.allSatisfy { $0.callCount == 4 })
        r = runCommand(ImatrixCommand.run, ["--in-file", Self.fixture.path, "-o", tmp.file("z"), "--output-format", "bin"])
        #expect(r.error?.exitCode == 64)
        r = runCommand(ImatrixCommand.run, ["-o", tmp.file("z")])
        #expect(r.error?.exitCode == 64)
        r = runCommand(ImatrixCommand.run, ["--in-file", tmp.file("none.gguf"), "-o", tmp.file("z")])
        #expect(r.error?.description.contains("none.gguf") == true)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("z")))
    }

    /// Our collector on the first 4 chunks of wiki.calib.raw against llama-imatrix's files: the
    /// same keys, tensor names, order, types, shapes, token counts and sums, bit for bit. b10572 runs
    /// attention with flash attention by default (`-fa auto` on the CPU), as gguf-imatrix does; with
    /// `-fa off` both compute it the classic way. (The two files differ by up to 1.02e-2, in
    /// blk.18.attn_output; the rows are added in b10572's micro-batch order.)
    @Test("gguf-imatrix: llama-imatrix's GGUF file for 4 chunks of SmolLM2, with and without flash attention", .golden,
          arguments: [([String](), "smollm2-calib4.imatrix.gguf", "[1]12.9550,[2]21.3732,[3]22.5235,[4]22.7447,"),
                      (["-fa", "off"], "smollm2-calib4-fa-off.imatrix.gguf", "[1]12.9560,[2]21.3768,[3]22.5253,[4]22.7450,")])
    func collect(_ flags: [String], _ file: String, _ running: String) throws {
        let model = try Golden.require(model: "smollm2-f32.gguf")
        let calib = try Golden.require(shared: "data/wikitext-2-raw/wiki.calib.raw")
        let tmp = TemporaryDirectory("imatrix-gguf-collect")
        let out = tmp.file("imatrix.gguf")
        let r = runCommand(ImatrixCommand.run, ["-m", model.path, "-f", calib.path, "--chunks", "4", "-c", "512", "-o", out, "-t", "2", "-q"]
                           + flags)
        #expect(r.error == nil, "\(String(describing: r.error))")
        // The running perplexity of the same llama-imatrix run.
        #expect(r.console.stdout.hasPrefix(running), "\(r.console.stdout.prefix(80))")
        let ours = try GGUFFile(path: out)
        #expect(ours.metadata[ImportanceStatistics.chunkCountKey] == .uint32(4))
        #expect(ours.metadata[ImportanceStatistics.chunkSizeKey] == .uint32(512))
        #expect(ours.metadata[ImportanceStatistics.datasetsKey] == .array(.string([calib.path])))
        let a = try ImportanceStatistics(file: ours)
        let ref = try GGUFFile(path: Self.dir.appendingPathComponent(file).path)
        #expect(ours.metadata.keys == ref.metadata.keys)
        #expect(ours.tensors.map(\.name) == ref.tensors.map(\.name))
        #expect(ours.tensors.map(\.shape) == ref.tensors.map(\.shape))
        #expect(ours.tensors.map(\.type) == ref.tensors.map(\.type))
        let b = try ImportanceStatistics(file: ref)
        var differing = 0
        for (x, y) in zip(a.entries, b.entries) {
            #expect(x.counts == y.counts, "\(x.name)")
            if x.sums.map(\.bitPattern) != y.sums.map(\.bitPattern) { differing += 1 }
        }
        #expect(differing == 0, "\(file): \(differing) entries differ")
    }

    @Test("gguf-imatrix on the tiny model: GGUF sums and counts, --in-file adds to them, .dat from the same run")
    func tinyModel() throws {
        let tmp = TemporaryDirectory("imatrix-tiny")
        let model = tmp.file("tiny.gguf")
        #expect(runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                "--outtype", "f32", "--outfile", model, "-q"]).error == nil)
        let text = tmp.file("t.txt")
        try String(repeating: "The quick brown fox jumps over the lazy dog, again and again. ", count: 40)
            .write(toFile: text, atomically: true, encoding: .utf8)
        let args = ["-m", model, "-f", text, "-c", "64", "--chunks", "2", "-t", "2", "-q"]
        var r = runCommand(ImatrixCommand.run, args + ["-o", tmp.file("a.gguf")])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let a = try ImportanceStatistics(path: tmp.file("a.gguf"))
        // 2 layers x 7 matrices, 128 tokens each.
        #expect(a.entries.count == 14)
        #expect(a.entries.allSatisfy { $0.counts == [128] && $0.sums.count == 256 })
        #expect(a.chunkCount == 2 && a.chunkSize == 64 && a.datasets == [text])
        // Again on top of a.gguf: twice the tokens, the datasets of both, sums twice as large.
        r = runCommand(ImatrixCommand.run, args + ["--in-file", tmp.file("a.gguf"), "-o", tmp.file("b.gguf")])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let b = try ImportanceStatistics(path: tmp.file("b.gguf"))
        #expect(b.entries.map(\.name) == a.entries.map(\.name))
        #expect(b.entries.allSatisfy { $0.counts == [256] })
        #expect(b.chunkCount == 4 && b.datasets == [text, text])
        for (x, y) in zip(a.entries, b.entries) {
            for (u, v) in zip(x.sums, y.sums) { #expect(abs(v - 2 * u) <= 1e-5 * v, "\(x.name)") }
        }
        // The legacy file of the same run: mean x² times ncall = 2 chunks.
        r = runCommand(ImatrixCommand.run, args + ["-o", tmp.file("a.dat"), "--output-format", "dat"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let dat = try ImportanceMatrix(path: tmp.file("a.dat"))
        #expect(dat.entries.map(\.name) == a.entries.map(\.name) && dat.chunkCount == 2 && dat.dataset == text)
        for (x, y) in zip(a.entries, dat.entries) {
            #expect(y.callCount == 2)
            #expect(y.values == x.sums.map { ($0 / 128) * 2 }, "\(x.name)")
        }
        // Seeds of another size stop the run with the tensor named.
        let wrong = ImportanceStatistics(entries: [.init(name: "blk.0.attn_q.weight", sums: [1, 1], counts: [1])],
                                         datasets: [], chunkCount: 0, chunkSize: 64)
        try wrong.write(to: tmp.file("wrong.gguf"), replace: false)
        r = runCommand(ImatrixCommand.run, args + ["--in-file", tmp.file("wrong.gguf"), "-o", tmp.file("c.gguf")])
        #expect(r.error?.description.contains("blk.0.attn_q.weight") == true, "\(String(describing: r.error))")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("c.gguf")))
    }

    @Test("gguf-quantize: a GGUF imatrix without .counts, or of another size: file and tensor named, nothing written")
    func badImatrix() throws {
        let tmp = TemporaryDirectory("imatrix-gguf-bad")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try writeTinyF32Model(input)
        func gguf(_ path: String, _ tensors: [(String, [Int], [Float])]) throws {
            var md = GGUFMetadata()
            md.set("general.type", .string("imatrix"))
            md.set(ImportanceStatistics.datasetsKey, .array(.string(["calib.txt"])))
            md.set(ImportanceStatistics.chunkCountKey, .uint32(1))
            md.set(ImportanceStatistics.chunkSizeKey, .uint32(512))
            let w = try GGUFWriter(path: path, metadata: md, tensors: tensors.map { GGUFTensorInfo(name: $0.0, shape: $0.1, type: .f32) })
            for t in tensors { try t.2.withUnsafeBytes { try w.writeTensor($0) } }
            try w.finish(replace: true)
        }
        let ones = [Float](repeating: 1, count: 256)
        try gguf(tmp.file("nocounts.gguf"), [("blk.0.ffn_up.weight.in_sum2", [256], ones)])
        var r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("nocounts.gguf"), input, output, "Q4_0", "-q"])
        #expect(r.error?.exitCode == 1)
        #expect(r.error?.description.contains(tmp.file("nocounts.gguf")) == true, "\(String(describing: r.error))")
        #expect(r.error?.description.contains("blk.0.ffn_up.weight.counts") == true)
        #expect(!FileManager.default.fileExists(atPath: output))

        try gguf(tmp.file("size.gguf"), [("blk.0.ffn_up.weight.counts", [1], [512]), ("blk.0.ffn_up.weight.in_sum2", [100], Array(ones.prefix(100)))])
        r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("size.gguf"), input, output, "Q4_0", "-q"])
        #expect(r.error?.exitCode == 1)
        #expect(r.error?.description.contains(tmp.file("size.gguf")) == true, "\(String(describing: r.error))")
        #expect(r.error?.description.contains("blk.0.ffn_up.weight") == true && r.error?.description.contains("100") == true)
        #expect(!FileManager.default.fileExists(atPath: output))

        try gguf(tmp.file("other.gguf"), [("model.layers.0.mlp.up_proj.counts", [1], [512]), ("model.layers.0.mlp.up_proj.in_sum2", [256], ones)])
        r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("other.gguf"), input, output, "Q4_0", "-q"])
        #expect(r.error?.description.contains("an importance matrix from another model?") == true, "\(String(describing: r.error))")
        #expect(!FileManager.default.fileExists(atPath: output))

        // A good one: used, recorded with UINT32 counts and the first dataset.
        try gguf(tmp.file("good.gguf"), [("blk.0.ffn_up.weight.counts", [1], [512]), ("blk.0.ffn_up.weight.in_sum2", [256], ones)])
        r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("good.gguf"), input, output, "Q4_0", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let f = try GGUFFile(path: output)
        #expect(f.metadata[GGUFKey.Quantize.imatrixDataset] == .string("calib.txt"))
        #expect(f.metadata[GGUFKey.Quantize.imatrixEntriesCount] == .uint32(1))
        #expect(f.metadata[GGUFKey.Quantize.imatrixChunksCount] == .uint32(1))
    }
}
