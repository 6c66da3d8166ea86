import Foundation
import GGUF
import Testing
import TestSupport
@testable import ToolSupport

/// The `[i]x.xxxx,` running figures of a llama-perplexity log.
func runningFigures(_ log: String) -> [Double] {
    guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix("[1]") }) else { return [] }
    return line.split(separator: ",").compactMap { part in
        guard let close = part.firstIndex(of: "]") else { return nil }
        return Double(part[part.index(after: close)...])
    }
}

/// `Label: value` from a llama-perplexity log (`Mean    KLD:   0.058290 ±   0.001091` → 0.058290).
func logValue(_ log: String, _ label: String) -> Double? {
    guard let line = log.split(separator: "\n").first(where: { $0.hasPrefix(label) }) else { return nil }
    let rest = line.dropFirst(label.count).drop { $0 == " " || $0 == ":" }
    return Double(rest.prefix { !$0.isWhitespace && $0 != "%" })
}

func decodeResult(_ stdout: String) throws -> [String: Any] {
    let obj = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    return try #require(obj as? [String: Any])
}

@Suite("gguf-ppl and gguf-tokenize")
struct PerplexityCommandTests {
    /// SmolLM2-135M: our converter and quantizer, then our perplexity, against llama-perplexity's logs
    /// with `-fa off` (b4748's in ../shared/reference/perplexity for F32 and Q8_0, which b10572 repeats;
    /// b10572's for Q4_K_M in Fixtures/reference-b10572/perplexity; `-c 512 --chunks 20 -t 2`, built for x86-64 with
    /// AVX2 + FMA + F16C). The engine sums in the order of that build (tinyBLAS and the AVX2 dot
    /// products, ggml's vector exponential, gcc's fused RoPE), so every printed figure is the same
    /// text: the 20 running perplexities, the final estimate with its uncertainty, the KL-divergence
    /// table and every statistic.
    @Test("SmolLM2 F32, Q8_0, Q4_K_M perplexity and Q4_K_M KL-divergence print llama-perplexity's figures", .golden)
    func smolLM2Golden() throws {
        let hf = try Golden.require(model: "SmolLM2-135M-Instruct-hf")
        let text = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw").path
        let refDir = try Golden.require(shared: "reference/perplexity")
        let b10572Dir = TestPaths.fixtures.appendingPathComponent("reference-b10572/perplexity")
        let tmp = TemporaryDirectory("ppl-golden")
        let f32 = tmp.file("smollm2-f32.gguf"), q8 = tmp.file("smollm2-q8_0.gguf"), q4 = tmp.file("smollm2-Q4_K_M.gguf")
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        #expect(runCommand(ConvertCommand.run, [hf.path, "--outtype", "q8_0", "--outfile", q8, "-q"]).error == nil)
        #expect(runCommand(QuantizeCommand.run, [f32, q4, "Q4_K_M", "2", "-q"]).error == nil)
        let base = tmp.file("base.kld")

        for (name, path) in [("f32", f32), ("q8_0", q8), ("Q4_K_M", q4)] {
            var args = ["-m", path, "-f", text, "-c", "512", "--chunks", "20", "-t", "2", "-fa", "off", "--json", "-q"]
            if name == "f32" { args += ["--kl-divergence-base", base] }
            let r = runCommand(PerplexityCommand.run, args)
            #expect(r.error == nil, "\(name): \(String(describing: r.error))")
            // F32 and Q8_0: b4748's logs (b10572 with -fa off prints the same figures). Q4_K_M: b10572's
            // (its repacked Q4_K kernels and new Q6_K order changed the figures; b4748's are in ../shared).
            let logURL = name == "Q4_K_M" ? b10572Dir.appendingPathComponent("smollm2-Q4_K_M-fa-off-c512-chunks20.log")
                                           : refDir.appendingPathComponent("smollm2-\(name)-c512-chunks20.log")
            let log = try String(contentsOf: logURL, encoding: .utf8)
            let expected = runningFigures(log)
            let json = try decodeResult(r.console.stdout)
            let ours = try #require(json["runningPerplexity"] as? [Double])
            #expect(expected.count == 20 && ours.count == 20)
            for (i, (a, b)) in zip(ours, expected).enumerated() {
                #expect(String(format: "%.4f", a) == String(format: "%.4f", b), "\(name) [\(i + 1)]: ours \(a), llama.cpp \(b)")
            }
            // The final line, uncertainty included, as llama-perplexity prints it.
            let finalLine = try #require(log.split(separator: "\n").first { $0.hasPrefix("Final estimate: PPL =") })
            #expect(r.console.stderr.contains(finalLine), "\(name): expected '\(finalLine)'")
        }

        // A context that is not a multiple of 8: llama-perplexity puts 20 sequences in a batch and
        // sequence s in KV cells 100·s ..., so the lanes and softmax groups start mid-group.
        // Figures of llama-perplexity b10572 (AVX2 build) `-c 100 --chunks 6 -t 2 -fa off` on the same Q4_K_M.
        let c100 = runCommand(PerplexityCommand.run, ["-m", q4, "-f", text, "-c", "100", "--chunks", "6", "-t", "2", "-fa", "off", "-q"])
        #expect(c100.error == nil, "\(String(describing: c100.error))")
        let c100Log = try String(contentsOf: b10572Dir.appendingPathComponent("smollm2-Q4_K_M-fa-off-c100-chunks6.log"), encoding: .utf8)
        let c100Want = try #require(c100Log.split(separator: "\n").first.map(String.init))
        // The first five figures are b10572's exactly. The sixth differs in the 4th decimal (24.5413 against
        // 24.5409): b10572 cuts this batch of 20 sequences into ubatches of 5 (`split_equal`, one KV stream
        // per sequence) and, in the last layer, multiplies the final `m % 4` output rows of each ubatch
        // with its GEMV order, while the engine takes the batch whole (a known gap, in the issue notes).
        let firstFive = c100Want.split(separator: ",").prefix(5).joined(separator: ",") + ","
        #expect(c100.console.stdout.hasPrefix(firstFive), "\(c100.console.stdout)")

        // KL-divergence of our Q4_K_M against our F32 base file: the per-chunk table and every
        // statistic llama.cpp prints (b10572's log; b4748's printed its 99 % KLD line twice and no
        // 95/90/0.1 % lines).
        let r = runCommand(PerplexityCommand.run, ["-m", q4, "--kl-divergence-base", base, "--kl-divergence", "-t", "2", "-fa", "off", "--json", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let log = try String(contentsOf: b10572Dir.appendingPathComponent("smollm2-Q4_K_M-kld-vs-f32-fa-off-c512-chunks20.log"), encoding: .utf8)
        let lines = log.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex { $0.hasPrefix("====== KL divergence statistics") })
        let end = try #require(lines.firstIndex { $0.hasPrefix("Same top p") })
        var expected = Array(lines[start...end])
        if let dup = expected.indices.first(where: { $0 > 0 && expected[$0] == expected[$0 - 1] }) { expected.remove(at: dup) }
        let table = lines.filter { $0.range(of: #"^ *[0-9]+ +[0-9]+\.[0-9]+ +"#, options: .regularExpression) != nil }
        #expect(table.count == 20)
        for line in expected + table where !line.isEmpty {
            #expect(r.console.stderr.contains(line), "missing llama.cpp line '\(line)'")
        }
        let json = try decodeResult(r.console.stdout)
        let kld = try #require(json["klDivergence"] as? [String: Any])
        let mean = try #require(kld["meanKLD"] as? Double)
        #expect(String(format: "%.6f", mean) == String(format: "%.6f", try #require(logValue(log, "Mean    KLD"))))
    }

    /// The bundled model converted to F32 (small vocabulary, 2 layers).
    func bundledModel(_ tmp: TemporaryDirectory) throws -> String {
        let out = tmp.file("tiny.gguf")
        let r = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                "--outtype", "f32", "--outfile", out, "-q"])
        #expect(r.error == nil)
        return out
    }

    @Test("bad input: missing text, too short a text, missing flags, a base file of another context")
    func badInput() throws {
        let tmp = TemporaryDirectory("ppl-bad")
        let model = try bundledModel(tmp)
        var r = runCommand(PerplexityCommand.run, ["-m", model, "-f", tmp.file("nope.txt")])
        #expect(r.error?.description == "\(tmp.file("nope.txt")): text file not found")
        #expect(r.error?.exitCode == 1)

        let short = tmp.file("short.txt")
        try "Just a few words.".write(toFile: short, atomically: true, encoding: .utf8)
        r = runCommand(PerplexityCommand.run, ["-m", model, "-f", short, "-c", "128"])
        #expect(r.error?.description.contains("you need at least 256 tokens to evaluate perplexity with a context of 128") == true,
                "\(String(describing: r.error))")
        #expect(r.error?.description.contains("tokenizes to only") == true)

        r = runCommand(PerplexityCommand.run, ["-f", short])
        #expect(r.error?.exitCode == 64)
        r = runCommand(PerplexityCommand.run, ["-m", model, "--kl-divergence"])
        #expect(r.error?.exitCode == 64)

        r = runCommand(PerplexityCommand.run, ["-m", tmp.file("missing.gguf"), "-f", short])
        #expect(r.error?.description.contains("missing.gguf") == true)

        // A base file written with -c 128, read with -c 64.
        let text = tmp.file("text.txt")
        let sample = try String(contentsOf: TestPaths.fixtures.appendingPathComponent("text/sample.txt"), encoding: .utf8)
        try String(repeating: sample + "\n", count: 4).write(toFile: text, atomically: true, encoding: .utf8)
        let base = tmp.file("base.kld")
        r = runCommand(PerplexityCommand.run, ["-m", model, "-f", text, "-c", "128", "--chunks", "2", "--kl-divergence-base", base, "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        #expect(r.console.stdout.hasPrefix("[1]"))
        r = runCommand(PerplexityCommand.run, ["-m", model, "-c", "64", "--kl-divergence-base", base, "--kl-divergence", "-q"])
        #expect(r.error?.description.contains("n_ctx 128") == true, "\(String(describing: r.error))")
        // The same model against its own base: zero divergence, same top token everywhere
        // (2 chunks of 63 scored tokens: llama-perplexity reports statistics from 100 tokens on).
        r = runCommand(PerplexityCommand.run, ["-m", model, "-c", "128", "--kl-divergence-base", base, "--kl-divergence", "--json", "-q"])
        #expect(r.error == nil, "\(String(describing: r.error))")
        let kld = try #require(try decodeResult(r.console.stdout)["klDivergence"] as? [String: Any])
        #expect(abs(try #require(kld["meanKLD"] as? Double)) < 1e-4)
        #expect(try #require(kld["sameTop"] as? Double) == 1)
    }

    @Test("gguf-tokenize prints ids like llama-tokenize and the library's tokenization")
    func tokenize() throws {
        let tmp = TemporaryDirectory("tokenize")
        let model = try bundledModel(tmp)
        let ids = runCommand(TokenizeCommand.run, ["-m", model, "-p", "Hello world, hello tokens!", "--ids"])
        #expect(ids.error == nil)
        let list = ids.console.stdout
        #expect(list.hasPrefix("[") && list.hasSuffix("]\n"))
        let numbers = list.dropFirst().dropLast(2).split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        #expect(!numbers.isEmpty && numbers.allSatisfy { $0 != nil })

        let pairs = runCommand(TokenizeCommand.run, ["-m", model, "-p", "Hello world, hello tokens!", "--show-count"])
        let lines = pairs.console.stdout.split(separator: "\n")
        #expect(lines.count == numbers.count + 1)
        #expect(lines.last == "Total number of tokens: \(numbers.count)")
        #expect(lines.first?.contains(" -> '") == true)

        let file = tmp.file("p.txt")
        try "Hello world, hello tokens!".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(runCommand(TokenizeCommand.run, ["-m", model, "-f", file, "--ids"]).console.stdout == list)

        #expect(runCommand(TokenizeCommand.run, ["-m", model]).error?.exitCode == 64)
        #expect(runCommand(TokenizeCommand.run, ["-m", model, "-p", "a", "-f", file]).error?.exitCode == 64)
        #expect(runCommand(TokenizeCommand.run, ["-m", model, "-f", tmp.file("none")]).error?.description.contains("not found") == true)
        let notGGUF = tmp.file("x.gguf")
        try "not a gguf".write(toFile: notGGUF, atomically: true, encoding: .utf8)
        #expect(runCommand(TokenizeCommand.run, ["-m", notGGUF, "-p", "a"]).error?.description.contains(notGGUF) == true)
    }
}
