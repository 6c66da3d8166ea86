import Foundation
import GGUF
import Testing
import TestSupport
@testable import ToolSupport

/// Phi-3 through the engine: tiny-phi3 converted by hf2gguf (byte-identical to b10572's conversion,
/// GoldenConvertTests), then gguf-ppl against llama.cpp b10572's llama-perplexity (AVX2 build):
/// `llama-perplexity -m tiny-phi3-f32.gguf -f wiki.test.raw -c 128 --chunks 4 -t 2` printed
/// `[1]36515.1720,[2]34816.7333,[3]34347.8024,[4]33654.3452,` and
/// `Final estimate: PPL = 33654.3452 +/- 974.75826` (flash attention on, b10572's default). With flash
/// attention the engine follows b10572's order and prints the same text; the 0.01 % bound is the
/// issue's, the exact line is checked as well.
@Suite("Phi-3 perplexity against llama-perplexity b10572")
struct Phi3Tests {
    static let running = [36515.1720, 34816.7333, 34347.8024, 33654.3452]
    static let final = (ppl: 33654.3452, err: 974.75826)

    @Test("tiny-phi3 F32: every printed figure within 0.01 % of llama-perplexity's", .golden)
    func perplexity() throws {
        let hf = try Golden.require(model: "tiny-phi3")
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw").path
        let tmp = TemporaryDirectory("phi3")
        let f32 = tmp.file("tiny-phi3-f32.gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        let r = runCommand(PerplexityCommand.run, ["-m", f32, "-f", text, "-c", "128", "--chunks", "4", "-t", "2", "--json", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let json = try decodeResult(r.console.stdout)
        let ours = try #require(json["runningPerplexity"] as? [Double])
        #expect(ours.count == Self.running.count)
        for (i, (a, b)) in zip(ours, Self.running).enumerated() {
            #expect(abs(a - b) / b < 1e-4, "[\(i + 1)]: ours \(a), llama.cpp \(b)")
        }
        let finalLine = try #require(r.console.stderr.split(separator: "\n").first { $0.hasPrefix("Final estimate: PPL =") })
        let parts = finalLine.split(separator: " ")
        let ppl = try #require(Double(parts[4])), err = try #require(Double(parts[6]))
        #expect(abs(ppl - Self.final.ppl) / Self.final.ppl < 1e-4, "\(finalLine)")
        #expect(abs(err - Self.final.err) / Self.final.err < 1e-4, "\(finalLine)")
        #expect(finalLine == "Final estimate: PPL = 33654.3452 +/- 974.75826")
    }
}
