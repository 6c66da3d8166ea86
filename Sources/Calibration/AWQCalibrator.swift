import Architectures
import Foundation
import GGUF
import Inference
import Quants

/// Settings of an AWQ run (AutoAWQ's defaults, spec §6.1, where they apply).
public struct AWQOptions: Sendable {
    /// Scale-search grid: ratios k/grid for k = 0..<grid.
    public var grid = 20
    /// AutoAWQ's duo scaling (activation and weight statistics).
    public var duoScaling = true
    /// Run the clip search after scaling.
    public var clip = false
    /// Calibration blocks whose module outputs score the scale candidates (the activation
    /// statistics always use every block); 0 = all of them; nil = `defaultSearchTokens` worth.
    /// Scoring is the expensive part (grid + 1 module passes per group), so by default it runs
    /// on the first 2048 tokens: about 2 minutes for SmolLM2-135M on 2 cores instead of 10+.
    public var searchBlocks: Int?
    public static let defaultSearchTokens = 2048
    /// Tokens sampled for the clip search's Gram matrices.
    public var clipTokens = 4096
    /// Rows per pass of the sub-modules (bounds the activation buffers).
    public var rowsPerPass = 2048
    /// Rows per chunk of the scoring (attention: whole sequences): a candidate stops being
    /// scored once its loss on the chunks done exceeds the least full loss (it cannot win).
    public var scoringChunkRows = 256
    /// Score every candidate on every row (the search without the screen or early stopping; the
    /// choices of `screenRows` 0).
    public var exhaustiveSearch = false
    /// Rows of the screen that ranks the candidates before the exact scoring (see
    /// `AWQCalibrator.screenGroup`); 0: no screen, every candidate is scored with early stopping only.
    public var screenRows = 192
    /// The attention group's screen: the first positions of one sequence (rounded up to 24).
    public var screenPositions = 384
    /// Candidates scored exactly after the screen: at least the `screenKeep` best by the screen,
    /// and every one whose screen loss is within a relative `screenMargin` of the least.
    public var screenKeep = 3
    public var screenMargin = 0.02
    public var threads = 1

    public init() {}
}

/// AWQ calibration on the CPU engine (spec §6.3): the model runs block by block on the cached
/// block inputs; each block's output, computed with the unmodified float weights, becomes the
/// next block's input; for each block the scales of every group are searched on the unmodified
/// block, scoring each candidate by the inspected module's output error with the candidate
/// weights quantized to the type the llama-quantize plan gives each tensor and the activations
/// rounded as the CPU dot product rounds them; then, optionally, clip limits are searched on the
/// scaled weights. Memory: one block's activations for all tokens, plus the model's mmap.
public final class AWQCalibrator {
    public let model: LanguageModel
    public let options: AWQOptions
    /// Target type per tensor name (the quantize plan).
    let types: [String: GGMLType]
    let groups: [AWQGroup]
    let session: InferenceSession
    let runner: SubBlockRunner
    let quantizer: PseudoQuantizer

    /// - Parameters:
    ///   - targetTypes: the type each tensor is written as (`TensorPlan.targetType` by name);
    ///     tensors absent here are scored as f32.
    ///   - sequenceLength: tokens per calibration block.
    /// - Throws: `AWQError(.unsupportedArchitecture)` for architectures without AWQ groups,
    ///   `AWQError(.quantizedInput)` when a block matrix is already quantized.
    public init(model: LanguageModel, targetTypes: [String: GGMLType], sequenceLength: Int, options: AWQOptions) throws(AWQError) {
        try Self.checkSupported(model.file)
        self.model = model
        self.options = options
        types = targetTypes
        groups = AWQGroup.groups(for: model.config)
        let perPass = max(1, options.rowsPerPass / max(1, sequenceLength))
        session = InferenceSession(model: model, contextLength: sequenceLength, sequences: perPass, threads: options.threads)
        runner = SubBlockRunner(session: session)
        quantizer = PseudoQuantizer(threads: options.threads)
    }

    /// Refuses files AWQ cannot calibrate: an architecture without scaling groups, or any
    /// quantized tensor (AWQ needs the float weights).
    /// - Throws: `AWQError` naming the file and the architecture or tensor.
    public static func checkSupported(_ file: GGUFFile) throws(AWQError) {
        let arch = file.architecture ?? "(none)"
        guard AWQGroup.architectures.contains(arch) else {
            throw AWQError(.unsupportedArchitecture, "\(file.path): architecture '\(arch)' has no AWQ scaling groups; "
                           + "supported: \(AWQGroup.architectures.joined(separator: ", "))")
        }
        if let t = file.tensors.first(where: { $0.name.hasSuffix(".ffn_gate_inp.weight") }),
           !ArchitectureSpec.all.contains(where: { $0.arch == arch && $0.converter.experts != nil && !$0.awqGroups.isEmpty }) {
            throw AWQError(.unsupportedArchitecture, "\(file.path): tensor '\(t.name)' routes to experts; "
                           + "AWQ has no scaling groups for the mixture-of-experts blocks of '\(arch)'")
        }
        if let t = file.tensors.first(where: { $0.type.isQuantized }) {
            throw AWQError(.quantizedInput, "\(file.path): tensor '\(t.name)' is already quantized (\(t.type.name)); "
                           + "AWQ needs an unquantized F32, F16 or BF16 model")
        }
    }

    /// Calibrates on `set` and returns the scales (and clips) of every block. `progress` is
    /// called after each block with (blocks done, block count, a summary of the block).
    /// - Throws: `AWQError(.engine)` when the forward pass fails.
    public func run(_ set: CalibrationSet, calibrationFile: String,
                    progress: ((Int, Int, String) -> Void)? = nil) throws(AWQError) -> AWQResult {
        let c = model.config
        guard set.sequenceLength == session.contextLength else {
            throw AWQError(.invalid, "calibration blocks of \(set.sequenceLength) tokens given to a calibrator set up for "
                           + "\(session.contextLength)")
        }
        // Blocks are independent sequences: put the scored ones (evenly spread over the text, not
        // just its first lines) in front; the activation statistics use every block anyway.
        let order = Self.blockOrder(set.blockCount, scored: searchBlocks(set.blockCount))
        var tokens: [Int32] = []
        tokens.reserveCapacity(set.tokens.count)
        for b in order { tokens += set.block(b) }
        var hidden: [Float]
        do { hidden = try session.embed(tokens) } catch { throw AWQError(.engine, error.description) }
        var layers: [AWQLayerResult] = []
        // One set of capture buffers and two hidden-state buffers serve every block.
        var capture = LayerCapture()
        var next: [Float] = []
        for il in 0..<c.blockCount {
            try captureLayer(il, hidden: hidden, sequenceLength: set.sequenceLength, into: &capture, next: &next)
            var result = try searchScales(il, capture: capture, sequenceLength: set.sequenceLength)
            result.inputMeanSquares = try meanSquares(il, capture)
            if options.clip { try searchClips(il, capture: capture, result: &result) }
            layers.append(result)
            swap(&hidden, &next)
            progress?(il + 1, c.blockCount, Self.summary(il, result))
        }
        var result = AWQResult(layers: layers, calibrationFile: calibrationFile, samples: set.lineCount,
                               sequenceLength: set.sequenceLength, grid: options.grid, clip: options.clip)
        result.layout = AWQTensorLayout(config: c)
        return result
    }

    /// The per-column mean x² of each captured input of block `il` (all calibration tokens,
    /// float model), keyed as `AWQLayerResult.inputMeanSquares`.
    /// - Throws: `AWQError(.engine)` when an input was not captured as whole rows.
    func meanSquares(_ il: Int, _ capture: LayerCapture) throws(AWQError) -> [LinearRole: [Float]] {
        let inputs: [(LinearRole, [Float])] = [(.attnQ, capture.attentionInput), (.attnOutput, capture.outputInput),
                                               (.ffnGate, capture.feedForwardInput), (.ffnDown, capture.downInput)]
        var out: [LinearRole: [Float]] = [:]
        for (role, x) in inputs {
            // An MoE block's expert down inputs are not captured.
            if x.isEmpty, role == .ffnDown, model.layers[il].experts != nil { continue }
            let columns = model.layers[il].linear(role).matrix.columns
            guard columns > 0, !x.isEmpty, x.count % columns == 0 else {
                throw AWQError(.engine, "the input of '\(role.weightName(layer: il))' was captured as \(x.count) values, "
                               + "not whole rows of \(columns)")
            }
            out[role] = ScaleMath.channelMeanSquare(x, columns: columns, threads: options.threads)
        }
        return out
    }

    /// `scored` evenly spaced block indices out of `blocks`, then the others, in order.
    static func blockOrder(_ blocks: Int, scored: Int) -> [Int] {
        let picked = (0..<scored).map { $0 * blocks / max(1, scored) }
        let rest = Set(picked)
        return picked + (0..<blocks).filter { !rest.contains($0) }
    }

    static func summary(_ il: Int, _ r: AWQLayerResult) -> String {
        var parts: [String] = []
        for g in AWQGroup.allCases {
            guard let loss = r.loss[g], let base = r.baseLoss[g] else { continue }
            let name: String
            switch g {
            case .attention: name = "qkv"
            case .valueOutput: name = "o"
            case .feedForward: name = "gate/up"
            case .down: name = "down"
            }
            let gain = base > 0 ? 100 * (base - loss) / base : 0
            // (`index(forKey:)`: a dense block stores "no ratio" as a present nil, which `== nil`
            // on the double optional would not tell apart from an absent key.)
            if g == .down, r.ratios.index(forKey: g) == nil {
                // Routed experts: scaled experts instead of one ratio.
                parts.append("down experts=\(r.expertDownScales.count) \(String(format: "-%.1f%%", gain))")
                continue
            }
            let ratio = (r.ratios[g] ?? nil).map { String(format: "%.2f", $0) } ?? "none"
            parts.append("\(name) r=\(ratio) \(String(format: "-%.1f%%", gain))")
        }
        return "blk.\(il): " + parts.joined(separator: ", ")
    }

    /// The f32 weights of a linear of block `il` (`rows × columns`).
    func weights(_ il: Int, _ role: LinearRole) -> [Float] {
        let m = model.layers[il].linear(role).matrix
        var out = [Float](repeating: 0, count: m.rows * m.columns)
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<m.rows { m.dequantize(row: r, k0: 0, count: m.columns, into: o.baseAddress! + r * m.columns) }
        }
        return out
    }

    /// The type of the tensor holding a linear (Phi-3's q/k/v and gate/up: the fused tensor's).
    func type(_ il: Int, _ role: LinearRole) -> GGMLType {
        types[model.layers[il].linear(role).name] ?? .f32
    }
}
