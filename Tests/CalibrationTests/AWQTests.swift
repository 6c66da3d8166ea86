import Testing
import Foundation
import GGUF
import Quants
import Inference
import Architectures
@testable import Calibration
import TestSupport

private func floats(_ file: GGUFFile, _ name: String) -> [Float] {
    guard let t = file.tensor(named: name), t.type == .f32 else { return [] }
    return Array(file.data(t).bindMemory(to: Float.self))
}

@Suite("AWQ: folding, search, clip, calibration data")
struct AWQTests {
    @Test("folding arbitrary scales leaves the float model's logits unchanged", arguments: ["llama", "qwen2", "qwen3"])
    func foldKeepsLogits(arch: String) throws {
        let tmp = TemporaryDirectory("awq")
        let tiny = TinyDecoder(arch: arch, kvHeads: arch == "qwen3" ? 2 : 4)
        try tiny.write(to: tmp.file("in.gguf"))
        let file = try GGUFFile(path: tmp.file("in.gguf"))
        let model = try LanguageModel(file: file)
        let groups = AWQGroup.groups(for: model.config)
        #expect(groups.contains(.valueOutput) == (arch != "qwen3"))
        var g = SplitMix64(seed: 3)
        var layers: [AWQLayerResult] = []
        for il in 0..<tiny.layers {
            var l = AWQLayerResult()
            for group in groups {
                let width = model.layers[il].linear(group.inputRole).matrix.columns
                // Scales between 1/4 and 4.
                l.scales[group] = (0..<width).map { _ in Float(exp(Double(g.nextSignedUnit()) * log(4.0))) }
            }
            layers.append(l)
        }
        let result = AWQResult(layers: layers, calibrationFile: "calib.txt", samples: 3, sequenceLength: 16, grid: 20, clip: false)
        try fold(file, result, to: tmp.file("out.gguf"))

        let folded = try GGUFFile(path: tmp.file("out.gguf"))
        // The tensors did change: norms divided, matrices scaled, qwen2's v bias divided.
        for name in [TensorName.attnNorm.weight(1), TensorName.ffnNorm.weight(0), TensorName.attnQ.weight(0),
                     TensorName.ffnDown.weight(1), TensorName.ffnUp.weight(0)] {
            #expect(floats(file, name) != floats(folded, name), "\(name) unchanged")
        }
        if arch == "qwen2" { #expect(floats(file, TensorName.attnV.bias(0)) != floats(folded, TensorName.attnV.bias(0))) }
        #expect(floats(file, TensorName.outputNorm.weight()) == floats(folded, TensorName.outputNorm.weight()))

        let tokens = tiny.tokens(blocks: 1, length: 40)
        let a = try logits(tmp.file("in.gguf"), tokens), b = try logits(tmp.file("out.gguf"), tokens)
        let scale = a.reduce(0) { max($0, abs($1)) }
        let diff = maxAbsDifference(a, b)
        #expect(scale > 1)
        #expect(diff < 1e-3 * scale, "max |Δlogit| \(diff) for logits up to \(scale)")
    }

    @Test("the metadata records file, samples, seqlen, grid, clip and the group count")
    func metadata() throws {
        var l = AWQLayerResult()
        l.scales[.attention] = [1, 2]
        l.scales[.down] = [1]
        let r = AWQResult(layers: [l, AWQLayerResult()], calibrationFile: "data/wiki.calib.raw", samples: 100,
                          sequenceLength: 512, grid: 20, clip: true)
        #expect(r.metadata == [
            GGUFKeyValue(GGUFKey.Quantize.awqFile, .string("data/wiki.calib.raw")),
            GGUFKeyValue(GGUFKey.Quantize.awqSamples, .int32(100)),
            GGUFKeyValue(GGUFKey.Quantize.awqSeqLen, .int32(512)),
            GGUFKeyValue(GGUFKey.Quantize.awqGrid, .int32(20)),
            GGUFKeyValue(GGUFKey.Quantize.awqClip, .bool(true)),
            GGUFKeyValue(GGUFKey.Quantize.awqGroups, .int32(2)),
        ])
    }

    @Test("a fold whose scales do not match the tensor's shape is refused")
    func foldShapeMismatch() throws {
        var l = AWQLayerResult()
        l.scales[.attention] = [1, 2, 3]
        let r = AWQResult(layers: [l], calibrationFile: "c", samples: 1, sequenceLength: 1, grid: 1, clip: false)
        var values = [Float](repeating: 1, count: 8)
        let t = r.transform()
        #expect(throws: AWQError.self) {
            try values.withUnsafeMutableBufferPointer { _ = try t(TensorName.attnQ.weight(0), [4, 2], $0) }
        }
        #expect(try values.withUnsafeMutableBufferPointer { try t(TensorName.ffnUp.weight(3), [4, 2], $0) } == false)
    }

    @Test("the sub-modules add up to the block: x + attention(attn_norm x) + mlp(ffn_norm h)")
    func subModulesMatchBlock() throws {
        let tmp = TemporaryDirectory("awq")
        let tiny = TinyDecoder(arch: "qwen2", kvHeads: 2)
        try tiny.write(to: tmp.file("m.gguf"))
        let model = try LanguageModel(path: tmp.file("m.gguf"))
        let session = InferenceSession(model: model, contextLength: 32, sequences: 2, threads: 2)
        let x = try session.embed(tiny.tokens(blocks: 2, length: 32))
        var qIn: [Float] = [], gateIn: [Float] = []
        session.observer = { name, a, _, _ in
            if name == TensorName.attnQ.weight(1) { qIn += a }
            if name == TensorName.ffnGate.weight(1) { gateIn += a }
        }
        var out = x
        try session.block(1, hidden: &out, sequences: 2)
        session.observer = nil
        let runner = SubBlockRunner(session: session)
        let att = try runner.attention(1, input: qIn, sequences: 2)
        let mlp = try runner.feedForward(1, input: gateIn)
        let sum = (0..<x.count).map { x[$0] + att[$0] + mlp[$0] }
        #expect(maxAbsDifference(sum, out) < 1e-4)
        let down = try runner.projection(1, .ffnGate, input: gateIn)
        #expect(down.count == gateIn.count / tiny.embd * tiny.ff)
        #expect(throws: InferenceError.self) { _ = try runner.attention(1, input: [1, 2, 3]) }
    }

    @Test("scale candidates: normalised to max·min = 1; ratio 0 without duo scaling is the identity")
    func candidates() {
        let x: [Float] = [0.5, 2, 8, 0.1]
        let s = ScaleMath.candidate(xMean: x, wMean: nil, ratio: 0.5)
        #expect(abs(s.max()! * s.min()! - 1) < 1e-5)
        #expect(s[2] > s[1] && s[1] > s[0] && s[0] > s[3])
        #expect(ScaleMath.candidate(xMean: x, wMean: nil, ratio: 0) == [1, 1, 1, 1])
        let duo = ScaleMath.candidate(xMean: x, wMean: [1, 1, 1, 1], ratio: 0)
        #expect(duo.allSatisfy { abs($0 - 1) < 1e-6 })
        // w_mean: |w| / (max|w| of the 32-column group + 1e-6), averaged over rows.
        let w: [Float] = (0..<64).map { Float($0 % 32 + 1) * ($0 < 32 ? 1 : -2) }
        let m = ScaleMath.weightMeans([w], columns: 32)
        #expect(abs(m[31] - 1) < 1e-5 && abs(m[0] - 1 / 32) < 1e-5)
        #expect(ScaleMath.channelMeanAbs([1, -2, -3, 4], columns: 2) == [2, 3])
    }

    @Test("the search never does worse than plain quantization and scales an outlier channel up", arguments: [FileType.q4_0, .q4_K_S])
    func searchFindsOutlier(fileType: FileType) throws {
        let tmp = TemporaryDirectory("awq")
        let tiny = TinyDecoder(arch: "llama", embd: 256, heads: 4, kvHeads: 4, ff: 256, outlierChannel: 5)
        try tiny.write(to: tmp.file("m.gguf"))
        let file = try GGUFFile(path: tmp.file("m.gguf"))
        let types = try planTypes(file, fileType)
        #expect(types[TensorName.attnQ.weight(0)] == (fileType == .q4_0 ? .q4_0 : .q4_K))
        let model = try LanguageModel(file: file)
        var options = AWQOptions()
        options.threads = 2
        options.grid = 10
        let cal = try AWQCalibrator(model: model, targetTypes: types, sequenceLength: 32, options: options)
        let lines = stride(from: 0, to: 256, by: 16).map { Array(tiny.tokens(blocks: 1, length: 256)[$0..<($0 + 16)]) }
        let set = try CalibrationSet(lines: lines, samples: 128, sequenceLength: 32, source: "random")
        #expect(set.blockCount == 8)
        var reports: [String] = []
        let r = try cal.run(set, calibrationFile: "random") { _, _, s in reports.append(s) }
        #expect(reports.count == 2 && reports[0].hasPrefix("blk.0: qkv r="))
        for l in r.layers {
            for g in AWQGroup.groups(for: model.config) {
                let loss = try #require(l.loss[g]), base = try #require(l.baseLoss[g])
                #expect(loss <= base)
                #expect((l.scales[g] != nil) == (loss < base))
            }
        }
        let l0 = r.layers[0]
        let att = try #require(l0.scales[.attention])
        #expect(try #require(l0.loss[.attention]) < 0.9 * (l0.baseLoss[.attention] ?? 0))
        #expect(att[5] > att.sorted()[att.count / 2] * 2, "outlier channel scale \(att[5])")
        #expect(r.groupCount == r.layers.reduce(0) { $0 + $1.scales.count })

        // Folding the search result keeps the float function too.
        try fold(file, r, to: tmp.file("folded.gguf"))
        let tokens = tiny.tokens(blocks: 1, length: 24, seed: 99)
        let a = try logits(tmp.file("m.gguf"), tokens), b = try logits(tmp.file("folded.gguf"), tokens)
        #expect(maxAbsDifference(a, b) < 1e-3 * a.reduce(0) { max($0, abs($1)) })
    }

    @Test("clip search: never worse than no clipping, clips heavy-tailed groups")
    func clip() {
        var g = SplitMix64(seed: 21)
        let rows = 16, columns = 256
        var w = (0..<(rows * columns)).map { _ in g.nextGaussian() * 0.02 }
        for r in 0..<rows { w[r * columns + 7] = 0.4 }  // one large weight per row
        let x = (0..<(512 * columns)).map { _ in g.nextGaussian() }
        let grams = ClipSearch.grams(x, columns: columns, maxTokens: 512, threads: 2)
        for type in [GGMLType.q4_0, .q4_K] {
            let o = ClipSearch.search(w, rows: rows, columns: columns, type: type, grams: grams, quantizer: PseudoQuantizer(threads: 2))
            #expect(o.errorAfter <= o.errorBefore)
            #expect(o.clippedGroups > 0)
            #expect(o.limits.count == rows * columns / 32)
            var clipped = w
            clipped.withUnsafeMutableBufferPointer { ClipSearch.apply($0, rows: rows, columns: columns, limits: o.limits) }
            #expect(clipped.allSatisfy { abs($0) <= 0.4 })
        }
    }

    @Test("calibration with --awq-clip stores limits only for v, o, gate, up, down")
    func clipInCalibration() throws {
        let tmp = TemporaryDirectory("awq")
        let tiny = TinyDecoder(arch: "llama", embd: 64, heads: 4, kvHeads: 4, ff: 96, outlierChannel: 3)
        try tiny.write(to: tmp.file("m.gguf"))
        let file = try GGUFFile(path: tmp.file("m.gguf"))
        let model = try LanguageModel(file: file)
        var options = AWQOptions()
        options.clip = true
        options.grid = 4
        options.threads = 2
        let cal = try AWQCalibrator(model: model, targetTypes: try planTypes(file, .q4_0), sequenceLength: 16, options: options)
        let tokens = tiny.tokens(blocks: 4, length: 16)
        let set = try CalibrationSet(lines: (0..<4).map { Array(tokens[($0 * 16)..<($0 * 16 + 16)]) }, samples: 4,
                                     sequenceLength: 16, source: "t")
        #expect(set.blockCount == 4)
        let r = try cal.run(set, calibrationFile: "t")
        let roles = Set(r.layers.flatMap { $0.clips.keys })
        #expect(!roles.isEmpty)
        #expect(roles.isSubset(of: [.attnV, .attnOutput, .ffnGate, .ffnUp, .ffnDown]))
        #expect(r.metadata.contains(GGUFKeyValue(GGUFKey.Quantize.awqClip, .bool(true))))
    }

    @Test("scored blocks: 2048 tokens' worth by default, 0 for all, never more than there are")
    func scoredBlocks() {
        #expect(AWQCalibrator.searchBlocks(26, sequenceLength: 512, nil) == 4)
        #expect(AWQCalibrator.searchBlocks(26, sequenceLength: 4096, nil) == 1)
        #expect(AWQCalibrator.searchBlocks(3, sequenceLength: 512, nil) == 3)
        #expect(AWQCalibrator.searchBlocks(26, sequenceLength: 512, 0) == 26)
        #expect(AWQCalibrator.searchBlocks(26, sequenceLength: 512, 100) == 26)
        #expect(AWQCalibrator.searchBlocks(26, sequenceLength: 512, 7) == 7)
        #expect(AWQCalibrator.blockOrder(10, scored: 4) == [0, 2, 5, 7, 1, 3, 4, 6, 8, 9])
        #expect(AWQCalibrator.blockOrder(3, scored: 3) == [0, 1, 2])
    }

    @Test("calibration data: stripped lines, empty and over-long ones skipped, whole blocks, short text refused")
    func calibrationSet() throws {
        let lines: [[Int32]] = [[1, 2, 3], [], [4, 5, 6, 7, 8], [9, 10], [11]]
        let s = try CalibrationSet(lines: lines, samples: 10, sequenceLength: 4, source: "t")
        #expect(s.tokens == [1, 2, 3, 9])
        #expect(s.lineCount == 3 && s.streamLength == 6 && s.blockCount == 1)
        #expect(Array(s.block(0)) == [1, 2, 3, 9])
        let two = try CalibrationSet(lines: lines, samples: 2, sequenceLength: 2, source: "t")
        #expect(two.tokens == [9, 10])
        do {
            _ = try CalibrationSet(lines: lines, samples: 1, sequenceLength: 4, source: "calib.txt")
            Issue.record("a text of 3 tokens made a block of 4")
        } catch {
            #expect(error.kind == .calibrationText)
            #expect(error.description == "calib.txt: 1 usable line(s) give 3 tokens; one calibration block needs 4 tokens "
                    + "(--awq-seqlen 4); raise --awq-samples (now 1) or lower --awq-seqlen")
        }
        #expect(CalibrationSet.strip("  \t a b \r") == "a b")
        #expect(CalibrationSet.strip(" \u{A0}\u{1F}") == "")
    }

    @Test("an architecture without AWQ groups and a quantized model are refused")
    func refused() throws {
        let tmp = TemporaryDirectory("awq")
        var q = TinyDecoder()
        q.matrixType = .q8_0
        try q.write(to: tmp.file("q8.gguf"))
        let q8 = try GGUFFile(path: tmp.file("q8.gguf"))
        do {
            try AWQCalibrator.checkSupported(q8)
            Issue.record("a Q8_0 model was accepted")
        } catch {
            #expect(error.kind == .quantizedInput)
            #expect(error.description == "\(tmp.file("q8.gguf")): tensor 'blk.0.attn_q.weight' is already quantized (q8_0); "
                    + "AWQ needs an unquantized F32, F16 or BF16 model")
        }
        var md = GGUFMetadata()
        md.set(GGUFKey.General.architecture, .string("gpt2"))
        let w = try GGUFWriter(path: tmp.file("gpt2.gguf"), metadata: md, tensors: [GGUFTensorInfo(name: "x.weight", shape: [4], type: .f32)])
        try [Float](repeating: 0, count: 4).withUnsafeBytes { try w.writeTensor($0) }
        try w.finish(replace: true)
        let gpt2 = try GGUFFile(path: tmp.file("gpt2.gguf"))
        do {
            try AWQCalibrator.checkSupported(gpt2)
            Issue.record("gpt2 was accepted")
        } catch {
            #expect(error.kind == .unsupportedArchitecture)
            #expect(error.description.hasSuffix("architecture 'gpt2' has no AWQ scaling groups; supported: llama, qwen2, qwen3, phi3, gemma2, gemma3, qwen3moe"))
        }
    }
}
