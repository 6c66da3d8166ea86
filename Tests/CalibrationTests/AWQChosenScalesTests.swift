import Testing
import Foundation
import GGUF
import Quants
import Inference
import Architectures
@testable import Calibration
import TestSupport

/// FNV-1a (64-bit) over the bit patterns of everything calibration chose: per block and group
/// (in `AWQGroup.allCases` order) the ratio and the scales, then the clip limits per linear (in
/// `LinearRole.allCases` order). Losses are left out: they are reports, not choices.
private func choiceDigest(_ r: AWQResult) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ v: UInt64) {
        for i in 0..<8 {
            h ^= (v >> (8 * UInt64(i))) & 0xff
            h = h &* 0x0000_0100_0000_01b3
        }
    }
    for l in r.layers {
        for g in AWQGroup.allCases {
            switch l.ratios[g] {
            case .none: mix(0xdead)
            case .some(.none): mix(0xbeef)
            case .some(.some(let ratio)): mix(UInt64(ratio.bitPattern))
            }
            if let s = l.scales[g] {
                mix(UInt64(s.count))
                for v in s { mix(UInt64(v.bitPattern)) }
            } else {
                mix(0xfeed)
            }
        }
        for role in LinearRole.allCases {
            guard let c = l.clips[role] else { continue }
            mix(UInt64(c.count))
            for v in c { mix(UInt64(v.bitPattern)) }
        }
    }
    return String(h, radix: 16)
}

/// Pins what the scale (and clip) search chooses on small random decoders, so that a change of
/// the search's implementation (batching, pruning, threading) that changes a chosen scale fails
/// here. The digests were recorded with the search as it was before the scoring was split into
/// chunks with early stopping (commit 737f46f, `swift test --filter AWQChosenScalesTests`, the
/// same digests with `rowsPerPass` 2048 and `length`). They pin the exact search (`screenRows` 0:
/// early stopping only, the exhaustive search's choices); the screened search (the default) may
/// choose another near-tie and is checked against the exhaustive search in `AWQScreenTests`.
@Suite("AWQ: the chosen scales and clips are pinned")
struct AWQChosenScalesTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var arch: String
        var embd: Int, heads: Int, kvHeads: Int, ff: Int
        var fileType: FileType
        var clip: Bool
        var length: Int
        var blocks: Int
        var digest: String
        var testDescription: String { "\(arch) \(fileType) clip=\(clip)" }
    }

    static let cases: [Case] = [
        Case(arch: "llama", embd: 256, heads: 4, kvHeads: 4, ff: 256, fileType: .q4_K_S, clip: false, length: 32, blocks: 8,
             digest: "2aaed7b197460f95"),
        Case(arch: "qwen3", embd: 64, heads: 4, kvHeads: 2, ff: 96, fileType: .q4_0, clip: true, length: 16, blocks: 6,
             digest: "f41a267951d76884"),
        Case(arch: "qwen2", embd: 256, heads: 4, kvHeads: 4, ff: 512, fileType: .q4_K_M, clip: true, length: 32, blocks: 6,
             digest: "d6393f7289817030"),
    ]

    @Test("the digest of the chosen ratios, scales and clips is unchanged", arguments: cases)
    func pinned(c: Case) throws {
        let tmp = TemporaryDirectory("awq-pin")
        let tiny = TinyDecoder(arch: c.arch, embd: c.embd, heads: c.heads, kvHeads: c.kvHeads, ff: c.ff, outlierChannel: 5)
        try tiny.write(to: tmp.file("m.gguf"))
        let file = try GGUFFile(path: tmp.file("m.gguf"))
        let model = try LanguageModel(file: file)
        let types = try planTypes(file, c.fileType)
        let tokens = tiny.tokens(blocks: c.blocks, length: c.length, seed: 5)
        let lines = (0..<c.blocks).map { Array(tokens[($0 * c.length)..<(($0 + 1) * c.length)]) }
        let set = try CalibrationSet(lines: lines, samples: 128, sequenceLength: c.length, source: "random")
        #expect(set.blockCount == c.blocks)
        // Every block scores (several sequences); the default scoring chunks (one chunk per
        // sequence for attention, one for the other modules here) and chunks of 16 rows.
        // (Before the early stopping, rowsPerPass = length gave these digests too.)
        for chunkRows in [AWQOptions().scoringChunkRows, 16] {
            var options = AWQOptions()
            options.threads = 2
            options.grid = 10
            options.clip = c.clip
            options.searchBlocks = 0
            options.scoringChunkRows = chunkRows
            options.screenRows = 0
            let cal = try AWQCalibrator(model: model, targetTypes: types, sequenceLength: c.length, options: options)
            let r = try cal.run(set, calibrationFile: "random")
            #expect(r.groupCount > 0)
            #expect(choiceDigest(r) == c.digest, "scoringChunkRows \(chunkRows)")
        }
    }
}
