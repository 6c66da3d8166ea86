import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

/// One line of Fixtures/quants/quant-digests.tsv (llama.cpp b10572): a type, an importance kind and a
/// row length, with the digests of ggml's bytes and of ggml's dequantization of them for every row kind.
struct DigestLine: Sendable, CustomTestStringConvertible {
    let type: GGMLType
    let importance: String
    let n: Int
    let expected: [(kind: String, quant: String, dequant: String)]
    var testDescription: String { "\(type.name) \(importance) n=\(n)" }

    static let rows = 3

    /// The lines of every type that has a block family (`BlockFormats`); `all: true` gives every line.
    static func load(all: Bool = false) -> [DigestLine] {
        let url = TestPaths.fixtures.appendingPathComponent("quants/quant-digests.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, header.first == "# type" else { return [] }
        let kinds = Array(header.dropFirst(3))
        lines.removeFirst()
        return lines.compactMap { f in
            guard f.count == 3 + kinds.count, let t = GGMLType(name: f[0]), let n = Int(f[2]) else { return nil }
            let exp = zip(kinds, f.dropFirst(3)).map { k, v -> (String, String, String) in
                let p = v.split(separator: ":").map(String.init)
                return (k, p[0], p.count > 1 ? p[1] : "-")
            }
            guard all || BlockFormats.format(t) != nil else { return nil }
            return DigestLine(type: t, importance: f[1], n: n, expected: exp)
        }
    }
}

@Suite("Golden bytes from llama.cpp b10572")
struct GoldenQuantTests {
    static let lines = DigestLine.load(all: true)

    @Test("the digest fixture covers every type, importance kind and row length")
    func fixtureCoverage() {
        #expect(Self.lines.count == 285)
        let types = Set(Self.lines.map(\.type))
        #expect(types == [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q8_1, .q4_K, .q5_K, .q6_K, .q8_K, .f16, .bf16,
                          .q2_K, .q3_K, .iq4_NL, .iq4_XS, .mxfp4, .nvfp4, .tq1_0, .tq2_0, .q1_0, .q2_0,
                          .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S, .iq1_S, .iq1_M])
        #expect(Self.lines.allSatisfy { $0.expected.count == GoldenInputs.kinds.count })
        // Every quantized family the module registers is checked against ggml's bytes.
        for f in BlockFormats.all where f.type != .f32 {
            #expect(types.contains(f.type), "\(f.type.name) has a block family but no golden digests")
        }
    }

    @Test("fast quantizer and ggml dequantization match ggml byte for byte", arguments: DigestLine.load())
    func fast(_ line: DigestLine) { check(line, reference: false) }

    @Test("scalar reference quantizer matches ggml byte for byte", arguments: DigestLine.load())
    func reference(_ line: DigestLine) { check(line, reference: true) }

    func check(_ line: DigestLine, reference: Bool) {
        let imp = GoldenInputs.importance(line.importance, n: line.n)
        for (kind, quant, dequant) in line.expected {
            let x = GoldenInputs.rows(kind, n: line.n, rows: DigestLine.rows)
            let q = Q.quantize(line.type, x, rowLength: line.n, importance: imp, reference: reference)
            #expect(Q.digest(q) == quant, "\(line.type.name) \(line.importance) n=\(line.n) \(kind): quantized bytes differ")
            if dequant != "-" {
                let y = Q.dequantize(line.type, q, count: x.count)
                #expect(Q.digest(y) == dequant, "\(line.type.name) \(line.importance) n=\(line.n) \(kind): dequantized floats differ")
            }
        }
    }

    @Test("tiny cases reproduce ggml's bytes exactly")
    func tiny() throws {
        let url = TestPaths.fixtures.appendingPathComponent("quants/quant-tiny.tsv")
        let text = try String(contentsOf: url, encoding: .utf8)
        var count = 0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t").map(String.init)
            guard f.count == 6, let t = GGMLType(name: f[0]), let n = Int(f[2]), let rows = Int(f[4]) else {
                Issue.record("malformed line: \(line.prefix(60))")
                continue
            }
            let x = GoldenInputs.rows(f[3], n: n, rows: rows)
            let q = Q.quantize(t, x, rowLength: n, importance: GoldenInputs.importance(f[1], n: n))
            #expect(Q.hex(q) == f[5], "\(f[0]) \(f[1]) n=\(n) \(f[3])")
            count += 1
        }
        #expect(count == 20)
    }
}
