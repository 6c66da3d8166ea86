import Testing
import Foundation
import TestSupport
import GGUF
@testable import Quants

@Suite("llama-quantize type selection")
struct TypePlanTests {
    @Test("use_more_bits layer sets match llama.cpp's documented examples")
    func useMoreBits() {
        let n32 = (0..<32).filter { TypePlanner.useMoreBits($0, 32) }
        #expect(n32 == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        let n30 = (0..<30).filter { TypePlanner.useMoreBits($0, 30) }
        #expect(n30 == [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 27, 28, 29])
        let n16 = (0..<16).filter { TypePlanner.useMoreBits($0, 16) }
        #expect(n16 == [0, 1, 4, 7, 10, 13, 14, 15])
    }

    @Test("tensor order: non-block tensors first, then by layer number, then by name")
    func order() {
        let names = ["blk.10.ffn_up.weight", "blk.2.attn_q.weight", "token_embd.weight", "blk.2.attn_k.weight", "output.weight", "output_norm.weight"]
        #expect(TypePlanner.ordered(names) == ["output.weight", "output_norm.weight", "token_embd.weight",
                                               "blk.2.attn_k.weight", "blk.2.attn_q.weight", "blk.10.ffn_up.weight"])
    }

    @Test("shape fallbacks")
    func fallbacks() throws {
        #expect(try TypePlanner.shapeFallback(.q4_K, ne0: 576) == (.q5_0, true))
        #expect(try TypePlanner.shapeFallback(.q5_K, ne0: 576) == (.q5_1, true))
        #expect(try TypePlanner.shapeFallback(.q6_K, ne0: 576) == (.q8_0, true))
        #expect(try TypePlanner.shapeFallback(.q4_K, ne0: 40) == (.f16, true))
        #expect(try TypePlanner.shapeFallback(.q4_K, ne0: 512) == (.q4_K, false))
    }

    @Test("type names and numbers parse like llama-quantize")
    func parsing() {
        #expect(QuantOption.parse("q4_k_m")?.fileType == .q4_K_M)
        #expect(QuantOption.parse("Q4_K")?.fileType == .q4_K_M)
        #expect(QuantOption.parse("Q5_K")?.fileType == .q5_K_M)
        #expect(QuantOption.parse("15")?.fileType == .q4_K_M)
        #expect(QuantOption.parse("15")?.name == "Q4_K")   // the first row with the number, like try_parse_ftype
        #expect(QuantOption.parse("7")?.name == "Q8_0")
        #expect(QuantOption.parse("0")?.name == "F32")
        #expect(QuantOption.parse("Q3_K_M")?.fileType == .q3_K_M)
        #expect(QuantOption.parse("copy")?.onlyCopy == true)
        #expect(QuantOption.parse("Q7_K") == nil)
        #expect(QuantOption.parse("39") == nil)   // NVFP4 has an ftype number but no llama-quantize option
    }

    static let referenceCases: [(model: String, type: String, ftype: FileType)] = [
        ("smollm2", "Q8_0", .q8_0), ("smollm2", "Q4_K_M", .q4_K_M), ("smollm2", "Q6_K", .q6_K),
        ("tiny-llama", "Q8_0", .q8_0), ("tiny-llama", "Q4_K_M", .q4_K_M), ("tiny-llama", "Q6_K", .q6_K),
        ("tiny-qwen2", "Q8_0", .q8_0), ("tiny-qwen2", "Q4_K_M", .q4_K_M), ("tiny-qwen2", "Q6_K", .q6_K),
        ("tiny-llama-spm", "Q4_K_M", .q4_K_M),
    ]

    @Test("the plan reproduces llama-quantize's tensor order and types on the reference models",
          .golden, arguments: referenceCases.indices)
    func reference(_ i: Int) throws {
        let c = TypePlanTests.referenceCases[i]
        let srcName = c.model == "tiny-llama-spm" ? "tiny-llama-spm-f16" : "\(c.model)-f32"
        let srcURL = try Golden.require(shared: "reference/convert/\(srcName).json")
        let refURL = try Golden.require(shared: "reference/quantize/\(c.model)-\(c.type).json")
        let src = try #require(ReferenceDigest(srcURL), "cannot read \(srcURL.path)")
        let ref = try #require(ReferenceDigest(refURL), "cannot read \(refURL.path)")
        // The quantize references were made from the F32 conversions; for tiny-llama-spm only the F16
        // digest exists, so its source types are taken as F32 (shapes and names are what matter).
        let tensors = src.tensors.map { (name: $0.name, shape: $0.shape, type: GGMLType.f32) }
        let arch = src.string("general.architecture") ?? ""
        func u(_ k: String) -> Int { src.int(k) ?? 0 }
        let facts = ModelFacts(arch: arch, layerCount: u("\(arch).block_count"), headCount: u("\(arch).attention.head_count"),
                               headCountKV: u("\(arch).attention.head_count_kv"))
        let plans = try TypePlanner.plan(tensors: tensors, facts: facts, options: QuantizeOptions(fileType: c.ftype))
        #expect(plans.map(\.name) == ref.tensors.map(\.name))
        for (p, r) in zip(plans, ref.tensors) {
            #expect(p.targetType.upperName == r.type, "\(p.name)")
            #expect(p.shape == r.shape, "\(p.name)")
        }
    }
}
