import Architectures
import GGUF
import Testing

@Suite("Architecture descriptions: one per architecture, consistent across converter, engine, AWQ and plans")
struct ArchitectureSpecTests {
    @Test("names are unique and both lookups find every description")
    func registry() {
        let ggufNames = ArchitectureSpec.supportedGGUFNames
        #expect(Set(ggufNames).count == ggufNames.count)
        #expect(ArchitectureSpec.named("MixtralForCausalLM")?.arch == "llama")
        #expect(ArchitectureSpec.gguf("llama")?.hfNames.contains("LlamaForCausalLM") == true)
        let hfNames = ArchitectureSpec.supportedNames
        #expect(Set(hfNames).count == hfNames.count)
        for spec in ArchitectureSpec.all {
            #expect(ArchitectureSpec.gguf(spec.arch)?.arch == spec.arch)
            for n in spec.hfNames { #expect(ArchitectureSpec.named(n)?.arch == spec.arch) }
        }
        #expect(ArchitectureSpec.named("MistralForCausalLM")?.arch == "llama")
        #expect(ArchitectureSpec.gguf("gpt2") == nil)
        #expect(ArchitectureSpec.named("GPT2LMHeadModel") == nil)
    }

    @Test("every tensor the engine and AWQ use is one the converter writes", arguments: ArchitectureSpec.all.map(\.arch))
    func tensorsAgree(_ arch: String) throws {
        let spec = try #require(ArchitectureSpec.gguf(arch))
        // Every description with this GGUF name (Mixtral's is "llama" too), its tensors as its files
        // store them (fused projections, stacked experts).
        for spec in ArchitectureSpec.all where spec.arch == arch {
            let written = spec.writtenTensors
            for g in spec.awqGroups {
                for t in spec.awqScaledTensors(g) {
                    #expect(written.contains(t), "\(spec.hfNames): AWQ group \(g.rawValue) scales \(t.rawValue)")
                }
                if let p = spec.awqPreviousTensor(g) { #expect(written.contains(p)) }
                if let n = g.previousNorm { #expect(written.contains(n)) }
            }
        }
        let rules = Dictionary(spec.tensors.map { ($0.gguf, $0) }, uniquingKeysWith: { a, _ in a })
        if spec.engine.qkNorm == .required {
            #expect(rules[.attnQNorm]?.required == true && rules[.attnKNorm]?.required == true)
        }
        if spec.engine.qkvBias == .required {
            for t in [TensorName.attnQ, .attnK, .attnV] { #expect(rules[t]?.biasRequired == true) }
        }
        // Q/K rows are permuted exactly for the adjacent-pair rope (llama's converter undoes HF's layout).
        let permuted = spec.tensors.contains { $0.permutation != .none }
        #expect(permuted == (spec.engine.rope == .normal))
        #expect(spec.tensors.contains { $0.gguf == .output && !$0.required } == spec.engine.tiedOutputAllowed)
    }

    @Test("llama.cpp's 70B model type: llama with GQA and qwen2 at 80 layers, nothing else")
    func seventyB() throws {
        let llama = try #require(ArchitectureSpec.gguf("llama")).quantization
        let qwen2 = try #require(ArchitectureSpec.gguf("qwen2")).quantization
        let qwen3 = try #require(ArchitectureSpec.gguf("qwen3")).quantization
        #expect(llama.isSeventyB(layers: 80, heads: 64, headsKV: 8))
        #expect(!llama.isSeventyB(layers: 80, heads: 64, headsKV: 64))   // llama's 65B
        #expect(!llama.isSeventyB(layers: 32, heads: 32, headsKV: 8))
        #expect(qwen2.isSeventyB(layers: 80, heads: 64, headsKV: 64))
        #expect(!qwen2.isSeventyB(layers: 64, heads: 40, headsKV: 8))
        #expect(!qwen3.isSeventyB(layers: 80, heads: 64, headsKV: 8))
    }
}
