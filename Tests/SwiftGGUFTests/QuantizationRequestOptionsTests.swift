import Foundation
import SwiftGGUF
import Testing
import TestSupport

/// llama-quantize b10572's options as typed values of `QuantizationRequest`.
@Suite("QuantizationRequest: tensor types, pruning, metadata overrides, dry run")
struct QuantizationRequestOptionsTests {
    /// Three llama blocks of 256-wide matrices (GQA 2), random f32 values.
    static func writeModel(_ path: String) throws {
        var md = GGUFMetadata()
        md.set(GGUFKey.General.architecture, .string("llama"))
        md.set(GGUFKey.LLM.blockCount("llama"), .uint32(3))
        md.set(GGUFKey.LLM.headCount("llama"), .uint32(4))
        md.set(GGUFKey.LLM.headCountKV("llama"), .uint32(2))
        var infos = [GGUFTensorInfo(name: "token_embd.weight", shape: [256, 64], type: .f32)]
        for l in 0..<3 {
            infos.append(GGUFTensorInfo(name: "blk.\(l).attn_norm.weight", shape: [256], type: .f32))
            for n in ["attn_q", "attn_v", "ffn_down"] {
                infos.append(GGUFTensorInfo(name: "blk.\(l).\(n).weight", shape: [256, 32], type: .f32))
            }
        }
        let w = try GGUFWriter(path: path, metadata: md, tensors: infos)
        var g = SplitMix64(seed: 3)
        for t in w.tensors {
            let v = (0..<t.elementCount).map { _ in g.nextGaussian() * 0.05 }
            try v.withUnsafeBytes { try w.writeTensor($0) }
        }
        try w.finish(replace: true)
    }

    @Test("typed options reach the plan and the file")
    func options() throws {
        let tmp = TemporaryDirectory("qreq")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try Self.writeModel(input)
        var r = QuantizationRequest(input: input, output: output, fileType: .q4_K_S)
        r.tensorTypes = [try TensorTypeOverride(pattern: "attn_v", type: .q8_0)]
        r.pruneLayers = [1]
        r.metadataOverrides = [try MetadataOverride(key: "general.name", value: .string("two blocks"))]
        r.threads = 1
        let plan = try Quantization.plan(r)
        #expect(plan.plans.map(\.name).filter { $0.hasPrefix("blk.") }.allSatisfy { !$0.hasPrefix("blk.2.") })
        #expect(plan.plans.first { $0.name == "blk.1.attn_v.weight" }?.sourceName == "blk.2.attn_v.weight")
        #expect(plan.inputTensorCount == 13 && plan.plans.count == 9)
        #expect(!FileManager.default.fileExists(atPath: output))
        let report = try Quantization.run(r)
        let f = try GGUFFile(path: output)
        #expect(f.tensor(named: "blk.1.attn_v.weight")?.type == .q8_0)
        #expect(f.tensor(named: "blk.0.ffn_down.weight")?.type == .q4_K)
        #expect(f.metadata["general.name"] == .string("two blocks"))
        #expect(f.metadata["llama.block_count"] == .uint32(2))
        #expect(report.summary.plans.map(\.targetType) == plan.plans.map(\.targetType))
    }

    @Test("a type needing an importance matrix: the plan says so, the run refuses and writes nothing")
    func importanceRequired() throws {
        let tmp = TemporaryDirectory("qreq")
        let input = tmp.file("in.gguf"), output = tmp.file("out.gguf")
        try Self.writeModel(input)
        let r = QuantizationRequest(input: input, output: output, fileType: .iq2_XXS)
        #expect(try Quantization.plan(r).needsImportance)
        #expect(throws: SwiftGGUFError.self) { try Quantization.run(r) }
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
