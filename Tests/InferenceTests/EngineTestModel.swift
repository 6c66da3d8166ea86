import Foundation
import GGUF
import Quants
import TestSupport

/// A random llama / qwen2 / qwen3 decoder written as a GGUF file for the engine tests, and a
/// straightforward double-precision forward pass over the same (dequantized) weights.
struct TinyModel {
    var arch = "llama"
    var vocab = 48, embd = 64, layers = 2, heads = 4, kvHeads = 2, ff = 96, context = 128
    var eps: Float = 1e-5
    var ropeBase: Float = 10000
    var tied = false
    /// Type of the block matrices and of token_embd / output.
    var matrixType = GGMLType.f32
    var embeddingType = GGMLType.f32
    var seed: UInt64 = 1
    /// Extra metadata (overrides) and tensors to drop, for error tests.
    var extraMetadata: [(String, GGUFValue)] = []
    var dropTensors: Set<String> = []

    var headDim: Int { embd / heads }
    var biases: Bool { arch == "qwen2" }
    var qkNorm: Bool { arch == "qwen3" }

    /// Tensor name → (ggml shape, f32 values as stored after quantization round trip, type).
    func tensors() -> [(String, [Int], GGMLType, [Float])] {
        var g = SplitMix64(seed: seed)
        func gauss(_ n: Int, _ scale: Float, _ offset: Float = 0) -> [Float] { (0..<n).map { _ in offset + scale * g.nextGaussian() } }
        var out: [(String, [Int], GGMLType, [Float])] = []
        func add(_ name: String, _ shape: [Int], _ type: GGMLType, _ v: [Float]) { out.append((name, shape, type, v)) }
        let kv = kvHeads * headDim
        add(TensorName.tokenEmbd.weight(), [embd, vocab], embeddingType, gauss(vocab * embd, 0.5))
        for il in 0..<layers {
            add(TensorName.attnNorm.weight(il), [embd], .f32, gauss(embd, 0.1, 1))
            add(TensorName.attnQ.weight(il), [embd, embd], matrixType, gauss(embd * embd, 1 / Float(embd).squareRoot()))
            add(TensorName.attnK.weight(il), [embd, kv], matrixType, gauss(embd * kv, 1 / Float(embd).squareRoot()))
            add(TensorName.attnV.weight(il), [embd, kv], matrixType, gauss(embd * kv, 1 / Float(embd).squareRoot()))
            if biases {
                add(TensorName.attnQ.bias(il), [embd], .f32, gauss(embd, 0.2))
                add(TensorName.attnK.bias(il), [kv], .f32, gauss(kv, 0.2))
                add(TensorName.attnV.bias(il), [kv], .f32, gauss(kv, 0.2))
            }
            if qkNorm {
                add(TensorName.attnQNorm.weight(il), [headDim], .f32, gauss(headDim, 0.1, 1))
                add(TensorName.attnKNorm.weight(il), [headDim], .f32, gauss(headDim, 0.1, 1))
            }
            add(TensorName.attnOutput.weight(il), [embd, embd], matrixType, gauss(embd * embd, 1 / Float(embd).squareRoot()))
            add(TensorName.ffnNorm.weight(il), [embd], .f32, gauss(embd, 0.1, 1))
            add(TensorName.ffnGate.weight(il), [embd, ff], matrixType, gauss(embd * ff, 1 / Float(embd).squareRoot()))
            add(TensorName.ffnUp.weight(il), [embd, ff], matrixType, gauss(embd * ff, 1 / Float(embd).squareRoot()))
            add(TensorName.ffnDown.weight(il), [ff, embd], matrixType, gauss(ff * embd, 1 / Float(ff).squareRoot()))
        }
        add(TensorName.outputNorm.weight(), [embd], .f32, gauss(embd, 0.1, 1))
        if !tied { add(TensorName.output.weight(), [embd, vocab], embeddingType, gauss(vocab * embd, 0.3)) }
        return out.filter { !dropTensors.contains($0.0) }
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
        md.set(K.ropeFreqBase(arch), .float32(ropeBase))
        md.set(K.layerNormRMSEpsilon(arch), .float32(eps))
        for (k, v) in extraMetadata { md.set(k, v) }
        return md
    }

    /// Writes the GGUF file; returns the weights each tensor holds once stored (dequantized).
    @discardableResult
    func write(to path: String) throws -> [String: [Float]] {
        let ts = tensors()
        let infos = ts.map { GGUFTensorInfo(name: $0.0, shape: $0.1, type: $0.2) }
        let w = try GGUFWriter(path: path, metadata: metadata, tensors: infos)
        var stored: [String: [Float]] = [:]
        for (name, shape, type, values) in ts {
            let rowLen = shape[0], rows = values.count / rowLen
            var bytes = [UInt8](repeating: 0, count: type.rowSize(rowLen)! * rows)
            Quantizer.quantize(type, values, &bytes, rows: rows, rowLength: rowLen)
            var back = [Float](repeating: 0, count: values.count)
            Quantizer.dequantize(type, bytes, &back, count: values.count)
            stored[name] = back
            try bytes.withUnsafeBytes { try w.writeTensor($0) }
        }
        try w.finish(replace: true)
        return stored
    }

    /// Double-precision forward pass of one sequence from position 0 with the roundings llama.cpp's
    /// CPU backend applies (activations to the weights' dot type, K/V/Q/probabilities to f16).
    func referenceLogits(_ w: [String: [Float]], tokens: [Int32], trace: ((String, [Double]) -> Void)? = nil) -> [[Double]] {
        let n = tokens.count, hd = headDim, kvDim = kvHeads * hd
        let dot = ActivationRounding.dotType(for: matrixType)!
        let dotOut = ActivationRounding.dotType(for: embeddingType)!
        func f16(_ x: Double) -> Double { Double(Float(Float16(Float(x)))) }
        func round(_ x: [Double], _ t: GGMLType) -> [Double] {
            let f = x.map { Float($0) }
            var y = f
            ActivationRounding.roundTripReference(t, f, &y, count: f.count)
            return y.map(Double.init)
        }
        func matvec(_ name: String, _ x: [Double], rows: Int, _ t: GGMLType) -> [Double] {
            trace?(name, x)
            let m = w[name]!, xr = round(x, t), cols = x.count
            return (0..<rows).map { r in (0..<cols).reduce(0.0) { $0 + Double(m[r * cols + $1]) * xr[$1] } }
        }
        func norm(_ x: [Double], _ g: [Float]) -> [Double] {
            let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
            let s = 1 / (ms + Double(eps)).squareRoot()
            return x.indices.map { x[$0] * s * Double(g[$0]) }
        }
        func rope(_ v: inout [Double], _ pos: Int) {
            for i in 0..<(hd / 2) {
                let theta = Double(pos) * pow(Double(ropeBase), -2 * Double(i) / Double(hd))
                let (a, b) = arch == "llama" ? (2 * i, 2 * i + 1) : (i, i + hd / 2)
                let x0 = v[a], x1 = v[b]
                v[a] = x0 * cos(theta) - x1 * sin(theta)
                v[b] = x0 * sin(theta) + x1 * cos(theta)
            }
        }
        let emb = w[TensorName.tokenEmbd.weight()]!
        var x = tokens.map { t in (0..<embd).map { Double(emb[Int(t) * embd + $0]) } }
        for il in 0..<layers {
            var qs: [[Double]] = [], ks: [[Double]] = [], vs: [[Double]] = []
            for p in 0..<n {
                let h = norm(x[p], w[TensorName.attnNorm.weight(il)]!)
                var q = matvec(TensorName.attnQ.weight(il), h, rows: embd, dot)
                var k = matvec(TensorName.attnK.weight(il), h, rows: kvDim, dot)
                var v = matvec(TensorName.attnV.weight(il), h, rows: kvDim, dot)
                if biases {
                    for i in 0..<embd { q[i] += Double(w[TensorName.attnQ.bias(il)]![i]) }
                    for i in 0..<kvDim { k[i] += Double(w[TensorName.attnK.bias(il)]![i]); v[i] += Double(w[TensorName.attnV.bias(il)]![i]) }
                }
                for hh in 0..<heads {
                    var s = Array(q[(hh * hd)..<((hh + 1) * hd)])
                    if qkNorm { s = norm(s, w[TensorName.attnQNorm.weight(il)]!) }
                    rope(&s, p)
                    for d in 0..<hd { q[hh * hd + d] = f16(s[d]) }
                }
                for hh in 0..<kvHeads {
                    var s = Array(k[(hh * hd)..<((hh + 1) * hd)])
                    if qkNorm { s = norm(s, w[TensorName.attnKNorm.weight(il)]!) }
                    rope(&s, p)
                    for d in 0..<hd { k[hh * hd + d] = f16(s[d]); v[hh * hd + d] = f16(v[hh * hd + d]) }
                }
                qs.append(q); ks.append(k); vs.append(v)
            }
            for p in 0..<n {
                var att = [Double](repeating: 0, count: embd)
                for hh in 0..<heads {
                    let kh = hh / (heads / kvHeads)
                    var sc = (0...p).map { j in (0..<hd).reduce(0.0) { $0 + qs[p][hh * hd + $1] * ks[j][kh * hd + $1] } / Double(hd).squareRoot() }
                    let m = sc.max()!
                    sc = sc.map { exp($0 - m) }
                    let z = sc.reduce(0, +)
                    sc = sc.map { f16($0 / z) }
                    for d in 0..<hd { att[hh * hd + d] = (0...p).reduce(0.0) { $0 + sc[$1] * vs[$1][kh * hd + d] } }
                }
                let o = matvec(TensorName.attnOutput.weight(il), att, rows: embd, dot)
                for i in 0..<embd { x[p][i] += o[i] }
                let h = norm(x[p], w[TensorName.ffnNorm.weight(il)]!)
                let g = matvec(TensorName.ffnGate.weight(il), h, rows: ff, dot)
                let u = matvec(TensorName.ffnUp.weight(il), h, rows: ff, dot)
                let act = (0..<ff).map { g[$0] / (1 + exp(-g[$0])) * u[$0] }
                let dn = matvec(TensorName.ffnDown.weight(il), act, rows: embd, dot)
                for i in 0..<embd { x[p][i] += dn[i] }
            }
        }
        let outName = tied ? TensorName.tokenEmbd.weight() : TensorName.output.weight()
        return x.map { matvec(outName, norm($0, w[TensorName.outputNorm.weight()]!), rows: vocab, dotOut) }
    }
}
