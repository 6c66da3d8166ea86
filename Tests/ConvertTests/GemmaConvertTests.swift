import Testing
import Foundation
import TestSupport
import GGUF
import HFModel
@testable import Convert

/// Gemma 2 / Gemma 3 (text) conversions against llama.cpp b10572's convert_hf_to_gguf.py: the f32
/// digests are ../shared/reference/b10572/convert/tiny-gemma{2,3}-f32.json; the f16, bf16 and q8_0
/// digests in Fixtures/reference-b10572/convert were made with
/// `python convert_hf_to_gguf.py ~/.cache/swift-gguf/models/tiny-gemmaN --outtype T --outfile X.gguf`
/// and `python gguf-digest.py X.gguf` (b10572, transformers 5.24).
@Suite("hf2gguf converts Gemma 2/3 like convert_hf_to_gguf.py", .serialized)
struct GemmaConvertTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let folder: String, outType: OutType
        var digest: String { "\(folder)-\(outType.rawValue)" }
        var testDescription: String { digest }
    }

    static let cases: [Case] = ["tiny-gemma2", "tiny-gemma3"].flatMap { f in
        [OutType.f32, .f16, .bf16, .q8_0].map { Case(folder: f, outType: $0) }
    }

    static func reference(_ name: String) -> URL {
        if name.hasSuffix("-f32"), let shared = TestPaths.sharedFile("reference/b10572/convert/\(name).json") { return shared }
        return TestPaths.fixtures.appendingPathComponent("reference-b10572/convert/\(name).json")
    }

    @Test("conversion is identical to the b10572 digest", .golden, arguments: cases)
    func golden(_ c: Case) throws {
        let model = try Golden.require(model: c.folder)
        let ref = Self.reference(c.digest)
        guard let digest = ReferenceDigest(ref) else { Issue.record("cannot read \(ref.path)"); return }
        let tmp = TemporaryDirectory("gemma")
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
