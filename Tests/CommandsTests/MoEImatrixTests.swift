import Evaluation
import Foundation
import GGUF
import Quants
import Testing
import TestSupport
@testable import ToolSupport

@Suite("imatrix: expert products (llama-imatrix b10572's MUL_MAT_ID rules)")
struct MoEImatrixTests {
    @Test("per-expert sums and row counts; ncall from the largest count; unrouted experts stored as ncall")
    func expertEntry() throws {
        let c = ImportanceCollector()
        c.chunkTokens = 2
        // Three rows routed to expert 1 of 3 (slots token·2 + k): token 0 choice 1, token 1 choice 0,
        // token 2 choice 1. Fewer than 16 rows still count.
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        let slots: [Int32] = [1, 2, 5]
        x.withUnsafeBufferPointer { xb in
            slots.withUnsafeBufferPointer { sb in
                c.observeExperts("blk.0.ffn_up_exps.weight", expert: 1, experts: 3, xb, rows: 3, columns: 2, slots: sb, used: 2)
            }
        }
        let m = c.matrix(dataset: nil)
        let e = try #require(m.entries.first { $0.name == "blk.0.ffn_up_exps.weight" })
        #expect(e.callCount == 2)   // ⌈3 rows / 2 tokens per chunk⌉
        let a: Float = (35 / 3) * 2, b: Float = (56 / 3) * 2
        let expected: [Float] = [2, 2, a, b, 2, 2]
        #expect(e.values == expected)
    }

    /// gguf-imatrix on the f32 conversions of the tiny MoE models (byte-identical to b10572's),
    /// 4 chunks of 128 of wiki.calib.raw, against llama-imatrix b10572's GGUF files
    /// (Fixtures/reference-b10572/imatrix, default flash attention): every entry, the stacked expert
    /// tensors with one count per expert included, sums bit for bit. (Before, the GGUF output left
    /// the expert entries out.)
    @Test("gguf-imatrix writes llama-imatrix's per-expert entries (GGUF and .dat)", .golden,
          arguments: ["tiny-mixtral", "tiny-qwen3moe"])
    func expertsAgainstLlama(_ name: String) throws {
        let hf = try Golden.require(model: name)
        let calib = try Golden.require(shared: "data/wikitext-2-raw/wiki.calib.raw")
        let tmp = TemporaryDirectory("moe-imatrix")
        let f32 = tmp.file("f32.gguf"), out = tmp.file("imatrix.gguf")
        try #require(runCommand(ConvertCommand.run, [hf.path, "--outtype", "f32", "--outfile", f32, "-q"]).error == nil)
        let args = ["-m", f32, "-f", calib.path, "-c", "128", "--chunks", "4", "-t", "2", "-q"]
        let r = runCommand(ImatrixCommand.run, args + ["-o", out])
        try #require(r.error == nil, "\(String(describing: r.error))")
        let ours = try ImportanceStatistics(path: out)
        let ref = try ImportanceStatistics(path: TestPaths.fixtures
            .appendingPathComponent("reference-b10572/imatrix/\(name)-c128-chunks4.imatrix.gguf").path)
        #expect(ours.entries.map(\.name) == ref.entries.map(\.name))
        #expect(ours.entries.contains { $0.name.hasSuffix("_exps.weight") && $0.counts.count > 1 })
        #expect(ours.chunkCount == ref.chunkCount && ours.chunkSize == ref.chunkSize)
        for (x, y) in zip(ours.entries, ref.entries) {
            #expect(x.counts == y.counts, "\(x.name)")
            let same = x.sums.map(\.bitPattern) == y.sums.map(\.bitPattern)
            #expect(same, "\(x.name)")
        }
        // The legacy file of the same run keeps the expert entries (sums over counts, times ncall).
        let d = runCommand(ImatrixCommand.run, args + ["-o", tmp.file("imatrix.dat"), "--output-format", "dat"])
        try #require(d.error == nil, "\(String(describing: d.error))")
        let dat = try ImportanceMatrix(path: tmp.file("imatrix.dat"))
        #expect(dat.entries.map(\.name) == ours.legacy(chunkSize: 128, dataset: nil).entries.map(\.name))
        #expect(dat.entries.contains { $0.name.hasSuffix("_exps.weight") })
    }
}
