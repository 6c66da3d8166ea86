import Testing
import Foundation
import TestSupport
import GGUF
@testable import Convert

/// Golden parity with llama.cpp b10572's convert_hf_to_gguf.py on the tiny MoE models (Mixtral,
/// whose experts are spread over three shards, and Qwen3-MoE): same metadata, same tensors (the
/// per-expert tensors stacked into `ffn_*_exps`) in the same order with the same bytes. f32 digests
/// come from ../shared/reference/b10572/convert, the others from Fixtures/reference-b10572/convert
/// (made with b10572's converter, see that folder's README).
@Suite("hf2gguf matches convert_hf_to_gguf.py on MoE models", .serialized)
struct MoEGoldenConvertTests {
    static let cases: [GoldenConvertTests.Case] = {
        var c: [GoldenConvertTests.Case] = []
        for m in ["tiny-mixtral", "tiny-qwen3moe"] {
            for t in [OutType.f32, .f16, .bf16, .q8_0, .auto] {
                c.append(GoldenConvertTests.Case(folder: m, digest: "\(m)-\(t.rawValue)", outType: t))
            }
        }
        return c
    }()

    @Test("conversion is identical to the reference digest", .golden, arguments: cases)
    func golden(_ c: GoldenConvertTests.Case) throws {
        let ref = try GoldenConvertTests.reference(c.digest)
        let model = try Golden.require(model: c.folder)
        guard let digest = ReferenceDigest(ref) else { Issue.record("cannot read \(ref.path)"); return }
        let tmp = TemporaryDirectory("golden-moe")
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
