import Testing
import Foundation
import TestSupport
@testable import Convert

// Expected values were produced once by gguf-py b4748 (`Metadata.get_model_id_components`,
// `Metadata.id_to_title`, `utility.size_label`) for these inputs.
@Suite("gguf-py naming heuristics")
struct ModelNamingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let id: String, params: Int
        let full: String?, org: String?, base: String?, finetune: String?, version: String?, size: String?, title: String?
        var testDescription: String { id }
    }

    static let cases: [Case] = [
        Case(id: "SmolLM2-135M-Instruct-hf", params: 134515008, full: "SmolLM2-135M-Instruct-hf", org: nil, base: "SmolLM2", finetune: "Instruct-hf", version: nil, size: "135M", title: "SmolLM2 135M Instruct Hf"),
        Case(id: "tiny-llama", params: 27000000, full: "tiny-llama", org: nil, base: nil, finetune: nil, version: nil, size: nil, title: "Tiny Llama"),
        Case(id: "meta-llama/Meta-Llama-3.1-8B-Instruct", params: 8030261248, full: "Meta-Llama-3.1-8B-Instruct", org: "meta-llama", base: "Meta-Llama-3.1", finetune: "Instruct", version: nil, size: "8B", title: "Meta Llama 3.1 8B Instruct"),
        Case(id: "mistralai/Mistral-7B-Instruct-v0.2", params: 7241732096, full: "Mistral-7B-Instruct-v0.2", org: "mistralai", base: "Mistral", finetune: "Instruct", version: "v0.2", size: "7B", title: "Mistral 7B Instruct v0.2"),
        Case(id: "Qwen/Qwen2.5-0.5B-Instruct", params: 494032768, full: "Qwen2.5-0.5B-Instruct", org: "Qwen", base: "Qwen2.5", finetune: "Instruct", version: nil, size: "0.5B", title: "Qwen2.5 0.5B Instruct"),
        Case(id: "bloom-7b1", params: 7000000000, full: "bloom-7b1", org: nil, base: "bloom", finetune: nil, version: nil, size: "7.1B", title: "Bloom 7b1"),
        Case(id: "Llama-2-7b-chat-hf", params: 6738415616, full: "Llama-2-7b-chat-hf", org: nil, base: "Llama-2", finetune: "chat-hf", version: nil, size: "7B", title: "Llama 2 7b Chat Hf"),
        Case(id: "Phi-3-mini-128k-instruct", params: 3821079552, full: "Phi-3-mini-128k-instruct", org: nil, base: "Phi-3", finetune: "128k-instruct", version: nil, size: "mini", title: "Phi 3 Mini 128k Instruct"),
        Case(id: "Mixtral-8x7B-v0.1", params: 46702792704, full: "Mixtral-8x7B-v0.1", org: nil, base: "Mixtral", finetune: nil, version: "v0.1", size: "8x7B", title: "Mixtral 8x7B v0.1"),
        Case(id: "TinyLlama-1.1B-Chat-v1.0", params: 1100048384, full: "TinyLlama-1.1B-Chat-v1.0", org: nil, base: "TinyLlama", finetune: "Chat", version: "v1.0", size: "1.1B", title: "TinyLlama 1.1B Chat v1.0"),
        Case(id: "gemma-2b-it-GGUF-q4_0", params: 2500000000, full: "gemma-2b-it-GGUF-q4_0", org: nil, base: "gemma", finetune: "it-GGUF", version: nil, size: "2B", title: "Gemma 2b It GGUF Q4_0"),
        Case(id: "./local-model-v1", params: 1000, full: "local-model-v1", org: nil, base: "local-model", finetune: nil, version: "v1", size: nil, title: "Local Model v1"),
        Case(id: "model name with spaces", params: 5, full: "model name with spaces", org: nil, base: nil, finetune: nil, version: nil, size: nil, title: "Model Name With Spaces"),
        Case(id: "deepseek-coder-6.7b-base", params: 6700000000, full: "deepseek-coder-6.7b-base", org: nil, base: "deepseek-coder", finetune: "base", version: nil, size: "6.7B", title: "Deepseek Coder 6.7b Base"),
        Case(id: "Qwen3-0.6B", params: 600000000, full: "Qwen3-0.6B", org: nil, base: "Qwen3", finetune: nil, version: nil, size: "0.6B", title: "Qwen3 0.6B"),
        Case(id: "SmolLM-135M", params: 0, full: "SmolLM-135M", org: nil, base: "SmolLM", finetune: nil, version: nil, size: "135M", title: "SmolLM 135M"),
    ]

    @Test("model id components and title match gguf-py", arguments: cases)
    func components(_ c: Case) {
        let got = ModelNaming.components(c.id, totalParams: c.params)
        #expect(got.fullName == c.full)
        #expect(got.organization == c.org)
        #expect(got.basename == c.base)
        #expect(got.finetune == c.finetune)
        #expect(got.version == c.version)
        #expect(got.sizeLabel == c.size)
        #expect(got.fullName.map(ModelNaming.title) == c.title)
    }

    @Test("size labels match gguf-py's rounded notation")
    func sizeLabels() {
        let expected: [(Int, String)] = [(134515008, "135M"), (27000000, "27M"), (8030261248, "8.0B"), (999, "1.0K"),
                                         (1000000, "1000K"), (1500000, "1.5M"), (1000000000005, "1.0T"), (12345678901, "12B")]
        for (n, s) in expected { #expect(ModelNaming.sizeLabel(total: n) == s, "\(n)") }
    }

    @Test("default file names follow the GGUF naming convention")
    func fileNames() {
        #expect(ModelNaming.defaultFileName(name: "SmolLM2 135M Instruct Hf", basename: "SmolLM2", finetune: "Instruct-hf",
                                            version: nil, sizeLabel: "135M", outputType: "F16") == "SmolLM2-135M-Instruct-hf-F16")
        #expect(ModelNaming.defaultFileName(name: "Tiny Llama", basename: nil, finetune: nil, version: nil,
                                            sizeLabel: "27M", outputType: "q8_0") == "Tiny-Llama-27M-Q8_0")
        #expect(ModelNaming.fillTemplate("m-{ftype}.gguf", outputType: "Q8_0") == "m-q8_0.gguf")
    }

    @Test("model card front matter: mappings, block and flow lists, quoted strings")
    func modelCard() throws {
        let dir = TemporaryDirectory("card")
        let text = "---\nlicense: apache-2.0\nlanguage:\n- en\n- fr\ntags: [a, 'b c']\nbase_model: \"org/Model-7B\"  # comment\nmodel-index:\n  - name: x\n    results: []\n---\n# Title\n"
        try text.write(toFile: dir.file("README.md"), atomically: true, encoding: .utf8)
        let card = ModelCard.load(directory: dir.path) { Issue.record("unexpected warning: \($0)") }
        #expect(card?["license"] == .string("apache-2.0"))
        #expect(card?["language"] == .list([.string("en"), .string("fr")]))
        #expect(card?["tags"] == .list([.string("a"), .string("b c")]))
        #expect(card?["base_model"] == .string("org/Model-7B"))
    }
}
