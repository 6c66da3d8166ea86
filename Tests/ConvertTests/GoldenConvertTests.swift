import Testing
import Foundation
import TestSupport
import GGUF
import HFModel
@testable import Convert

/// Golden parity with llama.cpp b10572's convert_hf_to_gguf.py on the reference models
/// (`../shared/reference/b10572/convert/*.json` where it has the digest, `Fixtures/reference-b10572`
/// otherwise, see its README): same metadata keys, order, types and values, same tensor names, order,
/// types, shapes and bytes.
@Suite("hf2gguf matches convert_hf_to_gguf.py byte for byte", .serialized)
struct GoldenConvertTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let folder: String, digest: String, outType: OutType
        var testDescription: String { "\(digest)" }
    }

    static let cases: [Case] = {
        var c: [Case] = []
        for (folder, prefix) in [("tiny-llama", "tiny-llama"), ("tiny-mistral", "tiny-mistral"), ("tiny-qwen3", "tiny-qwen3"),
                                 ("tiny-llama-spm", "tiny-llama-spm"), ("SmolLM2-135M-Instruct-hf", "smollm2"),
                                 ("tiny-phi3", "tiny-phi3")] {
            for t in [OutType.f32, .f16, .bf16, .q8_0, .auto] { c.append(Case(folder: folder, digest: "\(prefix)-\(t.rawValue)", outType: t)) }
        }
        return c
    }()

    /// The digest: shared's b10572 folder first (the f32 conversions), then the fixture.
    static func reference(_ name: String) throws -> URL {
        let local = TestPaths.fixtures.appendingPathComponent("reference-b10572/convert/\(name).json")
        if name.hasSuffix("-f32"), let shared = TestPaths.sharedFile("reference/b10572/convert/\(name).json") { return shared }
        return local
    }

    @Test("conversion is identical to the reference digest", .golden, arguments: cases)
    func golden(_ c: Case) throws {
        let ref = try Self.reference(c.digest)
        let model = try Golden.require(model: c.folder)
        guard let digest = ReferenceDigest(ref) else { Issue.record("cannot read \(ref.path)"); return }
        let tmp = TemporaryDirectory("golden")
        var o = ConvertOptions()
        o.outType = c.outType
        o.outFile = tmp.file("out.gguf")
        let plan = try Converter.plan(directory: model.path, options: o)
        try Converter.write(plan, directory: model.path, options: o)
        let file = try GGUFFile(path: plan.outputPath)
        let diffs = digest.differences(from: file)
        #expect(diffs.isEmpty, "\(diffs.prefix(10).joined(separator: "\n"))")
    }
}

@Suite("Other architectures: structure, and gguf-py reads our files", .serialized)
struct StructureTests {
    static let readWithGGUFPy = """
    import sys
    from gguf import GGUFReader
    r = GGUFReader(sys.argv[1])
    print(len(r.tensors), r.fields['general.architecture'].contents())
    for t in r.tensors: print(t.name, t.tensor_type.name, list(int(x) for x in t.shape))
    """

    @Test("tiny-mistral (3 shards) and tiny-qwen3 convert with the expected tensors and keys",
          .golden, arguments: [("tiny-mistral", "llama"), ("tiny-qwen3", "qwen3")])
    func structure(_ model: String, _ arch: String) throws {
        let dir = try Golden.require(model: model)
        try Golden.require(pythonHasGGUF, "python3 with numpy and gguf (gguf-py reads our files back)")
        let tmp = TemporaryDirectory("struct")
        for outType in [OutType.f16, .q8_0] {
            var o = ConvertOptions()
            o.outType = outType
            o.outFile = tmp.file("\(model)-\(outType.rawValue).gguf")
            let plan = try Converter.plan(directory: dir.path, options: o)
            try Converter.write(plan, directory: dir.path, options: o)
            let f = try GGUFFile(path: o.outFile!)
            #expect(f.architecture == arch)
            let names = Set(f.tensors.map(\.name))
            var expected = ["token_embd.weight", "output_norm.weight"]
            if arch == "llama" { expected.append("output.weight") }
            for l in 0..<2 {
                for n in ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"] {
                    expected.append("blk.\(l).\(n).weight")
                }
                if arch == "qwen3" { expected += ["blk.\(l).attn_q_norm.weight", "blk.\(l).attn_k_norm.weight"] }
            }
            #expect(names == Set(expected))
            #expect(f.tensor(named: "blk.0.attn_q.weight")?.shape == [256, 256])
            #expect(f.tensor(named: "blk.0.attn_k.weight")?.shape == [256, 128])
            #expect(f.tensor(named: "blk.0.attn_q.weight")?.type == (outType == .f16 ? .f16 : .q8_0))
            #expect(f.tensor(named: "blk.0.attn_norm.weight")?.type == .f32)
            #expect(f.metadata[GGUFKey.LLM.headCountKV(arch)]?.intValue == 2)
            #expect(f.metadata[GGUFKey.LLM.blockCount(arch)]?.intValue == 2)
            #expect(f.metadata[GGUFKey.Tokenizer.pre]?.stringValue == "smollm")
            if arch == "qwen3" { #expect(f.tensor(named: "blk.1.attn_k_norm.weight")?.shape == [64]) }
            let r = try #require(runPython(["-c", StructureTests.readWithGGUFPy, o.outFile!]), "python3 did not start")
            #expect(r.status == 0, "gguf-py could not read \(model): \(r.stderr)")
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.first == "\(f.tensors.count) \(arch)")
            for (line, t) in zip(lines.dropFirst(), f.tensors) {
                #expect(line == "\(t.name) \(t.type.upperName) \(t.shape)")
            }
        }
    }
}
