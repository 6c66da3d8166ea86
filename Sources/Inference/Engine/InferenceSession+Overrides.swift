import GGUF
import Quants

extension InferenceSession {
    /// Embedding rows of `tokens` read from `table` instead of the model's `token_embd`
    /// (`vocabularySize × embeddingLength` values, e.g. the embedding after a trial
    /// quantization), with the model's embedding scale applied: `tokens.count × embeddingLength`.
    /// - Throws: `InferenceError(.usage)` for a token outside the table or a table of another shape.
    public func embed(_ tokens: [Int32], table: LinearOverride) throws(InferenceError) -> [Float] {
        let e = model.config.embeddingLength
        let m = table.matrix
        guard m.columns == e, m.rows == model.vocabularySize else {
            throw InferenceError(.usage, file: model.file.path, "embedding override is \(m.rows)×\(m.columns), expected "
                                 + "\(model.vocabularySize)×\(e)")
        }
        var out = [Float](repeating: 0, count: tokens.count * e)
        var bad: (Int, Int32)?
        out.withUnsafeMutableBufferPointer { b in
            for (i, t) in tokens.enumerated() {
                guard t >= 0, Int(t) < m.rows else { bad = (i, t); return }
                m.dequantize(row: Int(t), k0: 0, count: e, into: b.baseAddress! + i * e)
            }
            scaleEmbeddings(b.baseAddress!, rows: tokens.count)
        }
        if let (i, t) = bad {
            throw InferenceError(.usage, file: model.file.path, "token id \(t) at index \(i) is outside 0..<\(m.rows)")
        }
        return out
    }

    /// `head(_:rows:)` with `output` in place of the model's output matrix (or tied embedding):
    /// the final norm, then `output`, on every row of `hidden`: `rows × vocabularySize` logits.
    /// - Throws: `InferenceError(.usage)` for hidden states or an override of the wrong shape.
    public func head(_ hidden: [Float], output: LinearOverride) throws(InferenceError) -> [Float] {
        let c = model.config
        let e = c.embeddingLength
        let nv = model.vocabularySize
        guard !hidden.isEmpty, hidden.count % e == 0 else {
            throw InferenceError(.usage, file: model.file.path, "hidden states of \(hidden.count) values are not rows of \(e)")
        }
        guard output.matrix.columns == e, output.matrix.rows == nv else {
            throw InferenceError(.usage, file: model.file.path, "output override is \(output.matrix.rows)×\(output.matrix.columns), "
                                 + "expected \(nv)×\(e)")
        }
        let n = hidden.count / e
        acts.reserve(rows: n, config: c)
        let out = logits.reserve(n * nv)
        let normed = acts.normed.reserve(n * e)
        hidden.withUnsafeBufferPointer { h in
            for r in 0..<n {
                RowOps.rmsNorm(h.baseAddress! + r * e, model.outputNorm, normed + r * e, count: e, eps: c.rmsEpsilon)
            }
        }
        linear(model.output, normed, rows: n, into: out, override: output)
        softCapLogits(out, count: n * nv)
        return Array(UnsafeBufferPointer(start: out, count: n * nv))
    }
}
