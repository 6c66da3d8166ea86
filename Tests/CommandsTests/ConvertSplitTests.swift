import Testing
import Foundation
import TestSupport
import GGUF
@testable import ToolSupport

@Suite("hf2gguf --split-max-*: convert_hf_to_gguf.py's split files")
struct ConvertSplitTests {
    // b10572's files for the tiny-llama model of the model cache, as (file size, data offset,
    // SHA-256 of the bytes before the data section), printed with gguf-py's GGUFReader:
    //   convert_hf_to_gguf.py tiny-llama --outtype f32 --split-max-tensors 7 --outfile r7.gguf
    //   convert_hf_to_gguf.py tiny-llama --outtype q8_0 --split-max-size 5M --no-tensor-first-split --outfile rs.gguf
    // (Hashing the whole files takes minutes in a debug build; the tensor bytes are compared with
    // the unsplit conversion instead, which the converter's golden tests compare with b10572's.)
    static let byTensors: [(Int, Int, String)] = [
        (104_794_464, 1_769_824, "4d9dcf8d41a7492fb4ae3a99a3d540c55cb60ee22f4ae7c878178aacc201e0b4"),
        (2_360_864, 544, "a1aae58efe44b0507c2e740a0c0e1c32aacdc728307d13b9c95142365258f2a9"),
        (1_575_424, 512, "dc31e725f08ba031001a61f8ac70776a4f05032daa3aa83472f35079fbdcee13")]
    static let bySize: [(Int, Int, String)] = [
        (1_769_408, 1_769_408, "9f12e3c3be9221724cfd833b1bcda9e1a48ee8f5d568c688349ec19f90745e65"),
        (13_369_504, 160, "b1d01ea77d8e69689652d03bc81ecab0caa5aa908f960f6c06512c13f86e65d4"),
        (13_369_536, 192, "135bb7212d58c90168dce2dbbb98943c8b07fa95f0d3b5074b370e587918da72"),
        (1_677_504, 1_216, "61e4d6756736786568a373067549be98d26edcfc4242d2d2e28c6e5e556066c8")]

    static func check(_ path: String, _ expected: (Int, Int, String), sourceLocation: SourceLocation = #_sourceLocation) throws {
        let f = try GGUFFile(path: path)
        #expect(f.mapping.count == expected.0, sourceLocation: sourceLocation)
        #expect(f.dataOffset == expected.1, sourceLocation: sourceLocation)
        let header = withExtendedLifetime(f) { SHA256.hex(UnsafeRawBufferPointer(rebasing: f.mapping.bytes[..<min(f.dataOffset, f.mapping.count)])) }
        #expect(header == expected.2, sourceLocation: sourceLocation)
    }

    @Test("split by tensors and by size: the same files as b10572's converter", .golden)
    func golden() throws {
        let model = try Golden.require(model: "tiny-llama").path
        let tmp = TemporaryDirectory("convsplit")
        #expect(runCommand(ConvertCommand.run, [model, "--outtype", "f32", "--split-max-tensors", "7", "--outfile", tmp.file("r7.gguf"), "-q"]).error == nil)
        #expect(!FileManager.default.fileExists(atPath: tmp.file("r7.gguf")))
        for (i, e) in Self.byTensors.enumerated() { try Self.check(tmp.file("r7-0000\(i + 1)-of-00003.gguf"), e) }
        #expect(runCommand(ConvertCommand.run, [model, "--outtype", "f32", "--outfile", tmp.file("one.gguf"), "-q"]).error == nil)
        let one = try GGUFFile(path: tmp.file("one.gguf")), split = try GGUFFile.openModel(path: tmp.file("r7-00001-of-00003.gguf"))
        #expect(split.tensors.map(\.name) == one.tensors.map(\.name))
        for t in one.tensors {
            let a = one.data(t), b = split.data(try #require(split.tensor(named: t.name)))
            #expect(a.count == b.count && memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0, "\(t.name)")
        }
        #expect(runCommand(ConvertCommand.run, [model, "--outtype", "q8_0", "--split-max-size", "5M", "--no-tensor-first-split",
                                                "--outfile", tmp.file("rs.gguf"), "-q"]).error == nil)
        for (i, e) in Self.bySize.enumerated() { try Self.check(tmp.file("rs-0000\(i + 1)-of-00004.gguf"), e) }
    }

    @Test("sizes: N, NK, NM, NG; a model within the limits stays one file")
    func sizes() throws {
        #expect(ConvertCommand.parseSplitSize("300") == 300)
        #expect(ConvertCommand.parseSplitSize("20K") == 20_000)
        #expect(ConvertCommand.parseSplitSize("5M") == 5_000_000)
        #expect(ConvertCommand.parseSplitSize("2G") == 2_000_000_000)
        for bad in ["", "K", "1.5G", "-1M", "5T"] { #expect(ConvertCommand.parseSplitSize(bad) == nil, "\(bad)") }
        let m = try ModelCopy()
        #expect(m.convert(["--split-max-tensors", "1000"]) == nil)
        #expect(m.outputExists)
        #expect(try GGUFFile(path: m.out).metadata[GGUFKey.Split.count] == nil)
    }
}
