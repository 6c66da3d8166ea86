import Testing
import Foundation
import TestSupport
import GGUF
@testable import Quants

/// Expert stacks (3-D tensors) are quantized expert by expert, each with its own slice of the
/// importance vector (`ne[0]` values per expert), like llama-quantize's per-expert loop.
@Suite("per-expert importance of 3-D tensors")
struct ExpertImportanceTests {
    @Test("each expert of a stack uses its own importance slice")
    func perExpert() throws {
        let tmp = TemporaryDirectory("experts")
        let input = tmp.file("moe.gguf"), output = tmp.file("out.gguf")
        let (cols, rows, experts) = (256, 6, 3)
        var md = GGUFMetadata()
        md.set(GGUFKey.General.architecture, .string("llama"))
        md.set(GGUFKey.LLM.blockCount("llama"), .uint32(1))
        md.set(GGUFKey.LLM.expertCount("llama"), .uint32(UInt32(experts)))
        let name = "blk.0.ffn_up_exps.weight"
        let w = try GGUFWriter(path: input, metadata: md, tensors: [GGUFTensorInfo(name: name, shape: [cols, rows, experts], type: .f32)])
        var g = SplitMix64(seed: 11)
        let values = (0..<(cols * rows * experts)).map { _ in g.nextGaussian() * 0.1 }
        try values.withUnsafeBytes { try w.writeTensor($0) }
        try w.finish(replace: true)
        let importance = (0..<(cols * experts)).map { i in Float(1 + (i * 7919) % 97) / 10 }

        var job = QuantizeJob(outputPath: output, options: QuantizeOptions(fileType: .q4_0))
        job.importance = [name: importance]
        job.threads = 2
        let summary = try ModelQuantizer.run(try GGUFFile(path: input), job: job)
        #expect(summary.plans.map(\.targetType) == [.q4_0])
        let out = try GGUFFile(path: output)
        let got = Array(out.data(try #require(out.tensor(named: name))))

        let rowBytes = GGMLType.q4_0.rowSize(cols)!
        var want = [UInt8](repeating: 0, count: rowBytes * rows * experts)
        var unweighted = want
        for e in 0..<experts {
            values.withUnsafeBufferPointer { v in importance.withUnsafeBufferPointer { imp in want.withUnsafeMutableBytes { d in
                Quantizer.quantize(.q4_0, v.baseAddress! + e * rows * cols, d.baseAddress! + e * rows * rowBytes,
                                   rows: rows, rowLength: cols, importance: imp.baseAddress! + e * cols, threads: 1)
            } } }
        }
        values.withUnsafeBufferPointer { v in unweighted.withUnsafeMutableBytes { d in
            Quantizer.quantize(.q4_0, v.baseAddress!, d.baseAddress!, rows: rows * experts, rowLength: cols, threads: 1)
        } }
        #expect(got == want)
        #expect(got != unweighted)
    }
}
