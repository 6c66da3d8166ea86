import Foundation
import GGUF
import Inference
import Quants

extension SizeTargetPlanner {
    /// The forward passes of a size-target plan: one over the calibration text with the model as
    /// it is (next-token distributions, importances), then one per tensor class with that class's
    /// tensors replaced by a trial quantization (see `Quantization.planSizeTarget`).
    final class SensitivityProbe {
        let model: LanguageModel
        let session: InferenceSession
        let tokens: [Int32]
        let sequences: Int
        /// Mean x² per column of every matrix product's input, by tensor name.
        let importance: [String: [Float]]
        let layerCount: Int
        let groups: Int
        /// No `output.weight`: the token embedding is also the output matrix.
        let tiedOutput: Bool
        /// The unchanged model's log-probabilities, `tokens.count × vocabulary`.
        private let baseLogProbs: [Float]
        /// Hidden states entering the first block of each layer group, and after the last block.
        private var groupInputs: [[Float]]
        private var finalHidden: [Float]
        private let file: GGUFFile

        init(file: GGUFFile, textPath: String, options: SizeTargetOptions, threads: Int,
             say: (String) -> Void) throws(SwiftGGUFError) {
            self.file = file
            guard let text = try? String(contentsOfFile: textPath, encoding: .utf8) else {
                throw SwiftGGUFError(.invalidInput, "size target: cannot read the calibration text '\(textPath)' (missing or not UTF-8)")
            }
            let vocab = try wrapped { try GGUFVocabulary(file: file) }
            let all = vocab.tokenize(text, addSpecial: false, parseSpecial: false)
            guard all.count >= 16 else {
                throw SwiftGGUFError(.invalidInput, "size target: the calibration text '\(textPath)' has \(all.count) tokens; at least 16 are needed")
            }
            let length = min(options.sequenceLength, options.calibrationTokens, all.count)
            let count = max(1, min(options.calibrationTokens / length, all.count / length))
            var batch: [Int32] = []
            for s in 0..<count {
                let start = count == 1 ? 0 : s * (all.count - length) / (count - 1)
                batch += all[start..<(start + length)]
            }
            tokens = batch
            sequences = count
            let m = try wrapped { try LanguageModel(file: file) }
            guard vocab.count == m.vocabularySize else {
                throw SwiftGGUFError(.invalidInput, "\(file.path): the vocabulary has \(vocab.count) tokens but the model \(m.vocabularySize)")
            }
            model = m
            layerCount = m.config.blockCount
            groups = max(1, min(options.layerGroups, max(1, m.config.blockCount)))
            tiedOutput = m.output.name == m.tokenEmbedding.name
            let session = InferenceSession(model: m, contextLength: length, sequences: count, threads: threads)
            self.session = session
            say("calibration: \(count) sequence(s) of \(length) tokens from '\(textPath)'")

            // The unchanged pass, collecting mean x² per column.
            final class Sums { var sums: [String: [Double]] = [:]; var rows: [String: Int] = [:] }
            let acc = Sums()
            session.observer = { name, x, rows, columns in
                var s = acc.sums[name] ?? [Double](repeating: 0, count: columns)
                guard s.count == columns else { return }
                for r in 0..<rows {
                    let row = x.baseAddress! + r * columns
                    for c in 0..<columns { s[c] += Double(row[c]) * Double(row[c]) }
                }
                acc.sums[name] = s
                acc.rows[name, default: 0] += rows
            }
            var hidden = try wrapped { try session.embed(batch) }
            var inputs: [[Float]] = []
            let layerCount = m.config.blockCount, groups = self.groups
            for il in 0..<layerCount {
                if il * groups / layerCount != (il == 0 ? -1 : (il - 1) * groups / layerCount) { inputs.append(hidden) }
                try wrapped { try session.block(il, hidden: &hidden, sequences: count) }
            }
            groupInputs = inputs
            finalHidden = hidden
            let logits = try wrapped { try session.head(hidden) }
            session.observer = nil
            var imp: [String: [Float]] = [:]
            for (name, s) in acc.sums {
                let n = Double(max(1, acc.rows[name] ?? 1))
                imp[name] = s.map { Float($0 / n) }
            }
            importance = imp
            baseLogProbs = Self.logSoftmax(logits, vocabulary: m.vocabularySize)
        }

        /// Row-wise log-softmax.
        static func logSoftmax(_ logits: [Float], vocabulary nv: Int) -> [Float] {
            var out = logits
            let rows = logits.count / nv
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows {
                    let p = o.baseAddress! + r * nv
                    var mx = -Float.infinity
                    for i in 0..<nv where p[i] > mx { mx = p[i] }
                    var sum = 0.0
                    for i in 0..<nv { sum += Double(exp(p[i] - mx)) }
                    let lse = mx + Float(log(sum))
                    for i in 0..<nv { p[i] -= lse }
                }
            }
            return out
        }

        /// Mean KL(base ‖ trial) over the calibration tokens.
        func meanKLD(_ logits: [Float]) -> Double {
            let nv = model.vocabularySize
            let trial = Self.logSoftmax(logits, vocabulary: nv)
            let rows = trial.count / nv
            var total = 0.0
            baseLogProbs.withUnsafeBufferPointer { b in
                trial.withUnsafeBufferPointer { t in
                    for r in 0..<rows {
                        let pb = b.baseAddress! + r * nv, pt = t.baseAddress! + r * nv
                        var k = 0.0
                        for i in 0..<nv {
                            let lb = Double(pb[i])
                            k += exp(lb) * (lb - Double(pt[i]))
                        }
                        total += max(0, k)
                    }
                }
            }
            return total / Double(max(1, rows))
        }

        /// The whole tensor after quantization to `type` (with the writer's importances) and back.
        func trial(_ f: Free, _ type: GGMLType, importance: [Float]?) throws(SwiftGGUFError) -> [Float] {
            let info = f.info
            let ne0 = info.rowLength, rows = info.rowCount
            let values = try SizeTargetPlanner.rows(info, Array(0..<rows), file: file)
            guard let rowBytes = type.rowSize(ne0) else { return values }
            var q = [UInt8](repeating: 0, count: rows * rowBytes)
            var out = [Float](repeating: 0, count: rows * ne0)
            let imp = importance.flatMap { $0.count == ne0 ? $0 : nil }
            let threads = session.threads
            values.withUnsafeBufferPointer { src in
                q.withUnsafeMutableBytes { dst in
                    if let imp {
                        imp.withUnsafeBufferPointer { i in
                            Quantizer.quantize(type, src.baseAddress!, dst.baseAddress!, rows: rows, rowLength: ne0,
                                               importance: i.baseAddress, threads: threads)
                        }
                    } else {
                        Quantizer.quantize(type, src.baseAddress!, dst.baseAddress!, rows: rows, rowLength: ne0, threads: threads)
                    }
                    out.withUnsafeMutableBufferPointer { o in
                        Quantizer.dequantize(type, dst.baseAddress!, o.baseAddress!, count: rows * ne0)
                    }
                }
            }
            return out
        }

        /// The type whose effect is measured: the candidate nearest 4.5 bits per weight among those
        /// that change the tensor (non-zero measured error). A type that reproduces the tensor
        /// exactly (its values already on that grid, e.g. an input dequantized from it) would leave
        /// the model unchanged and its class without a sensitivity; any candidate when none changes it.
        static func probeIndex(_ f: Free) -> Int {
            let n = Double(max(1, f.info.elementCount))
            var best = 0, bestDistance = Double.infinity
            var any = 0, anyDistance = Double.infinity
            for (k, t) in f.types.enumerated() {
                let distance = abs(Double(t.byteCount(shape: f.plan.shape) ?? 0) * 8 / n - 4.5)
                if distance < anyDistance { anyDistance = distance; any = k }
                if k < f.errors.count, f.errors[k] > 0, distance < bestDistance { bestDistance = distance; best = k }
            }
            return bestDistance.isFinite ? best : any
        }

        /// KL-divergence per unit of error for every class that has tensors in `free`.
        func sensitivities(free: [Free], writerImportance: [String: [Float]],
                           say: (String) -> Void) throws(SwiftGGUFError) -> [String: Double] {
            var members: [String: [Int]] = [:]
            for (i, f) in free.enumerated() {
                if let c = f.sensitivityClass { members[c, default: []].append(i) }
            }
            var out: [String: Double] = [:]
            let classes = members.keys.sorted()
            for (n, c) in classes.enumerated() {
                let idx = members[c] ?? []
                var errorSum = 0.0
                for i in idx { errorSum += free[i].errors[Self.probeIndex(free[i])] }
                guard errorSum > 0 else { continue }
                let kld: Double
                if c == "token_embd" || c == "output" {
                    guard let i = idx.first else { continue }
                    let f = free[i]
                    let type = f.types[Self.probeIndex(f)]
                    let values = try trial(f, type, importance: writerImportance[f.plan.sourceName])
                    let table = LinearOverride(values: values, rows: f.info.rowCount, columns: f.info.rowLength, emulating: type)
                    if c == "output" {
                        kld = meanKLD(try wrapped { try session.head(finalHidden, output: table) })
                    } else {
                        var hidden = try wrapped { try session.embed(tokens, table: table) }
                        for il in 0..<layerCount { try wrapped { try session.block(il, hidden: &hidden, sequences: sequences) } }
                        kld = meanKLD(tiedOutput ? try wrapped { try session.head(hidden, output: table) }
                                                 : try wrapped { try session.head(hidden) })
                    }
                } else {
                    guard let at = c.lastIndex(of: "@"), let g = Int(c[c.index(after: at)...]), g < groupInputs.count else { continue }
                    let first = (0..<layerCount).first { $0 * groups / layerCount == g } ?? 0
                    var hidden = groupInputs[g]
                    var byLayer: [Int: Int] = [:]
                    for i in idx { if let l = SizeTargetPlanner.layerNumber(free[i].plan.name) { byLayer[l] = i } }
                    for il in first..<layerCount {
                        var overrides: [LinearRole: LinearOverride] = [:]
                        if let i = byLayer[il] {
                            let f = free[i]
                            let type = f.types[Self.probeIndex(f)]
                            let values = try trial(f, type, importance: writerImportance[f.plan.sourceName])
                            if let role = LinearRole.allCases.first(where: { $0.weightName(layer: il) == f.plan.name }) {
                                overrides[role] = LinearOverride(values: values, rows: f.info.rowCount, columns: f.info.rowLength,
                                                                 emulating: type)
                            }
                        }
                        try wrapped { try session.block(il, hidden: &hidden, sequences: sequences, overrides: overrides) }
                    }
                    kld = meanKLD(try wrapped { try session.head(hidden) })
                }
                out[c] = max(kld, 0) / errorSum
                say("sensitivity \(n + 1)/\(classes.count) \(c): mean KLD " + String(format: "%.6f", kld) + " at the probe types")
            }
            return out
        }
    }
}
