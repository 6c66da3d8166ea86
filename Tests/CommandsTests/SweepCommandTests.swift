import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GGUF
import SwiftGGUF
import Testing
import TestSupport
@testable import ToolSupport

/// gguf-sweep on the bundled model (Fixtures/tiny-bpe-llama, Fixtures/text/sample.txt): the reports
/// agree with gguf-ppl and gguf-ppl --kl-divergence run separately on the very files the sweep
/// measured (kept with --keep), and bad input fails at once with nothing written.
@Suite("gguf-sweep")
struct SweepCommandTests {
    static let model = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path
    static let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path
    static let evaluation = ["-c", "128", "--chunks", "4", "-t", "2"]

    /// `json` (a number read by JSONSerialization) is `value` to 1e-12, relative.
    static func same(_ json: Any?, _ value: Double) -> Bool {
        guard let d = json as? Double else { return false }
        return abs(d - value) <= 1e-12 * max(abs(d), abs(value))
    }

    /// The files of `dir`, sorted (nil when it does not exist).
    static func files(_ dir: String) -> [String]? { (try? FileManager.default.contentsOfDirectory(atPath: dir))?.sorted() }

    @Test("a sweep of Q8_0 and Q4_K_M: Markdown, JSON and SVG agree with gguf-ppl and its KL-divergence on the same files")
    func tinySweep() throws {
        let tmp = TemporaryDirectory("sweep")
        let work = tmp.file("work"), out = tmp.file("out")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        let prefix = out + "/tiny"
        let sweep = runCommand(SweepCommand.run, [Self.model, "--types", "Q8_0,Q4_K_M", "--text", Self.text, "-o", prefix,
                                                  "--keep", "--work-dir", work, "-fa", "off", "-q"] + Self.evaluation)
        try #require(sweep.error == nil, "gguf-sweep: \(String(describing: sweep.error))\n\(sweep.console.stderr)")
        #expect(Self.files(out) == ["tiny.json", "tiny.md", "tiny.svg"])
        let kept = try #require(Self.files(work)?.first, "the kept temporary folder")
        let dir = work + "/" + kept
        #expect(Self.files(dir) == ["base-f32.gguf", "base.kld", "model-Q4_K_M.gguf", "model-Q8_0.gguf"])

        let result = try JSONDecoder().decode(SweepResult.self, from: Data(contentsOf: URL(fileURLWithPath: prefix + ".json")))
        #expect(result.base.type == "F32" && result.entries.map(\.type) == ["Q8_0", "Q4_K_M"])
        #expect(result.chunks == 4 && result.contextLength == 128 && result.tokensScored == 4 * 63)

        // The base: gguf-ppl over the same text, saving the log-probabilities as the sweep did (llama-perplexity
        // then scores in f32, so its perplexity differs from a plain run in the 8th digit): same figures, same file.
        let base = runCommand(PerplexityCommand.run, ["-m", dir + "/base-f32.gguf", "-f", Self.text, "-fa", "off", "--json", "-q",
                                                      "--kl-divergence-base", tmp.file("check.kld")] + Self.evaluation)
        try #require(base.error == nil)
        let baseJSON = try decodeResult(base.console.stdout)
        #expect(Self.same(baseJSON["perplexity"], result.base.perplexity))
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("check.kld"))) == Data(contentsOf: URL(fileURLWithPath: dir + "/base.kld")))
        #expect(result.base.fileBytes == (try FileManager.default.attributesOfItem(atPath: dir + "/base-f32.gguf")[.size] as? Int))
        #expect(result.base.bitsPerWeight == 32)

        for entry in result.entries {
            let path = dir + "/model-\(entry.type).gguf"
            #expect(entry.fileBytes == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int), "\(entry.type)")
            // Bits per weight as gguf-quantize prints them ("quant size = ... (x.xx BPW)").
            let q = runCommand(QuantizeCommand.run, [dir + "/base-f32.gguf", tmp.file("check.gguf"), entry.type, "2", "-q", "--force"])
            try #require(q.error == nil)
            let bpw = q.console.stdout.split(separator: "\n").first { $0.hasPrefix("quant size") }
            #expect(bpw?.contains(String(format: "(%.2f BPW)", entry.bitsPerWeight)) == true, "\(entry.type): \(String(describing: bpw))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("check.gguf"))) == Data(contentsOf: URL(fileURLWithPath: path)))

            // Perplexity: gguf-ppl on the quantized file. The sweep's figure is the KL-divergence run's "Mean PPL(Q)"
            // (the same tokens, scored in f32 as llama-perplexity --kl-divergence does): equal to 1e-6.
            let ppl = runCommand(PerplexityCommand.run, ["-m", path, "-f", Self.text, "-fa", "off", "--json", "-q"] + Self.evaluation)
            try #require(ppl.error == nil)
            let pplJSON = try decodeResult(ppl.console.stdout)
            let p = try #require(pplJSON["perplexity"] as? Double)
            #expect(abs(p - entry.perplexity) <= 1e-6 * p, "\(entry.type): gguf-ppl \(p), sweep \(entry.perplexity)")

            // KL-divergence: gguf-ppl --kl-divergence against the sweep's base file.
            let kld = runCommand(PerplexityCommand.run, ["-m", path, "--kl-divergence-base", dir + "/base.kld", "--kl-divergence",
                                                         "-c", "128", "-t", "2", "-fa", "off", "--json", "-q"])
            try #require(kld.error == nil)
            let k = try #require(try decodeResult(kld.console.stdout)["klDivergence"] as? [String: Any])
            // (Equal up to JSONSerialization's reading of the last digit.)
            #expect(Self.same(k["meanPPLQ"], entry.perplexity), "\(entry.type)")
            #expect(Self.same(k["meanKLD"], entry.meanKLD), "\(entry.type)")
            #expect(Self.same(k["meanKLDUncertainty"], entry.meanKLDUncertainty), "\(entry.type)")
            #expect(Self.same((k["kldPercentiles"] as? [String: Any])?["99.0"], entry.kld99), "\(entry.type)")
            #expect(Self.same(k["sameTop"], entry.sameTop), "\(entry.type)")
            // The printed table has the same figures.
            #expect(logValue(kld.console.stderr, "Mean    KLD").map { abs($0 - entry.meanKLD) < 1e-6 } == true)
        }
        #expect(result.entries[0].meanKLD < result.entries[1].meanKLD, "Q8_0 closer to F32 than Q4_K_M")
        #expect(result.entries.allSatisfy { $0.paretoOptimal }, "smaller and worse, or larger and better: both on the front")

        // Markdown (also on stdout) and SVG.
        let md = try String(contentsOfFile: prefix + ".md", encoding: .utf8)
        #expect(sweep.console.stdout == md)
        for e in result.entries {
            let row = md.split(separator: "\n").first { $0.hasPrefix("| \(e.type) |") }
            #expect(row?.contains(String(format: "| %.6f ± %.6f | %.6f | %.2f %% |", e.meanKLD, e.meanKLDUncertainty, e.kld99,
                                         100 * e.sameTop)) == true, "\(String(describing: row))")
            #expect(row?.contains(String(format: "| %.2f | %.3f | %.4f", Double(e.fileBytes) / 1048576, e.bitsPerWeight,
                                         e.perplexity)) == true, "\(String(describing: row))")
        }
        let svg = try Data(contentsOf: URL(fileURLWithPath: prefix + ".svg"))
        #expect(XMLParser(data: svg).parse())
        #expect(String(decoding: svg, as: UTF8.self) == Sweep.svg(result))
    }

    @Test("a GGUF input with --imatrix: a type that needs it (IQ2_XXS) is measured, quantized as gguf-quantize --imatrix does")
    func ggufWithImatrix() throws {
        let tmp = TemporaryDirectory("sweep-imatrix")
        let f32 = tmp.file("tiny-f32.gguf"), imatrix = tmp.file("imatrix.gguf"), work = tmp.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
        try #require(runCommand(ConvertCommand.run, [Self.model, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        try #require(runCommand(ImatrixCommand.run, ["-m", f32, "-f", Self.text, "-c", "128", "--chunks", "4", "-o", imatrix,
                                                     "-t", "2", "-q"]).error == nil)
        let before = try Data(contentsOf: URL(fileURLWithPath: f32))
        let prefix = tmp.file("r")
        let sweep = runCommand(SweepCommand.run, [f32, "--types", "IQ2_XXS", "--text", Self.text, "--imatrix", imatrix, "-o", prefix,
                                                  "--keep", "--work-dir", work, "-q"] + Self.evaluation)
        try #require(sweep.error == nil, "\(String(describing: sweep.error))")
        let result = try JSONDecoder().decode(SweepResult.self, from: Data(contentsOf: URL(fileURLWithPath: prefix + ".json")))
        #expect(result.weighting == "imatrix \(imatrix)" && result.entries.map(\.type) == ["IQ2_XXS"])
        #expect(result.base.type == "F32" && result.model == f32)
        let entry = try #require(result.entries.first)
        #expect(entry.meanKLD > 0 && entry.meanKLD.isFinite && entry.sameTop > 0 && entry.sameTop < 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: f32)) == before, "the input is untouched")
        // No conversion for a GGUF input: the kept folder has the base log-probabilities and the quantized model only,
        // which is byte for byte gguf-quantize --imatrix's.
        let dir = work + "/" + (try #require(Self.files(work)?.first))
        #expect(Self.files(dir) == ["base.kld", "model-IQ2_XXS.gguf"])
        try #require(runCommand(QuantizeCommand.run, ["--imatrix", imatrix, f32, tmp.file("check.gguf"), "IQ2_XXS", "2", "-q"]).error == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: tmp.file("check.gguf"))) == Data(contentsOf: URL(fileURLWithPath: dir + "/model-IQ2_XXS.gguf")))
    }

    @Test("bad input: one clear error, nothing written, no temporary folder left")
    func badInput() throws {
        let tmp = TemporaryDirectory("sweep-bad")
        let work = tmp.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
        let prefix = tmp.file("r")
        func sweep(_ args: [String]) -> ToolError? {
            runCommand(SweepCommand.run, args + ["--work-dir", work, "-q"] + Self.evaluation).error
        }
        let base = [Self.model, "--text", Self.text, "-o", prefix]

        let unknown = sweep(base + ["--types", "Q8_0,Q9_K"])
        #expect(unknown?.exitCode == 64)
        #expect(unknown?.description.hasPrefix("unknown quantization type 'Q9_K' in 'Q8_0,Q9_K'; valid types: Q1_0, ") == true)
        #expect(sweep([Self.model, "--text", Self.text, "-o", prefix])?.description.hasPrefix("missing --types") == true)

        let noText = sweep([Self.model, "--types", "Q8_0", "--text", tmp.file("missing.txt"), "-o", prefix])
        #expect(noText?.exitCode == 1)
        #expect(noText?.description.contains("missing.txt") == true, "\(String(describing: noText))")

        let noFolder = sweep([Self.model, "--types", "Q8_0", "--text", Self.text, "-o", tmp.file("nowhere/r")])
        #expect(noFolder?.description == "\(tmp.file("nowhere/r")).md: output folder '\(tmp.file("nowhere"))' does not exist")
        let folderPrefix = sweep([Self.model, "--types", "Q8_0", "--text", Self.text, "-o", tmp.path + "/"])
        #expect(folderPrefix?.description.contains("must end in a file name") == true, "\(String(describing: folderPrefix))")

        // A type that needs an importance matrix, without one: refused before the base is evaluated.
        let needs = sweep(base + ["--types", "Q8_0,IQ2_XXS"])
        #expect(needs?.description.hasPrefix("IQ2_XXS needs an importance matrix") == true, "\(String(describing: needs))")

        #expect(Self.files(tmp.path) == ["work"])
        #expect(Self.files(work) == [], "temporary folders removed")

        // An existing report is kept without --force.
        _ = FileManager.default.createFile(atPath: prefix + ".svg", contents: Data("old".utf8))
        let exists = sweep(base + ["--types", "Q8_0"])
        #expect(exists?.description == "\(prefix).svg: output file already exists (use --force to replace it)")
        #expect(try String(contentsOfFile: prefix + ".svg", encoding: .utf8) == "old")
        #expect(Self.files(tmp.path) == ["r.svg", "work"])
    }
}
