import Testing
import Foundation
import TestSupport
import GGUF
import Quants
import Inference
import SwiftGGUF
@testable import ToolSupport

@Suite("gguf-quantize --target-bpw / --target-size: budgets, monotonicity, dry run, bad input")
struct SizeTargetTests {
    static let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path

    /// The bundled model converted to F32 (hidden 256, 2 blocks, tied embedding).
    func bundledModel(_ tmp: TemporaryDirectory) throws -> String {
        let out = tmp.file("tiny-f32.gguf")
        let r = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                "--outtype", "f32", "--outfile", out, "-q"])
        try #require(r.error == nil)
        return out
    }

    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test("sizes: bytes, powers of 1000 and 1024, a trailing B; bad strings are one clear error")
    func parseSizes() throws {
        #expect(try SizeTarget.parseSize("123456") == 123456)
        #expect(try SizeTarget.parseSize("3.2G") == 3_200_000_000)
        #expect(try SizeTarget.parseSize("3.2gb") == 3_200_000_000)
        #expect(try SizeTarget.parseSize("500M") == 500_000_000)
        #expect(try SizeTarget.parseSize("1GiB") == 1 << 30)
        #expect(try SizeTarget.parseSize("1.5KiB") == 1536)
        for bad in ["", "G", "3.2X", "-5", "0", "1.2.3M", "abc", "0.1"] {
            #expect(throws: QuantizeError.self, "\(bad)") { _ = try SizeTarget.parseSize(bad) }
        }
    }

    @Test("allocator: never over budget, nil below the smallest, larger budget never more loss")
    func allocator() throws {
        var rng = SplitMix64(seed: 7)
        var tensors: [SizeTargetCandidates] = []
        for i in 0..<12 {
            var options: [SizeTargetCandidates.Option] = []
            let base = 1000 + Int(rng.next() % 5000)
            var loss = 10.0 + Double(rng.next() % 100)
            for (k, t) in [GGMLType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_0].enumerated() {
                options.append(.init(type: t, bytes: base * (k + 2) / 2, loss: loss))
                loss *= 0.3 + Double(rng.next() % 40) / 100
            }
            tensors.append(SizeTargetCandidates(name: "t\(i)", options: options))
        }
        let smallest = tensors.reduce(0) { $0 + $1.options[0].bytes }
        let largest = tensors.reduce(0) { $0 + $1.options.last!.bytes }
        #expect(SizeTargetAllocator.allocate(tensors, budget: smallest - 1) == nil)
        var previous = Double.infinity
        for budget in stride(from: smallest, through: largest + 1000, by: max(1, (largest - smallest) / 40)) {
            let a = try #require(SizeTargetAllocator.allocate(tensors, budget: budget, minimumUnit: 1, maxUnits: 5000))
            #expect(a.bytes <= budget)
            #expect(a.loss <= previous * (1 + 1e-12), "budget \(budget): \(a.loss) > \(previous)")
            previous = a.loss
        }
        // With the whole budget every tensor takes its least-loss option.
        let all = try #require(SizeTargetAllocator.allocate(tensors, budget: largest))
        #expect(abs(all.loss - tensors.reduce(0) { $0 + $1.options.map(\.loss).min()! }) < 1e-9)
    }

    @Test("--target-size: the file fits, the plan's size is exact, it loads; --target-bpw: the BPW fits")
    func budgets() throws {
        let tmp = TemporaryDirectory("size-target")
        let input = try bundledModel(tmp)
        let fixed = tmp.file("q4km.gguf")
        #expect(runCommand(QuantizeCommand.run, [input, fixed, "Q4_K_M", "-q"]).error == nil)
        let size = fileSize(fixed)
        let out = tmp.file("target.gguf")
        let r = runCommand(QuantizeCommand.run, ["--target-size", String(size), "--target-calibration", Self.text,
                                                 "--target-tokens", "64", input, out, "2", "-q"])
        try #require(r.error == nil, "\(String(describing: r.error))")
        #expect(fileSize(out) <= size)
        #expect(fileSize(out) > size * 9 / 10)
        #expect(r.console.stdout.contains("plan        = \(fileSize(out)) bytes"))
        #expect(r.console.stderr.contains("size-target: sensitivity"))
        let f = try GGUFFile(path: out)
        #expect(Set(f.tensors.map(\.type)).count > 1 || f.tensors.count > 0)
        _ = try LanguageModel(path: out)

        let bpwOut = tmp.file("bpw.gguf")
        let b = runCommand(QuantizeCommand.run, ["--target-bpw", "5.0", input, bpwOut, "-q"])
        try #require(b.error == nil, "\(String(describing: b.error))")
        let g = try GGUFFile(path: bpwOut), i = try GGUFFile(path: input)
        let bytes = g.tensors.reduce(0) { $0 + ($1.type.byteCount(shape: $1.shape) ?? 0) }
        let elements = i.tensors.reduce(0) { $0 + $1.elementCount }
        #expect(Double(bytes) * 8 / Double(elements) <= 5.0)
        #expect(Double(bytes) * 8 / Double(elements) > 4.5)
    }

    @Test("a larger budget never gives a larger predicted loss on the calibration measure")
    func monotonic() throws {
        let tmp = TemporaryDirectory("size-target")
        let input = try bundledModel(tmp)
        var previous = Double.infinity
        var previousBytes = 0
        for bpw in [3.6, 4.2, 4.8, 5.5, 6.5, 8.0] {
            var o = SizeTargetOptions(target: .bitsPerWeight(bpw))
            o.calibrationText = Self.text
            o.calibrationTokens = 64
            o.sequenceLength = 64
            var request = QuantizationRequest(input: input, output: tmp.file("unused.gguf"), fileType: .q8_0)
            request.threads = 2
            let plan = try Quantization.planSizeTarget(request, options: o)
            #expect(plan.bitsPerWeight <= bpw)
            #expect(plan.predictedLoss <= previous * (1 + 1e-9), "\(bpw) bpw: \(plan.predictedLoss) > \(previous)")
            #expect(plan.tensorBytes >= previousBytes || plan.predictedLoss < previous)
            #expect(!plan.sensitivities.isEmpty)
            previous = plan.predictedLoss
            previousBytes = plan.tensorBytes
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.file("unused.gguf")))
    }

    @Test("--dry-run prints the plan and writes nothing")
    func dryRun() throws {
        let tmp = TemporaryDirectory("size-target")
        let input = try bundledModel(tmp)
        let out = tmp.file("never.gguf")
        let r = runCommand(QuantizeCommand.run, ["--target-bpw", "4.5", "--dry-run", input, out])
        try #require(r.error == nil, "\(String(describing: r.error))")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(r.console.stdout.contains("blk.0.ffn_down.weight"))
        #expect(r.console.stdout.contains("target      = 4.5 bits per weight"))
        #expect(r.console.stdout.contains("BPW, predicted loss"))
        let files = try FileManager.default.contentsOfDirectory(atPath: tmp.url.path)
        #expect(files == ["tiny-f32.gguf"])
    }

    @Test("bad input: a target below the smallest, a TYPE with a target, a bad size, both targets: one error, nothing written")
    func badInput() throws {
        let tmp = TemporaryDirectory("size-target")
        let input = try bundledModel(tmp)
        let out = tmp.file("out.gguf")
        func fails(_ args: [String], _ needle: String, code: Int32) {
            let r = runCommand(QuantizeCommand.run, args)
            #expect(r.error != nil, "\(args)")
            #expect(r.error?.exitCode == code, "\(args): \(String(describing: r.error))")
            #expect(r.error?.description.contains(needle) == true, "\(args): \(String(describing: r.error))")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        fails(["--target-size", "20K", input, out, "-q"], "below the smallest possible", code: 1)
        fails(["--target-bpw", "1.0", input, out, "-q"], "below the smallest possible", code: 1)
        fails(["--target-bpw", "4.5", input, out, "Q4_K_M", "-q"], "drop the quantization type 'Q4_K_M'", code: 64)
        fails(["--target-size", "3.2X", input, out, "-q"], "invalid size '3.2X'", code: 64)
        fails(["--target-bpw", "abc", input, out, "-q"], "invalid --target-bpw 'abc'", code: 64)
        fails(["--target-bpw", "4", "--target-size", "1G", input, out, "-q"], "not both", code: 64)
        fails(["--target-bpw", "4.5", input, "-q"], "missing expected argument", code: 64)
        fails(["--target-tokens", "64", input, out, "Q4_K_M", "-q"], "needs --target-bpw or --target-size", code: 64)
    }
}
