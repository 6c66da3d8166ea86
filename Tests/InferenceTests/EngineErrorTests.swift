import Foundation
import GGUF
import Quants
import Testing
import TestSupport
@testable import Inference

/// Files the engine refuses, each with a message naming the key or tensor.
@Suite("Engine: models it cannot run")
struct EngineErrorTests {
    func open(_ m: TinyModel) throws -> InferenceError? {
        let dir = TemporaryDirectory("engine-errors")
        let path = dir.file("m.gguf")
        try m.write(to: path)
        do {
            _ = try LanguageModel(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test("unknown architecture, missing tensor, wrong shape, missing key")
    func refused() throws {
        var m = TinyModel()
        m.extraMetadata = [(GGUFKey.General.architecture, .string("phi2"))]
        var e = try open(m)
        #expect(e?.kind == .unsupportedArchitecture)
        #expect(e?.message.contains("phi2") == true, "\(String(describing: e))")

        m = TinyModel()
        m.dropTensors = ["blk.1.ffn_down.weight"]
        e = try open(m)
        #expect(e?.kind == .missing)
        #expect(e?.message.contains("blk.1.ffn_down.weight") == true, "\(String(describing: e))")

        m = TinyModel()
        m.dropTensors = ["output_norm.weight"]
        e = try open(m)
        #expect(e?.message.contains("output_norm.weight") == true, "\(String(describing: e))")

        m = TinyModel()
        m.extraMetadata = [(GGUFKey.LLM.feedForwardLength("llama"), .uint32(100))]
        e = try open(m)
        #expect(e?.kind == .invalid)
        #expect(e?.message.contains("ffn") == true, "\(String(describing: e))")
    }
}
