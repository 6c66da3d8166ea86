import Architectures
import GGUF
import Quants

/// The linear layers of a decoder block, by their GGUF tensor names.
public enum LinearRole: CaseIterable, Sendable, Hashable {
    case attnQ, attnK, attnV, attnOutput, ffnGate, ffnUp, ffnDown

    public var tensorName: TensorName {
        switch self {
        case .attnQ: return .attnQ
        case .attnK: return .attnK
        case .attnV: return .attnV
        case .attnOutput: return .attnOutput
        case .ffnGate: return .ffnGate
        case .ffnUp: return .ffnUp
        case .ffnDown: return .ffnDown
        }
    }

    /// The role of a block tensor family, or nil when it is not one of the linears.
    public init?(tensorName: TensorName) {
        guard let r = LinearRole.allCases.first(where: { $0.tensorName == tensorName }) else { return nil }
        self = r
    }

    /// `blk.N.attn_q.weight` and so on.
    public func weightName(layer: Int) -> String { tensorName.weight(layer) }
}

/// A weight matrix with the tensor name the activation hook reports.
public struct Linear {
    public let name: String
    public let matrix: WeightMatrix
    /// Whether the activation hook sees this product's input. False for the second and later row
    /// ranges of a fused tensor (Phi-3's k/v of `attn_qkv`, up of `ffn_up`): llama.cpp multiplies
    /// the fused tensor once, so its importance matrix counts that input once.
    public var reportsInput = true

    /// Rows `[first, first + count)` of this matrix, under the same tensor name.
    func rows(_ first: Int, _ count: Int, reportsInput: Bool) -> Linear {
        Linear(name: name, matrix: matrix.rowSlice(first, count), reportsInput: reportsInput)
    }
}

/// The tensors of one decoder block. Matrices point into the model's memory map; the small
/// vectors (norms, biases) are dequantized copies.
public struct LayerWeights {
    public let attnNorm: [Float]
    public let q: Linear, k: Linear, v: Linear, o: Linear
    public let qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
    /// Per-head RMS norm weights of qwen3 (headDim each).
    public let qNorm: [Float]?, kNorm: [Float]?
    public let ffnNorm: [Float]
    public let gate: Linear, up: Linear, down: Linear
    /// Gemma's norms after attention and after the feed-forward network (sandwich layout).
    public var postAttentionNorm: [Float]? = nil
    public var postFFWNorm: [Float]? = nil
    /// The routed experts of an MoE block (nil: dense). In an MoE block `gate`, `up` and `down`
    /// are expert 0's matrices, kept only so the dense accessors stay valid; the block runs
    /// `experts`.
    public var experts: ExpertWeights? = nil

    public func linear(_ role: LinearRole) -> Linear {
        switch role {
        case .attnQ: return q
        case .attnK: return k
        case .attnV: return v
        case .attnOutput: return o
        case .ffnGate: return gate
        case .ffnUp: return up
        case .ffnDown: return down
        }
    }
}

/// Reads and validates tensors of a GGUF file for the forward pass.
struct WeightLoader {
    let file: GGUFFile

    /// Types the forward pass multiplies: those with a CPU dot type and a dequantizer.
    static func isSupported(_ t: GGMLType) -> Bool { Quantizer.canMultiply(t) }

    func info(_ name: String) throws(InferenceError) -> GGUFTensorInfo {
        guard let t = file.tensor(named: name) else {
            throw InferenceError(.missing, file: file.path, "tensor '\(name)' is absent")
        }
        return t
    }

    func checkShape(_ t: GGUFTensorInfo, _ expected: [Int]) throws(InferenceError) {
        var shape = t.shape
        while shape.count > expected.count, shape.last == 1 { shape.removeLast() }
        guard shape == expected else {
            throw InferenceError(.invalid, file: file.path, "tensor '\(t.name)' has shape \(t.shape), expected \(expected)")
        }
    }

    /// A matrix stored as ggml `[columns, rows]`.
    func matrix(_ name: String, columns: Int, rows: Int) throws(InferenceError) -> Linear {
        let t = try info(name)
        try checkShape(t, [columns, rows])
        guard Self.isSupported(t.type) else {
            let names = Quantizer.multipliableTypes.map(\.name)
            throw InferenceError(.unsupportedType, file: file.path,
                                 "tensor '\(name)' has type \(t.type.name), expected one of \(names.joined(separator: ", "))")
        }
        guard let base = file.data(t).baseAddress else {
            throw InferenceError(.invalid, file: file.path, "tensor '\(name)' has no data")
        }
        return Linear(name: name, matrix: WeightMatrix(type: t.type, rows: rows, columns: columns, data: base,
                                                       productType: file.valueType(t.type)))
    }

    /// A vector of `count` values, dequantized to f32 (nil when optional and absent).
    /// A vector that must be present.
    func required(_ name: String, count: Int) throws(InferenceError) -> [Float] {
        guard let v = try vector(name, count: count) else {
            throw InferenceError(.missing, file: file.path, "tensor '\(name)' is absent")
        }
        return v
    }

    func vector(_ name: String, count: Int, optional: Bool = false) throws(InferenceError) -> [Float]? {
        guard let t = file.tensor(named: name) else {
            if optional { return nil }
            throw InferenceError(.missing, file: file.path, "tensor '\(name)' is absent")
        }
        try checkShape(t, [count])
        guard Quantizer.canDequantize(t.type), count % t.type.blockSize == 0,
              let base = file.data(t).baseAddress else {
            throw InferenceError(.unsupportedType, file: file.path, "tensor '\(name)' has type \(t.type.name), expected f32")
        }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { Quantizer.dequantize(t.type, base, $0.baseAddress!, count: count) }
        return out
    }

    func layer(_ il: Int, _ c: ModelConfig) throws(InferenceError) -> LayerWeights {
        if let moe = try experts(il, c) { return try layer(il, c, experts: moe) }
        let e = c.embeddingLength
        let qDim = c.headCount * c.headDimK
        let biasOptional = c.wiring.qkvBias == .optional
        let normOptional = c.wiring.qkNorm == .optional
        let q: Linear, k: Linear, v: Linear, gate: Linear, up: Linear
        if c.wiring.fusedProjections {
            // Phi-3: attn_qkv holds Q, K, V rows in that order; ffn_up holds gate rows, then up rows.
            let qkv = try matrix(TensorName.attnQKV.weight(il), columns: e, rows: qDim + c.kvDimK + c.kvDimV)
            q = qkv.rows(0, qDim, reportsInput: true)
            k = qkv.rows(qDim, c.kvDimK, reportsInput: false)
            v = qkv.rows(qDim + c.kvDimK, c.kvDimV, reportsInput: false)
            let gateUp = try matrix(TensorName.ffnUp.weight(il), columns: e, rows: 2 * c.feedForwardLength)
            gate = gateUp.rows(0, c.feedForwardLength, reportsInput: true)
            up = gateUp.rows(c.feedForwardLength, c.feedForwardLength, reportsInput: false)
        } else {
            q = try matrix(TensorName.attnQ.weight(il), columns: e, rows: qDim)
            k = try matrix(TensorName.attnK.weight(il), columns: e, rows: c.kvDimK)
            v = try matrix(TensorName.attnV.weight(il), columns: e, rows: c.kvDimV)
            gate = try matrix(TensorName.ffnGate.weight(il), columns: e, rows: c.feedForwardLength)
            up = try matrix(TensorName.ffnUp.weight(il), columns: e, rows: c.feedForwardLength)
        }
        var layer = LayerWeights(
            attnNorm: try required(TensorName.attnNorm.weight(il), count: e),
            q: q, k: k, v: v,
            o: try matrix(TensorName.attnOutput.weight(il), columns: c.headCount * c.headDimV, rows: e),
            qBias: try vector(TensorName.attnQ.bias(il), count: qDim, optional: biasOptional),
            kBias: try vector(TensorName.attnK.bias(il), count: c.kvDimK, optional: biasOptional),
            vBias: try vector(TensorName.attnV.bias(il), count: c.kvDimV, optional: biasOptional),
            qNorm: try vector(TensorName.attnQNorm.weight(il), count: c.headDimK, optional: normOptional),
            kNorm: try vector(TensorName.attnKNorm.weight(il), count: c.headDimK, optional: normOptional),
            ffnNorm: try required(TensorName.ffnNorm.weight(il), count: e),
            gate: gate, up: up,
            down: try matrix(TensorName.ffnDown.weight(il), columns: c.feedForwardLength, rows: e))
        if c.wiring.layout == .sandwichNorm {
            layer.postAttentionNorm = try required(TensorName.postAttentionNorm.weight(il), count: e)
            layer.postFFWNorm = try required(TensorName.postFFWNorm.weight(il), count: e)
        }
        return layer
    }
}
