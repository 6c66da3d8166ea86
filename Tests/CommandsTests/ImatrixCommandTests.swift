import Foundation
import GGUF
import Quants
import Testing
import TestSupport
@testable import ToolSupport

@Suite("gguf-imatrix and gguf-quantize --imatrix")
struct ImatrixCommandTests {
    /// b10572's `llama-quantize --imatrix imatrix.dat smollm2-f32.gguf OUT Q4_K_M 2`, run from the folder
    /// of imatrix.dat (the metadata keeps the path as given): the whole file must match the digest
    /// (Fixtures/reference-b10572).
    @Test("--imatrix with llama.cpp's reference imatrix: the digest of llama-quantize's output", .golden)
    func quantizeDigest() throws {
        let digestURL = TestPaths.fixtures.appendingPathComponent("reference-b10572/quantize/smollm2-Q4_K_M-imatrix.json")
        let imatrix = try Golden.require(shared: "reference/imatrix/imatrix.dat")
        let model = try Golden.require(model: "smollm2-f32.gguf")
        let quantize = try Tool.require("gguf-quantize")
        let tmp = TemporaryDirectory("imatrix-digest")
        try FileManager.default.copyItem(atPath: imatrix.path, toPath: tmp.file("imatrix.dat"))
        let p = try Tool.Child("cd \(Tool.quote(tmp.path)) && exec \(Tool.quote(quantize)) --imatrix imatrix.dat "
                               + "\(Tool.quote(model.path)) out.gguf Q4_K_M 2 -q", stderr: tmp.file("stderr"))
        let status = p.wait()
        let stderr = (try? String(contentsOfFile: tmp.file("stderr"), encoding: .utf8)) ?? ""
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("load_imatrix: loaded 210 importance matrix entries from imatrix.dat computed on 168 chunks"))
        let digest = try #require(ReferenceDigest(digestURL))
        let diffs = digest.differences(from: try GGUFFile(path: tmp.file("out.gguf")))
        #expect(diffs.isEmpty, "\(diffs.prefix(5).joined(separator: "\n"))")
    }

    /// The first 4 chunks of wiki.calib.raw: our collector against llama-imatrix's rules, checked
    /// on the quantities that do not depend on the forward pass (names, counts, chunk count,
    /// dataset) and, for blk.0's attention inputs (the normed embeddings), on the values.
    @Test("gguf-imatrix: entries, call counts, format, and values llama.cpp's file confirms", .golden)
    func collect() throws {
        let model = try Golden.require(model: "smollm2-f32.gguf")
        let calib = try Golden.require(shared: "data/wikitext-2-raw/wiki.calib.raw")
        let reference = try ImportanceMatrix(path: try Golden.require(shared: "reference/imatrix/imatrix.dat").path)
        let tmp = TemporaryDirectory("imatrix")
        let out = tmp.file("imatrix.dat")
        let r = runCommand(ImatrixCommand.run, ["-m", model.path, "-f", calib.path, "--chunks", "4", "-o", out, "--output-format", "dat", "-t", "2", "-q",
                                                "-fa", "off"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        #expect(r.console.stdout.hasPrefix("[1]"))
        let ours = try ImportanceMatrix(path: out)
        #expect(ours.entries.count == 210)
        #expect(Set(ours.entries.map(\.name)) == Set(reference.entries.map(\.name)))
        #expect(ours.entries.allSatisfy { $0.callCount == 4 })
        #expect(ours.chunkCount == 4)
        #expect(ours.dataset == calib.path)
        // All 168 chunks of llama.cpp against 4 of ours: the same order of magnitude per column.
        let ref = Dictionary(uniqueKeysWithValues: reference.importances().map { ($0.key, $0.value) })
        for (name, v) in ours.importances() {
            let w = try #require(ref[name])
            #expect(v.count == w.count, "\(name)")
            let ratio = v.reduce(0, +) / w.reduce(0, +)
            #expect(ratio > 0.5 && ratio < 2, "\(name): mean x² ratio \(ratio) against llama.cpp's")
        }
        // Quantizing with it works and records it.
        let q = tmp.file("q.gguf")
        let qr = runCommand(QuantizeCommand.run, ["--imatrix", out, model.path, q, "Q4_0", "2", "-q"])
        #expect(qr.error == nil, "\(String(describing: qr.error))")
        let f = try GGUFFile(path: q)
        #expect(f.metadata[GGUFKey.Quantize.imatrixEntriesCount] == .uint32(210))
        #expect(f.metadata[GGUFKey.Quantize.imatrixChunksCount] == .uint32(4))
    }

    /// The whole calibration split (168 chunks, about 1.5 minutes): the engine sums in the order of
    /// the llama.cpp build behind the reference (b4748: rows in order, as `-kvu`), so every
    /// accumulated value is the same f32.
    @Test("gguf-imatrix over wiki.calib.raw: llama-imatrix's 210 entries, value for value", .golden)
    func wholeFileMatches() throws {
        let model = try Golden.require(model: "smollm2-f32.gguf")
        let calib = try Golden.require(shared: "data/wikitext-2-raw/wiki.calib.raw")
        let reference = try ImportanceMatrix(path: try Golden.require(shared: "reference/imatrix/imatrix.dat").path)
        let tmp = TemporaryDirectory("imatrix-full")
        let out = tmp.file("imatrix.dat")
        let r = runCommand(ImatrixCommand.run, ["-m", model.path, "-f", calib.path, "-o", out, "--output-format", "dat", "-kvu", "-t", "2", "-q",
                                                "-fa", "off"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let ours = try ImportanceMatrix(path: out)
        #expect(ours.chunkCount == reference.chunkCount && ours.entries.count == reference.entries.count)
        let ref = Dictionary(uniqueKeysWithValues: reference.entries.map { ($0.name, $0) })
        for e in ours.entries {
            let w = try #require(ref[e.name], "\(e.name) is not in llama.cpp's file")
            #expect(e.callCount == w.callCount, "\(e.name)")
            #expect(e.values.map(\.bitPattern) == w.values.map(\.bitPattern), "\(e.name): values differ")
        }
    }

    @Test("bad input: an imatrix of another model, a wrong size, a truncated file, filters")
    func badInput() throws {
        let tmp = TemporaryDirectory("imatrix-bad")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try writeTinyF32Model(input)
        // Entries named like another model's tensors.
        let foreign = ImportanceMatrix(entries: [.init(name: "model.layers.0.mlp.up_proj", callCount: 1, values: [Float](repeating: 1, count: 256))],
                                       chunkCount: 1, dataset: "x")
        try foreign.write(to: tmp.file("foreign.dat"), replace: false)
        var r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("foreign.dat"), input, output, "Q4_0", "-q"])
        #expect(r.error?.description.contains("an importance matrix from another model?") == true, "\(String(describing: r.error))")
        #expect(!FileManager.default.fileExists(atPath: output))

        let wrong = ImportanceMatrix(entries: [.init(name: "blk.0.ffn_up.weight", callCount: 2, values: [Float](repeating: 1, count: 100))],
                                     chunkCount: 2, dataset: "x")
        try wrong.write(to: tmp.file("wrong.dat"), replace: false)
        r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("wrong.dat"), input, output, "Q4_0", "-q"])
        #expect(r.error?.description.contains("blk.0.ffn_up.weight") == true, "\(String(describing: r.error))")
        #expect(r.error?.description.contains("100") == true)
        #expect(!FileManager.default.fileExists(atPath: output))

        let bytes = wrong.serialized()
        try Data(bytes.prefix(bytes.count - 150)).write(to: URL(fileURLWithPath: tmp.file("cut.dat")))
        r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("cut.dat"), input, output, "Q4_0", "-q"])
        #expect(r.error?.description.contains(tmp.file("cut.dat")) == true, "\(String(describing: r.error))")

        r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("wrong.dat"), "--include-weights", "a", "--exclude-weights", "b", input, output, "Q4_0"])
        #expect(r.error?.exitCode == 64)
        r = runCommand(QuantizeCommand.run, ["--exclude-weights", "b", input, output, "Q4_0"])
        #expect(r.error?.exitCode == 64)
        // Excluding the only entry leaves the model quantized without importance, and (as llama-quantize)
        // without quantize.imatrix.* keys.
        r = runCommand(QuantizeCommand.run, ["--imatrix", tmp.file("wrong.dat"), "--exclude-weights", "ffn_up", input, output, "Q4_0", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        // (llama-quantize b10572 then records no imatrix keys at all.)
        #expect(try GGUFFile(path: output).metadata[GGUFKey.Quantize.imatrixEntriesCount] == nil)
    }

    @Test("gguf-imatrix bad input: too short a text, missing model")
    func imatrixBadInput() throws {
        let tmp = TemporaryDirectory("imatrix-bad2")
        let model = tmp.file("tiny.gguf")
        #expect(runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                "--outtype", "f32", "--outfile", model, "-q"]).error == nil)
        let short = tmp.file("short.txt")
        try "A few words only.".write(toFile: short, atomically: true, encoding: .utf8)
        var r = runCommand(ImatrixCommand.run, ["-m", model, "-f", short, "-c", "64", "-o", tmp.file("i.dat")])
        #expect(r.error?.description.contains("you need at least 128 tokens for a context of 64 tokens") == true,
                "\(String(describing: r.error))")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("i.dat")))
        r = runCommand(ImatrixCommand.run, ["-m", tmp.file("none.gguf"), "-f", short, "-o", tmp.file("i.dat")])
        #expect(r.error?.description.contains("none.gguf") == true)
        r = runCommand(ImatrixCommand.run, ["-f", short])
        #expect(r.error?.exitCode == 64)
    }
}
