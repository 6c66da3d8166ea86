import Testing
import Foundation
import TestSupport
import GGUF
import SwiftGGUF
@testable import ToolSupport

/// The loss model of the size-target planner: what each candidate of a tensor is predicted to
/// cost, on weights that are not on any quantization grid (the bundled model) and on weights
/// that are (a model dequantized from Q4_1, as the SmolLM2 F32 the benchmarks use).
@Suite("size target: predicted losses per candidate, mixed plans, inputs already on a grid")
struct SizeTargetLossTests {
    static let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path

    func convert(_ tmp: TemporaryDirectory) throws -> String {
        let out = tmp.file("tiny-f32.gguf")
        let r = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                "--outtype", "f32", "--outfile", out, "-q"])
        try #require(r.error == nil)
        return out
    }

    func plan(_ input: String, bpw: Double, _ tmp: TemporaryDirectory,
              candidates: [GGMLType] = SizeTargetOptions.defaultCandidates) throws -> SizeTargetPlan {
        var o = SizeTargetOptions(target: .bitsPerWeight(bpw))
        o.candidateTypes = candidates
        o.calibrationText = Self.text
        o.calibrationTokens = 64
        o.sequenceLength = 64
        var request = QuantizationRequest(input: input, output: tmp.file("unused.gguf"), fileType: .q8_0)
        request.threads = 2
        return try Quantization.planSizeTarget(request, options: o)
    }

    /// The loss of `type` among a tensor's options, or nil when it is not a candidate.
    func loss(_ c: SizeTargetCandidates, _ type: GGMLType) -> Double? {
        c.options.first { $0.type == type }?.loss
    }

    @Test("weights on no grid: every candidate's loss is positive and falls with more bits in each family; a mid budget mixes types")
    func offGrid() throws {
        let tmp = TemporaryDirectory("size-target-loss")
        let input = try convert(tmp)
        let p = try plan(input, bpw: 5.0, tmp)
        try #require(p.candidates.count == p.choices.count)
        #expect(!p.sensitivities.isEmpty)
        #expect(p.sensitivities.allSatisfy { $0.value > 0 && $0.value.isFinite })
        let chains: [[GGMLType]] = [
            [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_0],
            [.q4_0, .q5_0, .q8_0],
            [.q4_1, .q5_1, .q8_0],
            [.iq3_S, .iq4_XS],
        ]
        for c in p.candidates {
            #expect(c.options.count > 1, "\(c.name)")
            for o in c.options {
                #expect(o.loss > 0 && o.loss.isFinite, "\(c.name) \(o.type.name): loss \(o.loss)")
            }
            for chain in chains {
                let losses = chain.compactMap { loss(c, $0) }
                guard losses.count == chain.count else { continue }
                for k in 1..<losses.count {
                    #expect(losses[k] < losses[k - 1], "\(c.name): \(chain[k].name) \(losses[k]) ≥ \(chain[k - 1].name) \(losses[k - 1])")
                }
            }
        }
        // 5 bits per weight is between the smallest and the largest options: the plan mixes types
        // and uses the budget (within one tensor's step between neighbouring types).
        #expect(Set(p.choices.map(\.type)).count > 1, "\(p.choices.map(\.type.name))")
        #expect(p.choices.allSatisfy { $0.loss > 0 })
        #expect(p.bitsPerWeight <= 5.0)
        #expect(p.bitsPerWeight > 4.6)
        #expect(p.predictedLoss > 0)
        #expect(abs(p.predictedLoss - p.choices.reduce(0) { $0 + $1.loss }) <= 1e-12 * p.predictedLoss)
    }

    @Test("weights dequantized from Q4_1: Q4_1 costs nothing for those tensors and is chosen once it fits; less room costs loss")
    func onQ4_1Grid() throws {
        let tmp = TemporaryDirectory("size-target-loss")
        let input = try convert(tmp)
        // Quantize to Q4_1, then widen back to F32: the block matrices hold Q4_1 values exactly.
        let q = tmp.file("q4_1.gguf"), back = tmp.file("from-q4_1-f32.gguf")
        try #require(runCommand(QuantizeCommand.run, [input, q, "Q4_1", "-q"]).error == nil)
        try #require(runCommand(QuantizeCommand.run, ["--allow-requantize", q, back, "F32", "-q"]).error == nil)
        let quantized = try GGUFFile(path: q)
        let onGrid = Set(quantized.tensors.filter { $0.type == .q4_1 }.map(\.name))
        try #require(onGrid.count >= 7)

        let roomy = try plan(back, bpw: 6.5, tmp)
        for (c, choice) in zip(roomy.candidates, roomy.choices) where onGrid.contains(c.name) {
            #expect(loss(c, .q4_1) == 0, "\(c.name)")
            // Every other type loses something (Q8_0 too: its grid is not Q4_1's).
            #expect(c.options.filter { $0.type != .q4_1 }.allSatisfy { $0.loss > 0 }, "\(c.name)")
            #expect(choice.type == .q4_1, "\(c.name): \(choice.type.name)")
        }
        // Without room for Q4_1 everywhere the loss is positive again and the plan mixes.
        let tight = try plan(back, bpw: 4.4, tmp)
        #expect(tight.predictedLoss > 0)
        #expect(tight.choices.contains { onGrid.contains($0.name) && $0.type != .q4_1 })
    }

    @Test("weights on the probe type's grid: the sensitivity passes probe with the nearest type that changes them, so every class is measured")
    func probeOffTheInputGrid() throws {
        let tmp = TemporaryDirectory("size-target-loss")
        let input = try convert(tmp)
        let q = tmp.file("q4_0.gguf"), back = tmp.file("from-q4_0-f32.gguf")
        try #require(runCommand(QuantizeCommand.run, ["--pure", input, q, "Q4_0", "-q"]).error == nil)
        try #require(runCommand(QuantizeCommand.run, ["--allow-requantize", q, back, "F32", "-q"]).error == nil)
        // Q4_0 is the candidate nearest 4.5 bits per weight; 3.5 bits per weight makes the plan trade
        // Q2_K/Q3_K against Q4_0, which needs the sensitivities.
        let types: [GGMLType] = [.q2_K, .q3_K, .q4_0, .q8_0]
        let reference = try plan(input, bpw: 3.5, tmp, candidates: types)
        let p = try plan(back, bpw: 3.5, tmp, candidates: types)
        try #require(p.candidates.filter { loss($0, .q4_0) == 0 }.count >= 7)
        #expect(!reference.sensitivities.isEmpty)
        #expect(p.sensitivities.map(\.name) == reference.sensitivities.map(\.name))
        #expect(p.sensitivities.allSatisfy { $0.value > 0 && $0.value.isFinite })
        #expect(p.predictedLoss > 0)
        #expect(p.bitsPerWeight <= 3.5)
    }
}
