import Foundation
import SwiftGGUF
import Testing
import TestSupport

// The code of the DocC article `GettingStarted.md`, verbatim: `articleCodeIsThisCode` checks that
// every Swift block of the article that defines or calls the front door appears in this file.

func convertQuantizeEvaluate(folder: String, textFile: String, work: String) throws -> PerplexityResult {
    // 1. The Hugging Face folder as an F32 GGUF file.
    var convert = ConvertOptions()
    convert.outType = .f32
    convert.outFile = work + "/tiny-f32.gguf"
    convert.force = true
    let converted = try Conversion.run(modelDirectory: folder, options: convert)

    // 2. Q4_K_M, with llama-quantize's per-tensor types and bytes.
    var request = QuantizationRequest(input: converted.outputPath, output: work + "/tiny-Q4_K_M.gguf",
                                      fileType: .q4_K_M)
    request.replaceExisting = true
    let report = try Quantization.run(request)
    print("Q4_K_M: \(report.summary.bitsPerWeight) bits per weight")

    // 3. Perplexity of the quantized model, chunked and scored as llama-perplexity does.
    let model = try GGUFModel(path: request.output)
    var options = PerplexityOptions()
    options.contextLength = 128
    let text = Array(try Data(contentsOf: URL(fileURLWithPath: textFile)))
    let result = try model.perplexity(text: text, options: options)
    print("PPL = \(result.perplexity)")
    return result
}

func errorHandlingExample() -> SwiftGGUFError.Kind? {
    var seen: SwiftGGUFError.Kind?
    do {
        _ = try GGUFModel(path: "missing.gguf")
    } catch {
        seen = error.kind
        switch error.kind {
        case .invalidInput, .io: print("cannot read it: \(error.message)")
        default: print(error.message)
        }
    }
    return seen
}

func weightingExamples(_ request: inout QuantizationRequest) {
    request.weighting = .importanceMatrix(path: "imatrix.dat", filter: .all)
    var awq = AWQConfiguration(calibrationText: "calibration.txt")
    awq.mode = .quantizeWithImportance
    request.weighting = .awq(awq)
}

@Suite("Front door: the getting-started article")
struct GettingStartedTests {
    static let article = TestPaths.root.appendingPathComponent("Sources/SwiftGGUF/SwiftGGUF.docc/GettingStarted.md")

    @Test("the article's code runs on the bundled model: convert, Q4_K_M, perplexity")
    func articleRuns() throws {
        let dir = TemporaryDirectory("getting-started")
        let folder = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path
        let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path
        let result = try convertQuantizeEvaluate(folder: folder, textFile: text, work: dir.path)
        #expect(result.chunks > 1)
        #expect(result.perplexity.isFinite && result.perplexity > 1)
        #expect(result.runningPerplexity.count == result.chunks)
        // The quantized file has Q4_K_M's types.
        let file = try GGUFFile(path: dir.file("tiny-Q4_K_M.gguf"))
        #expect(file.metadata[GGUFKey.General.fileType]?.intValue == FileType.q4_K_M.rawValue)
        #expect(file.tensors.contains { $0.type == .q4_K })
        #expect(errorHandlingExample() == .io)
    }

    @Test("every Swift block of the article that uses the API is in this file, verbatim")
    func articleCodeIsThisCode() throws {
        let md = try String(contentsOf: Self.article, encoding: .utf8)
        let me = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let blocks = md.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count >= 4)
        var checked = 0
        for block in blocks where !block.contains("Package.swift") {
            // Each line of the block (indentation aside) appears in order in this file.
            let lines = block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var rest = me[...]
            for line in lines {
                guard let r = rest.range(of: line) else {
                    Issue.record("article line not in GettingStartedTests.swift: \(line)")
                    break
                }
                rest = rest[r.upperBound...]
            }
            checked += 1
        }
        #expect(checked >= 4)
    }

    @Test("errors carry a kind: missing model, bad options, existing output")
    func errorKinds() throws {
        let dir = TemporaryDirectory("front-door-errors")
        #expect(throws: SwiftGGUFError.self) { try GGUFModel(path: dir.file("absent.gguf")) }
        do {
            _ = try GGUFModel(path: dir.file("absent.gguf"))
        } catch {
            #expect(error.kind == .invalidInput || error.kind == .io)
            #expect(error.message.contains("absent.gguf"))
        }
        let folder = TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path
        var convert = ConvertOptions()
        convert.outType = .f32
        convert.outFile = dir.file("m.gguf")
        _ = try Conversion.run(modelDirectory: folder, options: convert)
        do {
            _ = try Conversion.run(modelDirectory: folder, options: convert)
            Issue.record("an existing output was replaced without force")
        } catch {
            #expect(error.kind == .output)
        }
        var request = QuantizationRequest(input: dir.file("m.gguf"), output: dir.file("m.gguf"), fileType: .q8_0)
        request.replaceExisting = true
        do {
            _ = try Quantization.run(request)
            Issue.record("the input was overwritten")
        } catch {
            #expect(error.kind == .output)
            #expect(error.message.contains("refusing to overwrite the input"))
        }
        request.output = dir.file("q.gguf")
        var awq = AWQConfiguration(calibrationText: dir.file("calib.txt"))
        awq.grid = 0
        request.weighting = .awq(awq)
        do {
            _ = try Quantization.run(request)
            Issue.record("grid 0 was accepted")
        } catch {
            #expect(error.kind == .invalidOptions)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("q.gguf")))
    }
}
