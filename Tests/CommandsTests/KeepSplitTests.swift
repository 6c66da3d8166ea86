import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport

/// `gguf-quantize --keep-split` against llama-quantize b10572.
@Suite("gguf-quantize --keep-split: llama-quantize's split output")
struct KeepSplitTests {
    // SHA-256 of b10572's files, made from the bundled model's f32 conversion (hf2gguf's, the same
    // bytes as convert_hf_to_gguf.py's):
    //   llama-gguf-split --split --split-max-tensors 8 f32.gguf in        (3 files)
    //   llama-quantize --keep-split in-00001-of-00003.gguf out.gguf T 2   (T = Q4_K_M, Q8_0)
    //   llama-gguf-split --split --split-max-tensors 50 f32.gguf one      (1 file, with split keys)
    //   llama-quantize --keep-split one-00001-of-00001.gguf oneout.gguf Q4_K_M 2
    static let expected: [String: [String]] = [
        "Q4_K_M": ["419be78756ac3dc95c3fcf8731737045a5ab223af1cc4c7f8690411071fcd57d",
                   "a9d4923034288028499c4aa2ddd6bb5804db012d2eeeaad0744f7ed79517775e",
                   "d562be0e71e52ba37b75fb49c14bdd930131d88ba30ad625e3f94ccddf5c8570"],
        "Q8_0": ["3c81586ede6aed42abb95cf43f317bface95e1cae3b2c701147df140ae06ebd7",
                 "cd1cab5986c0080ff73254e300715a320e1a017760cc99fd939c079c4a001a8f",
                 "2b408261134347fb733825e97afda20c95b20e5e1e4108b2ae46ed03eabd0168"],
    ]
    static let singleQ4KM = "2ec07c5a880556c0bc858aac51d22f69a334bb4af1ac9d332c53ce7a661f37a4"

    static func sha(_ path: String) throws -> String {
        let f = try MappedFile(path: path)
        return withExtendedLifetime(f) { SHA256.hex(f.bytes) }
    }

    /// The bundled model's f32 conversion, split by our gguf-split (b10572's bytes) in files of
    /// `maxTensors` tensors: the first file's path.
    static func splitInput(_ tmp: TemporaryDirectory, maxTensors: Int, prefix: String) throws -> String {
        let f32 = tmp.file("f32.gguf")
        if !FileManager.default.fileExists(atPath: f32) {
            let model = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path
            try #require(runCommand(ConvertCommand.run, [model, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        }
        let e = runCommand(SplitCommand.run, ["--split", "--split-max-tensors", String(maxTensors), f32, tmp.file(prefix)]).error
        try #require(e == nil, "\(String(describing: e))")
        let files = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(prefix + "-") }
        let count = files.count
        return tmp.file(GGUFSplitNaming.path(prefix: prefix, index: 0, count: count))
    }

    @Test("three input files give three output files with b10572's bytes", arguments: ["Q4_K_M", "Q8_0"])
    func threeFiles(_ type: String) throws {
        let tmp = TemporaryDirectory("keepsplit")
        let first = try Self.splitInput(tmp, maxTensors: 8, prefix: "in")
        let r = runCommand(QuantizeCommand.run, ["--keep-split", first, tmp.file("out.gguf"), type, "2", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out.gguf")))
        for (i, digest) in try #require(Self.expected[type]).enumerated() {
            #expect(try Self.sha(tmp.file("out-0000\(i + 1)-of-00003.gguf")) == digest, "\(type) file \(i + 1)")
        }
        // The split output reads back as one model with the input's tensors.
        let model = try GGUFFile.openModel(path: tmp.file("out-00001-of-00003.gguf"))
        #expect(model.tensors.count == 20)
    }

    @Test("a one-file split model (gguf-split's keys, 1 of 1) gives OUT-00001-of-00001.gguf without split keys")
    func oneOfOne() throws {
        let tmp = TemporaryDirectory("keepsplit1")
        let first = try Self.splitInput(tmp, maxTensors: 50, prefix: "one")
        #expect(first.hasSuffix("one-00001-of-00001.gguf"))
        let r = runCommand(QuantizeCommand.run, ["--keep-split", first, tmp.file("oneout.gguf"), "Q4_K_M", "2", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        #expect(try Self.sha(tmp.file("oneout-00001-of-00001.gguf")) == Self.singleQ4KM)
    }

    @Test("--dry-run names the files and writes nothing")
    func dryRun() throws {
        let tmp = TemporaryDirectory("keepsplit-dry")
        let first = try Self.splitInput(tmp, maxTensors: 8, prefix: "in")
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path))
        let r = runCommand(QuantizeCommand.run, ["--keep-split", "--dry-run", first, tmp.file("o.gguf"), "Q4_K_M"])
        #expect(r.error == nil)
        #expect(r.console.stdout.hasPrefix("output: \(tmp.file("o-00001-of-00003.gguf")), \(tmp.file("o-00002-of-00003.gguf")), "))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: tmp.path)) == before)
    }

    @Test("bad input: a plain file, a later part, a missing part, an existing output: one error, nothing written")
    func badInput() throws {
        let tmp = TemporaryDirectory("keepsplit-bad")
        let first = try Self.splitInput(tmp, maxTensors: 8, prefix: "in")
        func run(_ input: String, _ extra: [String] = []) -> ToolError? {
            runCommand(QuantizeCommand.run, ["--keep-split"] + extra + [input, tmp.file("out.gguf"), "Q4_K_M", "-q"]).error
        }
        func noOutput(sourceLocation: SourceLocation = #_sourceLocation) throws {
            let files = try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix("out") }
            #expect(files.isEmpty, "\(files)", sourceLocation: sourceLocation)
        }
        let plain = run(tmp.file("f32.gguf"))
        #expect(plain?.exitCode == 1)
        #expect(plain?.description.contains("--keep-split needs a split model") == true, "\(String(describing: plain))")
        try noOutput()
        let second = run(tmp.file("in-00002-of-00003.gguf"))
        #expect(second?.description.contains("a split model is opened by its first file") == true, "\(String(describing: second))")
        try noOutput()
        let needs = run(first, ["--tensor-type", "ffn_up=iq2_xxs"])
        #expect(needs?.description.contains("requires an importance matrix") == true, "\(String(describing: needs))")
        try noOutput()
        try FileManager.default.moveItem(atPath: tmp.file("in-00003-of-00003.gguf"), toPath: tmp.file("moved.gguf"))
        let missing = run(first)
        #expect(missing?.exitCode == 1)
        #expect(missing?.description.contains("in-00003-of-00003.gguf") == true, "\(String(describing: missing))")
        try noOutput()
        try FileManager.default.moveItem(atPath: tmp.file("moved.gguf"), toPath: tmp.file("in-00003-of-00003.gguf"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: tmp.file("out-00002-of-00003.gguf")))
        let exists = run(first)
        #expect(exists?.description.contains("out-00002-of-00003.gguf: output file already exists") == true, "\(String(describing: exists))")
        #expect(!FileManager.default.fileExists(atPath: tmp.file("out-00001-of-00003.gguf")))
    }
}
