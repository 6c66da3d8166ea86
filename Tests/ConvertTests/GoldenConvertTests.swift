import Testing
import Foundation
import TestSupport
import GGUF
import HFModel
@testable import Convert

/// Golden parity with llama.cpp b4748's convert_hf_to_gguf.py on the reference models
/// (`../shared/reference/convert/*.json`): same metadata keys, order, types and values, same tensor
/// names, order, types, shapes and bytes.
@Suite("hf2gguf matches convert_hf_to_gguf.py byte for byte", .serialized)
struct GoldenConvertTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let folder: String, digest: String, outType: OutType
        var testDescription: String { "\(digest)" }
    }

    static let cases: [Case] = {
        var c: [Case] = []
        for (folder, prefix) in [("tiny-llama", "tiny-llama"), ("tiny-qwen2", "tiny-qwen2"), ("SmolLM2-135M-Instruct-hf", "smollm2")] {
            for t in [OutType.f32, .f16, .bf16, .q8_0] { c.append(Case(folder: folder, digest: "\(prefix)-\(t.rawValue)", outType: t)) }
        }
        c.append(Case(folder: "tiny-llama-spm", digest: "tiny-llama-spm-f16", outType: .f16))
        return c
    }()

    @Test("conversion is identical to the reference digest", arguments: cases)
    func golden(_ c: Case) throws {
        let ref = try requireShared("reference/convert/\(c.digest).json")
        let model = try requireModel(c.folder)
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
