import Foundation
import GGUF
import Testing
import TestSupport

/// gguf-quantize against llama.cpp b10572's llama-quantize on the real SmolLM2 F32 file (whose bytes
/// equal b10572's own f32 conversion): the whole output, metadata and tensors, must equal the digest of
/// llama-quantize's output (Fixtures/reference-b10572/quantize).
@Suite("gguf-quantize files equal llama-quantize b10572's", .serialized)
struct QuantizeReferenceTests {
    @Test("SmolLM2 F32 → file type, whole-file digest", .golden, arguments: ["Q8_0", "Q4_0", "Q4_K_M", "Q5_K_S", "Q6_K"])
    func wholeFile(_ type: String) throws {
        let digestURL = TestPaths.fixtures.appendingPathComponent("reference-b10572/quantize/smollm2-\(type).json")
        let model = try Golden.require(model: "smollm2-f32.gguf")
        let quantize = try Tool.require("gguf-quantize")
        let tmp = TemporaryDirectory("quantize-b10572")
        let p = try Tool.Child("exec \(Tool.quote(quantize)) \(Tool.quote(model.path)) \(Tool.quote(tmp.file("out.gguf"))) \(type) 2 -q",
                               stderr: tmp.file("stderr"))
        let status = p.wait()
        let stderr = (try? String(contentsOfFile: tmp.file("stderr"), encoding: .utf8)) ?? ""
        #expect(status == 0, "\(stderr)")
        let digest = try #require(ReferenceDigest(digestURL))
        let diffs = digest.differences(from: try GGUFFile(path: tmp.file("out.gguf")))
        #expect(diffs.isEmpty, "\(type): \(diffs.prefix(5).joined(separator: "\n"))")
    }
}
