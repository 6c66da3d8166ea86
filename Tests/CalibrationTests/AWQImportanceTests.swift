import Testing
import Foundation
import GGUF
import Quants
import Inference
import Architectures
@testable import Calibration
import TestSupport

/// Per-tensor sum of x² per column and row counts of every `blk.*` matrix input, observed while a
/// session evaluates whole blocks (each an independent sequence from position 0).
private final class SquareSums {
    var sums: [String: [Double]] = [:]
    var rows: [String: Int] = [:]

    func observe(_ path: String, blocks: [[Int32]]) throws {
        let model = try LanguageModel(path: path)
        let session = InferenceSession(model: model, contextLength: blocks[0].count, threads: 2)
        session.observer = { name, x, rows, columns in
            guard name.hasPrefix("blk.") else { return }
            var acc = self.sums[name] ?? [Double](repeating: 0, count: columns)
            for r in 0..<rows {
                for c in 0..<columns {
                    let v = Double(x[r * columns + c])
                    acc[c] += v * v
                }
            }
            self.sums[name] = acc
            self.rows[name, default: 0] += rows
        }
        for b in blocks {
            session.clear()
            _ = try session.evaluate(b)
        }
        session.observer = nil
    }

    func mean(_ name: String) -> [Double] {
        guard let s = sums[name], let n = rows[name], n > 0 else { return [] }
        return s.map { $0 / Double(n) }
    }
}

/// Largest |a - b| / max(|b|, floor) over the entries.
private func maxRelativeDifference(_ a: [Float], _ b: [Double], floor: Double) -> Double {
    zip(a, b).reduce(0) { max($0, abs(Double($1.0) - $1.1) / max(abs($1.1), floor)) }
}

@Suite("AWQ + importance: mean x² from the calibration pass, adjusted for the folded scales")
struct AWQImportanceTests {
    @Test("importances equal mean x² of the inputs the folded model's linears see (x/s)", arguments: ["llama", "qwen3"])
    func importanceMatchesFoldedInputs(arch: String) throws {
        let tmp = TemporaryDirectory("awq-imp")
        let tiny = TinyDecoder(arch: arch, embd: 64, heads: 4, kvHeads: arch == "qwen3" ? 2 : 4, ff: 96, outlierChannel: 3)
        try tiny.write(to: tmp.file("m.gguf"))
        let file = try GGUFFile(path: tmp.file("m.gguf"))
        let model = try LanguageModel(file: file)
        var options = AWQOptions()
        options.grid = 6
        options.threads = 2
        let L = 16
        let cal = try AWQCalibrator(model: model, targetTypes: try planTypes(file, .q4_0), sequenceLength: L, options: options)
        let tokens = tiny.tokens(blocks: 5, length: L)
        let blocks = (0..<5).map { Array(tokens[($0 * L)..<(($0 + 1) * L)]) }
        let set = try CalibrationSet(lines: blocks, samples: 5, sequenceLength: L, source: "t")
        #expect(set.blockCount == 5)
        let r = try cal.run(set, calibrationFile: "t")
        let importance = r.importance

        // One entry per linear of every block, one value per column.
        #expect(importance.count == 7 * tiny.layers)
        for il in 0..<tiny.layers {
            for role in LinearRole.allCases {
                let name = role.weightName(layer: il)
                #expect(importance[name]?.count == model.layers[il].linear(role).matrix.columns, "\(name)")
            }
        }
        // The outlier channel makes the attention group worth scaling in every block.
        #expect(r.layers.allSatisfy { $0.scales[.attention] != nil })

        // Independent expectation: fold, then observe the float models on the same blocks.
        try fold(file, r, to: tmp.file("folded.gguf"))
        let folded = SquareSums(), plain = SquareSums()
        try folded.observe(tmp.file("folded.gguf"), blocks: blocks)
        try plain.observe(tmp.file("m.gguf"), blocks: blocks)
        var scaledSeen = 0
        for (name, values) in importance {
            let expected = folded.mean(name)
            try #require(expected.count == values.count, "\(name): \(expected.count) observed columns")
            #expect(folded.rows[name] == 5 * L)
            let floor = 1e-6 * (expected.max() ?? 1)
            let rel = maxRelativeDifference(values, expected, floor: floor)
            #expect(rel < 2e-3, "\(name): importance differs from the folded model's mean x² by \(rel)")
            // Where a scale was folded, the importance is not the unscaled statistic.
            let unscaled = plain.mean(name)
            if maxRelativeDifference(values, unscaled, floor: floor) > 0.05 { scaledSeen += 1 }
        }
        // q, k, v of every block at least (their inputs are divided by the attention scales).
        #expect(scaledSeen >= 3 * tiny.layers)
    }

    @Test("which linears are divided by s²: scaled columns only; row scales, clips and unscaled groups keep mean x²")
    func adjustmentFollowsTheFold() {
        var l = AWQLayerResult()
        let sAtt: [Float] = [2, 0.5, 1, 4], sDown: [Float] = [0.5, 2]
        l.scales[.attention] = sAtt
        l.scales[.down] = sDown
        l.clips[.ffnUp] = [1]
        let x: [Float] = [4, 1, 3, 16], o: [Float] = [1, 2, 3, 4], d: [Float] = [1, 8]
        l.inputMeanSquares = [.attnQ: x, .attnOutput: o, .ffnGate: x, .ffnDown: d]
        var r = AWQResult(layers: [l, AWQLayerResult()], calibrationFile: "c", samples: 1, sequenceLength: 4, grid: 20, clip: true)
        let imp = r.importance
        for role in [LinearRole.attnQ, .attnK, .attnV] { #expect(imp[role.weightName(layer: 0)] == [1, 4, 3, 1]) }
        #expect(imp[LinearRole.attnOutput.weightName(layer: 0)] == o)
        // ffn_up's rows are divided by the down scales and it is clipped: its input is unchanged.
        #expect(imp[LinearRole.ffnUp.weightName(layer: 0)] == x)
        #expect(imp[LinearRole.ffnGate.weightName(layer: 0)] == x)
        #expect(imp[LinearRole.ffnDown.weightName(layer: 0)] == [4, 2])
        // A layer without statistics contributes nothing.
        #expect(imp.count == 7)

        // The metadata key is written only when the importances are used.
        #expect(!r.metadata.contains { $0.key == GGUFKey.Quantize.awqImportance })
        r.importanceUsed = true
        #expect(r.metadata.last == GGUFKeyValue(GGUFKey.Quantize.awqImportance, .bool(true)))
    }

    @Test("mean of squares per column, in double")
    func channelMeanSquare() {
        #expect(ScaleMath.channelMeanSquare([1, -2, -3, 4], columns: 2) == [5, 10])
        let big = [Float](repeating: 3, count: 3 * 4096)
        #expect(ScaleMath.channelMeanSquare(big, columns: 3, threads: 2) == [9, 9, 9])
    }
}
