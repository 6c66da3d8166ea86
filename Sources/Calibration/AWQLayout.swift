import Architectures
import GGUF
import Inference
import Quants

/// Where the matrices of a decoder block's AWQ groups are stored in the GGUF file, as the
/// engine reads them: separate llama-style tensors; Phi-3's fused projections (q/k/v row ranges
/// of `attn_qkv`, gate/up halves of `ffn_up`); or routed experts (the router `ffn_gate_inp` and
/// the 3-D `ffn_{gate,up,down}_exps` instead of a dense feed-forward network). See
/// `ArchitectureSpec.awqScaledTensors` for the rules.
public struct AWQTensorLayout: Sendable, Equatable {
    /// Row counts of the fused tensors' parts (nil: separate tensors).
    public struct Fused: Sendable, Equatable {
        public var qRows: Int, kRows: Int, vRows: Int
        /// Rows of gate (then as many of up) in `ffn_up`.
        public var feedForwardRows: Int

        public init(qRows: Int, kRows: Int, vRows: Int, feedForwardRows: Int) {
            self.qRows = qRows
            self.kRows = kRows
            self.vRows = vRows
            self.feedForwardRows = feedForwardRows
        }
    }

    public var fused: Fused?
    /// Routed experts per block (0: dense blocks).
    public var experts: Int

    public init(fused: Fused? = nil, experts: Int = 0) {
        self.fused = fused
        self.experts = experts
    }

    /// Separate q/k/v/o, gate/up/down tensors (llama, qwen2/3, Gemma).
    public static let separate = AWQTensorLayout()

    /// The layout of `c`'s blocks.
    public init(config c: ModelConfig) {
        self.init()
        if c.wiring.fusedProjections {
            fused = Fused(qRows: c.headCount * c.headDimK, kRows: c.kvDimK, vRows: c.kvDimV, feedForwardRows: c.feedForwardLength)
        }
        experts = c.expertCount
    }

    /// The tensor holding a dense linear's weights and the first of its rows there; nil when the
    /// blocks have no such matrix (the feed-forward linears of an MoE block).
    public func place(_ role: LinearRole) -> (tensor: TensorName, row: Int)? {
        if experts > 0, role == .ffnGate || role == .ffnUp || role == .ffnDown { return nil }
        guard let f = fused else { return (role.tensorName, 0) }
        switch role {
        case .attnQ: return (.attnQKV, 0)
        case .attnK: return (.attnQKV, f.qRows)
        case .attnV: return (.attnQKV, f.qRows + f.kRows)
        case .ffnGate: return (.ffnUp, 0)
        case .ffnUp: return (.ffnUp, f.feedForwardRows)
        case .attnOutput, .ffnDown: return (role.tensorName, 0)
        }
    }

    /// The tensors whose input columns group `g` scales (each once).
    public func scaledTensors(_ g: AWQGroup) -> [TensorName] {
        if experts > 0, g == .feedForward { return [.ffnGateInp, .ffnGateExps, .ffnUpExps] }
        var out: [TensorName] = []
        for t in g.scaled {
            guard let role = LinearRole(tensorName: t), let p = place(role) else { continue }
            if !out.contains(p.tensor) { out.append(p.tensor) }
        }
        return out
    }
}

/// One matrix of a block that an AWQ group scales, in the engine's terms.
enum AWQMatrix: Hashable {
    case linear(LinearRole)
    case router
    case expertGate(Int)
    case expertUp(Int)
    case expertDown(Int)
}

/// Replacement weights for the sub-module of a group (the scale search's candidates).
struct ModuleOverrides {
    var linears: [LinearRole: LinearOverride] = [:]
    var experts: ExpertOverrides?

    static var none: ModuleOverrides { ModuleOverrides() }

    subscript(_ role: LinearRole) -> LinearOverride? { linears[role] }

    mutating func set(_ m: AWQMatrix, _ o: LinearOverride) {
        switch m {
        case .linear(let role): linears[role] = o
        case .router: experts = experts ?? ExpertOverrides(); experts?.router = o
        case .expertGate(let x): experts = experts ?? ExpertOverrides(); experts?.gate[x] = o
        case .expertUp(let x): experts = experts ?? ExpertOverrides(); experts?.up[x] = o
        case .expertDown(let x): experts = experts ?? ExpertOverrides(); experts?.down[x] = o
        }
    }
}

extension AWQCalibrator {
    /// The matrices group `g` scales in block `il`, in order (the first reads the group's input).
    func matrices(_ g: AWQGroup, _ il: Int) -> [AWQMatrix] {
        if g == .feedForward, let moe = model.layers[il].experts {
            return [.router] + (0..<moe.count).flatMap { [AWQMatrix.expertGate($0), .expertUp($0)] }
        }
        return g.scaledRoles.map { .linear($0) }
    }

    func linear(_ il: Int, _ m: AWQMatrix) -> Linear {
        let w = model.layers[il]
        switch m {
        case .linear(let role): return w.linear(role)
        case .router: return w.experts?.router ?? w.gate
        case .expertGate(let x): return w.experts?.gate[x] ?? w.gate
        case .expertUp(let x): return w.experts?.up[x] ?? w.up
        case .expertDown(let x): return w.experts?.down[x] ?? w.down
        }
    }

    /// Columns of group `g`'s input in block `il`.
    func inputWidth(_ g: AWQGroup, _ il: Int) -> Int {
        linear(il, matrices(g, il)[0]).matrix.columns
    }

    /// The f32 weights of a matrix of block `il` (`rows × columns`).
    func weights(_ il: Int, _ m: AWQMatrix) -> [Float] {
        let w = linear(il, m).matrix
        var out = [Float](repeating: 0, count: w.rows * w.columns)
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<w.rows { w.dequantize(row: r, k0: 0, count: w.columns, into: o.baseAddress! + r * w.columns) }
        }
        return out
    }

    /// The type a matrix is written as: that of the tensor holding it (a fused or stacked tensor
    /// for Phi-3's row ranges and the experts).
    func type(_ il: Int, _ m: AWQMatrix) -> GGMLType {
        types[linear(il, m).name] ?? .f32
    }

    /// Candidate weights of group `g`'s matrices: `ws` (in `matrices` order) with their columns
    /// multiplied by `s` (none: unscaled), quantized and dequantized as their types are.
    func overrides(_ g: AWQGroup, _ il: Int, weights ws: [[Float]], scales s: [Float]?) -> ModuleOverrides {
        var out = ModuleOverrides()
        for (m, w) in zip(matrices(g, il), ws) {
            let mat = linear(il, m).matrix
            let t = type(il, m)
            let sw = s.map { ScaleMath.scaled(w, rows: mat.rows, columns: mat.columns, columnScale: $0, rowScale: nil) } ?? w
            let q = quantizer.roundTrip(sw, rows: mat.rows, columns: mat.columns, type: t)
            out.set(m, LinearOverride(values: q, rows: mat.rows, columns: mat.columns, emulating: t))
        }
        return out
    }
}
