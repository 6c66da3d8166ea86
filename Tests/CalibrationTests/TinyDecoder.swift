import Foundation
import GGUF
import Quants
import Inference
import Calibration
import TestSupport

/// A random llama / qwen2 / qwen3 decoder written as an F32 GGUF file (no vocabulary), for the
/// calibration tests. `kvHeads == heads` gives the v → o group; `outlierChannel` multiplies
/// one channel of every attn_norm / ffn_norm weight, which gives the activations the outlier
/// AWQ exists for.
struct TinyDecoder {
    var arch = "llama"
    var vocab = 64, embd = 64, layers = 2, heads = 4, kvHeads = 4, ff = 96, context = 256
    var seed: UInt64 = 7
    var outlierChannel: Int?
    var outlierFactor: Float = 12
    var matrixType = GGMLType.f32

    var headDim: Int { embd / heads }

    func tensors() -> [(String, [Int], GGMLType, [Float])] {
        var g = SplitMix64(seed: seed)
        func gauss(_ n: Int, _ scale: Float, _ offset: Float = 0) -> [Float] { (0..<n).map { _ in offset + scale * g.nextGaussian() } }
        func norm() -> [Float] {
            var v = gauss(embd, 0.1, 1)
            if let c = outlierChannel { v[c] *= outlierFactor }
            return v
        }
        var out: [(String, [Int], GGMLType, [Float])] = []
        let kv = kvHeads * headDim
        let sd = 1 / Float(embd).squareRoot()
        out.append((TensorName.tokenEmbd.weight(), [embd, vocab], .f32, gauss(vocab * embd, 0.5)))
        for il in 0..<layers {
            out.append((TensorName.attnNorm.weight(il), [embd], .f32, norm()))
            out.append((TensorName.attnQ.weight(il), [embd, embd], matrixType, gauss(embd * embd, sd)))
            out.append((TensorName.attnK.weight(il), [embd, kv], matrixType, gauss(embd * kv, sd)))
            out.append((TensorName.attnV.weight(il), [embd, kv], matrixType, gauss(embd * kv, sd)))
            if arch == "qwen2" {
                out.append((TensorName.attnQ.bias(il), [embd], .f32, gauss(embd, 0.2)))
                out.append((TensorName.attnK.bias(il), [kv], .f32, gauss(kv, 0.2)))
                out.append((TensorName.attnV.bias(il), [kv], .f32, gauss(kv, 0.2)))
            }
            if arch == "qwen3" {
                out.append((TensorName.attnQNorm.weight(il), [headDim], .f32, gauss(headDim, 0.1, 1)))
                out.append((TensorName.attnKNorm.weight(il), [headDim], .f32, gauss(headDim, 0.1, 1)))
            }
            out.append((TensorName.attnOutput.weight(il), [embd, embd], matrixType, gauss(embd * embd, sd)))
            out.append((TensorName.ffnNorm.weight(il), [embd], .f32, norm()))
            out.append((TensorName.ffnGate.weight(il), [embd, ff], matrixType, gauss(embd * ff, sd)))
            out.append((TensorName.ffnUp.weight(il), [embd, ff], matrixType, gauss(embd * ff, sd)))
            out.append((TensorName.ffnDown.weight(il), [ff, embd], matrixType, gauss(ff * embd, 1 / Float(ff).squareRoot())))
        }
        out.append((TensorName.outputNorm.weight(), [embd], .f32, gauss(embd, 0.1, 1)))
        out.append((TensorName.output.weight(), [embd, vocab], .f32, gauss(vocab * embd, 0.3)))
        return out
    }

    var metadata: GGUFMetadata {
        var md = GGUFMetadata()
        md.set(GGUFKey.General.architecture, .string(arch))
        typealias K = GGUFKey.LLM
        md.set(K.contextLength(arch), .uint32(UInt32(context)))
        md.set(K.embeddingLength(arch), .uint32(UInt32(embd)))
        md.set(K.blockCount(arch), .uint32(UInt32(layers)))
        md.set(K.feedForwardLength(arch), .uint32(UInt32(ff)))
        md.set(K.headCount(arch), .uint32(UInt32(heads)))
        md.set(K.headCountKV(arch), .uint32(UInt32(kvHeads)))
        md.set(K.ropeFreqBase(arch), .float32(10000))
        md.set(K.layerNormRMSEpsilon(arch), .float32(1e-5))
        md.set(GGUFKey.General.fileType, .uint32(0))
        return md
    }

    func write(to path: String) throws {
        let ts = tensors()
        let w = try GGUFWriter(path: path, metadata: metadata, tensors: ts.map { GGUFTensorInfo(name: $0.0, shape: $0.1, type: $0.2) })
        for (_, shape, type, values) in ts {
            let rows = values.count / shape[0]
            var bytes = [UInt8](repeating: 0, count: type.rowSize(shape[0])! * rows)
            Quantizer.quantize(type, values, &bytes, rows: rows, rowLength: shape[0])
            try bytes.withUnsafeBytes { try w.writeTensor($0) }
        }
        try w.finish(replace: true)
    }

    /// Random token ids: `blocks` blocks of `length`.
    func tokens(blocks: Int, length: Int, seed: UInt64 = 11) -> [Int32] {
        var g = SplitMix64(seed: seed)
        return (0..<(blocks * length)).map { _ in Int32(g.next() % UInt64(vocab)) }
    }
}

/// The target types llama-quantize would give `file`'s tensors for `fileType`.
func planTypes(_ file: GGUFFile, _ fileType: FileType) throws -> [String: GGMLType] {
    let plan = try ModelQuantizer.plan(file, job: QuantizeJob(outputPath: "", options: QuantizeOptions(fileType: fileType)))
    var out: [String: GGMLType] = [:]
    for p in plan.plans { out[p.name] = p.targetType }
    return out
}

/// Writes `file` with `result` folded in, keeping the float types.
func fold(_ file: GGUFFile, _ result: AWQResult, to path: String) throws {
    var job = QuantizeJob(outputPath: path, options: QuantizeOptions(fileType: .allF32))
    job.transform = result.transform()
    job.extraMetadata = result.metadata
    job.replaceExisting = true
    _ = try ModelQuantizer.run(file, job: job)
}

/// Logits of `tokens` (one sequence) under the model at `path`.
func logits(_ path: String, _ tokens: [Int32]) throws -> [Float] {
    let model = try LanguageModel(path: path)
    let session = InferenceSession(model: model, contextLength: tokens.count, threads: 2)
    return try session.evaluate(tokens).array
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
