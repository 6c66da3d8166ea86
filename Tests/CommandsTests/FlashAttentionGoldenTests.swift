import Foundation
import GGUF
import Testing
import TestSupport
@testable import ToolSupport

/// gguf-ppl's default (`-fa auto`, flash attention on, as llama.cpp b10572 on the CPU) against
/// b10572's llama-perplexity with its default, recorded in
/// Fixtures/reference-b10572/perplexity/smollm2-fa-c512-chunks20.tsv (the command is in its header):
/// every running figure and the final line, uncertainty included, are the same text.
@Suite("Flash attention perplexity against llama-perplexity b10572")
struct FlashAttentionGoldenTests {
    struct Reference {
        let model: String
        let running: String
        let final: String
    }

    static func references() throws -> [Reference] {
        let url = TestPaths.fixtures.appendingPathComponent("reference-b10572/perplexity/smollm2-fa-c512-chunks20.tsv")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let f = line.split(separator: "\t").map(String.init)
            return f.count == 3 ? Reference(model: f[0], running: f[1], final: f[2]) : nil
        }
    }

    @Test("the fixture holds 20 running figures and a final line per model")
    func fixture() throws {
        let refs = try Self.references()
        #expect(refs.map(\.model).contains("f32"))
        for r in refs {
            #expect(runningFigures(r.running).count == 20, "\(r.model)")
            #expect(r.final.hasPrefix("Final estimate: PPL = "), "\(r.model)")
        }
    }

    @Test("SmolLM2 perplexity with the default flash attention prints b10572's figures", .golden)
    func smolLM2() throws {
        let hf = try Golden.require(model: "SmolLM2-135M-Instruct-hf")
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw").path
        let tmp = TemporaryDirectory("fa-golden")
        let f32 = tmp.file("smollm2-f32.gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        for ref in try Self.references() {
            let path: String
            switch ref.model {
            case "f32": path = f32
            case "q8_0":
                path = tmp.file("smollm2-q8_0.gguf")
                #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "q8_0", "--outfile", path, "-q"]).error == nil)
            default:
                path = tmp.file("smollm2-\(ref.model).gguf")
                #expect(runCommand(QuantizeCommand.run, [f32, path, ref.model, "2", "-q"]).error == nil)
            }
            let r = runCommand(PerplexityCommand.run, ["-m", path, "-f", text, "-c", "512", "--chunks", "20", "-t", "2", "-q"])
            #expect(r.error == nil, "\(ref.model): \(String(describing: r.error))")
            #expect(r.console.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == ref.running,
                    "\(ref.model): ours \(r.console.stdout)")
            #expect(r.console.stderr.contains(ref.final), "\(ref.model): expected '\(ref.final)'")
        }
    }
}
