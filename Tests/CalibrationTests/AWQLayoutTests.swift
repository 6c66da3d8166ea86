import Testing
import GGUF
import Architectures
import Inference
@testable import Calibration

/// Where the groups' scales land in files whose matrices are not llama's separate tensors:
/// Phi-3's fused `attn_qkv` and `ffn_up` (gate‖up), and the router and stacked experts of MoE
/// blocks. (The function-preserving checks on real files are in NewArchitectureAWQTests.)
@Suite("AWQ tensor layouts: fused projections and routed experts")
struct AWQLayoutTests {
    /// q 4 rows, k 2, v 2; gate 3, up 3; 2 columns (so every tensor is rows × 2).
    static let fused = AWQTensorLayout(fused: .init(qRows: 4, kRows: 2, vRows: 2, feedForwardRows: 3))

    func apply(_ r: AWQResult, _ name: String, shape: [Int], _ values: [Float]) throws -> [Float] {
        var v = values
        let t = r.transform()
        _ = try v.withUnsafeMutableBufferPointer { try t(name, shape, $0) }
        return v
    }

    @Test("Phi-3: q/k/v columns are those of attn_qkv; up → down divides the up half of ffn_up only")
    func fusedFolds() throws {
        var l = AWQLayerResult()
        l.scales[.attention] = [2, 4]
        l.scales[.feedForward] = [8, 0.5]
        l.scales[.down] = [2, 4, 8]
        var r = AWQResult(layers: [l], calibrationFile: "c", samples: 1, sequenceLength: 1, grid: 1, clip: false)
        r.layout = Self.fused
        let qkv = try apply(r, "blk.0.attn_qkv.weight", shape: [2, 8], [Float](repeating: 1, count: 16))
        #expect(qkv == (0..<8).flatMap { _ in [Float(2), 4] })
        let up = try apply(r, "blk.0.ffn_up.weight", shape: [2, 6], [Float](repeating: 1, count: 12))
        // gate rows: columns × (8, 0.5); up rows additionally ÷ (2, 4, 8)
        #expect(up == [8, 0.5, 8, 0.5, 8, 0.5, 4, 0.25, 2, 0.125, 1, 0.0625])
        let norm = try apply(r, "blk.0.ffn_norm.weight", shape: [2], [1, 1])
        #expect(norm == [0.125, 2])
        let down = try apply(r, "blk.0.ffn_down.weight", shape: [3, 2], [Float](repeating: 1, count: 6))
        #expect(down == [2, 4, 8, 2, 4, 8])
        // No separate q or gate tensors are touched.
        #expect(r.folds()["blk.0.attn_q.weight"] == nil && r.folds()["blk.0.ffn_gate.weight"] == nil)
        #expect(Self.fused.scaledTensors(.attention) == [.attnQKV])
        #expect(Self.fused.scaledTensors(.feedForward) == [.ffnUp])
    }

    @Test("Phi-3: v → o would divide the v rows of attn_qkv (and of its bias)")
    func fusedValueRows() throws {
        var l = AWQLayerResult()
        l.scales[.valueOutput] = [2, 4]
        var r = AWQResult(layers: [l], calibrationFile: "c", samples: 1, sequenceLength: 1, grid: 1, clip: false)
        r.layout = Self.fused
        let qkv = try apply(r, "blk.0.attn_qkv.weight", shape: [2, 8], [Float](repeating: 1, count: 16))
        #expect(qkv == [Float](repeating: 1, count: 12) + [0.5, 0.5, 0.25, 0.25])
        let bias = try apply(r, "blk.0.attn_qkv.bias", shape: [8], [Float](repeating: 1, count: 8))
        #expect(bias == [1, 1, 1, 1, 1, 1, 0.5, 0.25])
    }

    @Test("MoE: the feed-forward group scales the router and every expert's gate and up; without expert down scales, down is left alone")
    func expertFolds() throws {
        var l = AWQLayerResult()
        l.scales[.feedForward] = [2, 4]
        var r = AWQResult(layers: [l], calibrationFile: "c", samples: 1, sequenceLength: 1, grid: 1, clip: false)
        r.layout = AWQTensorLayout(experts: 3)
        #expect(r.layout.scaledTensors(.feedForward) == [.ffnGateInp, .ffnGateExps, .ffnUpExps])
        let router = try apply(r, "blk.0.ffn_gate_inp.weight", shape: [2, 3], [Float](repeating: 1, count: 6))
        #expect(router == [2, 4, 2, 4, 2, 4])
        // [columns 2, rows 2, experts 3]: every row of every expert
        let gate = try apply(r, "blk.0.ffn_gate_exps.weight", shape: [2, 2, 3], [Float](repeating: 1, count: 12))
        #expect(gate == (0..<6).flatMap { _ in [Float(2), 4] })
        #expect(r.folds()["blk.0.ffn_down_exps.weight"] == nil && r.folds()["blk.0.ffn_gate.weight"] == nil)
        #expect(try apply(r, "blk.0.ffn_norm.weight", shape: [2], [1, 1]) == [0.5, 0.25])
        // No dense feed-forward importances in an MoE layout.
        l.inputMeanSquares[.ffnGate] = [1, 1]
        l.inputMeanSquares[.attnQ] = [1, 1]
        r.layers = [l]
        #expect(Set(r.importance.keys) == ["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"])
    }

    @Test("MoE: an expert's up → down scales divide its slab of ffn_up_exps' rows and multiply its slab of ffn_down_exps' columns")
    func expertDownFolds() throws {
        var l = AWQLayerResult()
        l.scales[.feedForward] = [2, 4]
        // 3 experts of hidden width 2 over 2 embedding columns; expert 1 keeps its weights.
        l.expertDownScales[0] = [2, 4]
        l.expertDownScales[2] = [8, 0.5]
        var r = AWQResult(layers: [l], calibrationFile: "c", samples: 1, sequenceLength: 1, grid: 1, clip: false)
        r.layout = AWQTensorLayout(experts: 3)
        #expect(r.groupCount == 3)
        // ffn_up_exps [columns 2, rows 2, experts 3]: columns × (2, 4), then rows ÷ the expert's scales.
        let up = try apply(r, "blk.0.ffn_up_exps.weight", shape: [2, 2, 3], [Float](repeating: 1, count: 12))
        #expect(up == [1, 2, 0.5, 1, 2, 4, 2, 4, 0.25, 0.5, 4, 8])
        // ffn_down_exps [columns 2 (hidden), rows 2, experts 3]: every row of expert x × x's scales.
        let down = try apply(r, "blk.0.ffn_down_exps.weight", shape: [2, 2, 3], [Float](repeating: 1, count: 12))
        #expect(down == [2, 4, 2, 4, 1, 1, 1, 1, 8, 0.5, 8, 0.5])
        // The gate is scaled by the feed-forward group only; the norm absorbs that group alone.
        let gate = try apply(r, "blk.0.ffn_gate_exps.weight", shape: [2, 2, 3], [Float](repeating: 1, count: 12))
        #expect(gate == (0..<6).flatMap { _ in [Float(2), 4] })
        #expect(try apply(r, "blk.0.ffn_norm.weight", shape: [2], [1, 1]) == [0.5, 0.25])
        // A stacked tensor whose rows do not split into the experts is refused.
        #expect(throws: AWQError.self) { _ = try apply(r, "blk.0.ffn_down_exps.weight", shape: [2, 5], [Float](repeating: 1, count: 10)) }
    }

    @Test("the descriptions: Phi-3 scales its fused tensors; Mixtral and Qwen3-MoE their router and experts")
    func descriptions() throws {
        #expect(ArchitectureSpec.phi3.awqScaledTensors(.attention) == [.attnQKV])
        #expect(ArchitectureSpec.phi3.awqScaledTensors(.feedForward) == [.ffnUp])
        #expect(ArchitectureSpec.phi3.awqPreviousTensor(.down) == .ffnUp)
        for spec in [ArchitectureSpec.mixtral, .qwen3moe] {
            #expect(spec.awqScaledTensors(.feedForward) == [.ffnGateInp, .ffnGateExps, .ffnUpExps])
            #expect(spec.awqGroups.contains(.down))
            #expect(spec.awqScaledTensors(.down) == [.ffnDownExps])
            #expect(spec.awqPreviousTensor(.down) == .ffnUpExps)
        }
    }
}

@Suite("AWQ per-block progress line")
struct AWQSummaryTests {
    @Test("a dense block's unscaled down group reads 'r=none'; an MoE block's reads its scaled experts")
    func downGroup() {
        var dense = AWQLayerResult()
        dense.ratios[.attention] = Float(0.25)
        dense.ratios[.down] = Float?.none
        for g in [AWQGroup.attention, .down] {
            dense.loss[g] = 1
            dense.baseLoss[g] = 2
        }
        #expect(dense.ratios.index(forKey: .down) != nil)
        #expect(AWQCalibrator.summary(3, dense) == "blk.3: qkv r=0.25 -50.0%, down r=none -50.0%")
        var moe = AWQLayerResult()
        moe.loss[.down] = 3
        moe.baseLoss[.down] = 4
        moe.expertDownScales = [0: [1], 2: [1]]
        #expect(AWQCalibrator.summary(0, moe) == "blk.0: down experts=2 -25.0%")
    }
}
