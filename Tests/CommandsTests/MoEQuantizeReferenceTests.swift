import Foundation
import GGUF
import Testing
import TestSupport
@testable import ToolSupport

/// gguf-quantize against llama-quantize b10572 on the tiny MoE models (3-D expert tensors, F32
/// router): hf2gguf's F32 conversion (byte-identical to b10572's) quantized with
/// `gguf-quantize F32 OUT TYPE 2` must equal the digest of `llama-quantize F32 OUT TYPE 2`
/// (Fixtures/reference-b10572/quantize/NAME-TYPE.json).
@Suite("gguf-quantize equals llama-quantize b10572 on MoE models", .serialized)
struct MoEQuantizeReferenceTests {
    static let cases: [(String, String)] = ["tiny-mixtral", "tiny-qwen3moe"].flatMap { m in
        ["Q8_0", "Q4_0", "Q4_K_M", "Q5_K_S", "Q6_K"].map { (m, $0) }
    }

    @Test("tiny MoE F32 → file type, whole-file digest", .golden, arguments: cases)
    func wholeFile(_ model: String, _ type: String) throws {
        let digestURL = TestPaths.fixtures.appendingPathComponent("reference-b10572/quantize/\(model)-\(type).json")
        let hf = try Golden.require(model: model)
        let quantize = try Tool.require("gguf-quantize")
        let tmp = TemporaryDirectory("quantize-moe")
        let f32 = tmp.file("f32.gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        let p = try Tool.Child("exec \(Tool.quote(quantize)) \(Tool.quote(f32)) \(Tool.quote(tmp.file("out.gguf"))) \(type) 2 -q",
                               stderr: tmp.file("stderr"))
        let status = p.wait()
        let stderr = (try? String(contentsOfFile: tmp.file("stderr"), encoding: .utf8)) ?? ""
        #expect(status == 0, "\(stderr)")
        let digest = try #require(ReferenceDigest(digestURL))
        let diffs = digest.differences(from: try GGUFFile(path: tmp.file("out.gguf")))
        #expect(diffs.isEmpty, "\(model) \(type): \(diffs.prefix(5).joined(separator: "\n"))")
    }
}
