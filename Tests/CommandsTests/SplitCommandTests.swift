import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport

@Suite("gguf-split: split, merge, and the tools reading a split model")
struct SplitCommandTests {
    @Test("--split-max-size units: M = 10^6, G = 10^9 bytes, whole numbers only")
    func sizes() {
        #expect(SplitCommand.parseSize("200M") == 200_000_000)
        #expect(SplitCommand.parseSize("5G") == 5_000_000_000)
        for bad in ["5", "5K", "0M", "-1G", "1.5G", "M", "5m"] { #expect(SplitCommand.parseSize(bad) == nil, "\(bad)") }
    }

    @Test("split, dry run, merge: the files and the plan lines of llama-gguf-split")
    func splitAndMerge() throws {
        let tmp = TemporaryDirectory("split")
        let input = tmp.file("in.gguf")
        try writeTinyF32Model(input)
        let dry = runCommand(SplitCommand.run, ["--split-max-tensors", "7", "--dry-run", input, tmp.file("d")])
        #expect(dry.error == nil)
        #expect(dry.console.stdout.hasPrefix("n_split: 3\nsplit 00001: n_tensors = 7, total_size = 0M\n"))
        #expect(!FileManager.default.fileExists(atPath: tmp.file("d-00001-of-00003.gguf")))

        let r = runCommand(SplitCommand.run, ["--split", "--split-max-tensors", "7", input, tmp.file("s")])
        #expect(r.error == nil)
        #expect(r.console.stdout.contains("Writing file \(tmp.file("s-00003-of-00003.gguf")) ... done\n"))
        let model = try GGUFFile.openModel(path: tmp.file("s-00001-of-00003.gguf"))
        let original = try GGUFFile(path: input)
        #expect(model.tensors.map(\.name) == original.tensors.map(\.name))

        #expect(runCommand(SplitCommand.run, ["--merge", tmp.file("s-00001-of-00003.gguf"), tmp.file("m.gguf")]).error == nil)
        let merged = try GGUFFile(path: tmp.file("m.gguf"))
        #expect(Array(merged.metadata.keys.dropLast(3)) == original.metadata.keys)
        withExtendedLifetime((merged, original)) {
            #expect(Array(merged.mapping.bytes[merged.dataOffset...]) == Array(original.mapping.bytes[original.dataOffset...]))
        }
        // An existing output is not replaced.
        let again = runCommand(SplitCommand.run, ["--merge", tmp.file("s-00001-of-00003.gguf"), tmp.file("m.gguf")])
        #expect(again.error?.exitCode == 1)
        // A file that is not the first of a split model.
        #expect(runCommand(SplitCommand.run, ["--merge", input, tmp.file("m2.gguf")]).error?.description.contains("split.count") == true)
    }

    @Test("usage errors: both operations, both limits, a bad size, a limit of 0")
    func usage() throws {
        for args in [["--split", "--merge", "a", "b"], ["--split-max-tensors", "3", "--split-max-size", "1M", "a", "b"],
                     ["--split-max-size", "5K", "a", "b"], ["--split-max-tensors", "0", "a", "b"], ["a"]] {
            #expect(runCommand(SplitCommand.run, args).error?.exitCode == 64, "\(args)")
        }
    }

    @Test("gguf-quantize and gguf-dump read a split model from its first file")
    func toolsReadSplitModels() throws {
        let tmp = TemporaryDirectory("split")
        let input = tmp.file("in.gguf")
        try writeTinyF32Model(input)
        #expect(runCommand(SplitCommand.run, ["--split-max-tensors", "5", input, tmp.file("s")]).error == nil)
        let first = tmp.file("s-00001-of-00004.gguf")
        #expect(runCommand(QuantizeCommand.run, [input, tmp.file("a.gguf"), "Q4_K_M", "2", "-q"]).error == nil)
        #expect(runCommand(QuantizeCommand.run, [first, tmp.file("b.gguf"), "Q4_K_M", "2", "-q"]).error == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("a.gguf"))) == Data(contentsOf: URL(fileURLWithPath: tmp.file("b.gguf"))))

        let dump = runCommand(DumpCommand.run, [first])
        #expect(dump.console.stdout.contains("* Dumping 18 tensor(s)"))
        let one = runCommand(DumpCommand.run, [first, "--single-file"])
        #expect(one.console.stdout.contains("* Dumping 5 tensor(s)"))
        let later = runCommand(DumpCommand.run, [tmp.file("s-00004-of-00004.gguf")])
        #expect(later.error == nil)
        #expect(later.console.stdout.contains("* Dumping 3 tensor(s)"))
    }
}
