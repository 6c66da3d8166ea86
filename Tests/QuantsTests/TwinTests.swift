import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

/// Random and adversarial rows for the fast-versus-reference comparisons.
enum TwinInputs {
    /// `rows` rows of `n` values: the golden kinds, plus rows mixing ±0, inf, NaN, huge and tiny values.
    static func rows(seed: UInt64, n: Int, rows: Int, special: Bool) -> [Float] {
        var g = SplitMix64(seed: seed)
        var x = [Float](repeating: 0, count: n * rows)
        let specials: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 3e38, -3e38, 1e-42, -1e-42, 65504, 1e-8, 0.5, -0.5]
        for r in 0..<rows {
            let style = Int(g.next() % 6)
            let scale = Float(1 << Int(g.next() % 12)) * 1e-3
            for i in 0..<n {
                let u = g.nextSignedUnit()
                var v: Float
                switch style {
                case 0: v = u * scale
                case 1: v = g.nextGaussian() * scale
                case 2: v = abs(u) * scale + scale  // all positive
                case 3: v = (Float(Int(g.next() % 33)) - 16) * 0.0625 * scale  // on a grid, with ties
                case 4: v = (i / 32) % 3 == 0 ? u * scale * 1000 : u * scale * 1e-3
                default: v = g.next() % 4 == 0 ? u * scale : 0
                }
                if special && g.next() % 23 == 0 { v = specials[Int(g.next() % UInt64(specials.count))] }
                x[r * n + i] = v
            }
        }
        return x
    }

    static func importance(seed: UInt64, n: Int) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            let u = g.nextSignedUnit()
            return g.next() % 7 == 0 ? 0 : (u + 1.2) * (u + 1.2) * 3
        }
    }
}

@Suite("Fast kernels against their scalar twins")
struct TwinTests {
    static let types: [GGMLType] = [.q8_0, .q8_1, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K, .q8_K]

    /// The first differing byte, for the failure message.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8], rowBytes: Int) -> String {
        guard let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset else { return "none" }
        return "row \(i / rowBytes), byte \(i % rowBytes): fast \(a[i]), reference \(b[i])"
    }

    @Test("fast and reference bytes agree on random and adversarial rows", arguments: types)
    func agree(_ type: GGMLType) throws {
        let lengths = type.blockSize == 256 ? [256, 768, 1536] : [32, 96, 256, 288, 576]
        for (k, n) in lengths.enumerated() {
            for special in [false, true] {
                let x = TwinInputs.rows(seed: UInt64(100 * k + (special ? 7 : 0)) &+ UInt64(type.rawValue), n: n, rows: 6, special: special)
                let rowBytes = try #require(type.rowSize(n))
                let fast = Q.quantize(type, x, rowLength: n)
                let ref = Q.quantize(type, x, rowLength: n, reference: true)
                let same = fast == ref
                #expect(same, "\(type.name) n=\(n) special=\(special): \(Self.firstDifference(fast, ref, rowBytes: rowBytes))")
                let imp = TwinInputs.importance(seed: UInt64(n) &+ 99, n: n)
                let fastW = Q.quantize(type, x, rowLength: n, importance: imp)
                let refW = Q.quantize(type, x, rowLength: n, importance: imp, reference: true)
                let sameW = fastW == refW
                #expect(sameW, "\(type.name) n=\(n) special=\(special) imatrix: \(Self.firstDifference(fastW, refW, rowBytes: rowBytes))")
            }
        }
    }

    @Test("the golden rows agree too, with every importance kind", arguments: types)
    func goldenRows(_ type: GGMLType) throws {
        let n = type.blockSize == 256 ? 512 : 288
        let rowBytes = try #require(type.rowSize(n))
        for kind in GoldenInputs.kinds {
            let x = GoldenInputs.rows(kind, n: n, rows: 3)
            for imp in ["none", "random", "sparse"] {
                let w = GoldenInputs.importance(imp, n: n)
                let fast = Q.quantize(type, x, rowLength: n, importance: w)
                let ref = Q.quantize(type, x, rowLength: n, importance: w, reference: true)
                let same = fast == ref
                #expect(same, "\(type.name) \(kind) \(imp): \(Self.firstDifference(fast, ref, rowBytes: rowBytes))")
            }
        }
    }

    @Test("the bytes do not depend on the thread count", arguments: [GGMLType.q8_0, .q5_0, .q4_K, .q6_K, .q4_1])
    func threads(_ type: GGMLType) {
        let n = type.blockSize == 256 ? 512 : 576
        let x = TwinInputs.rows(seed: 5, n: n, rows: 37, special: false)
        let imp = TwinInputs.importance(seed: 6, n: n)
        let one = Q.quantize(type, x, rowLength: n, threads: 1)
        #expect(Q.quantize(type, x, rowLength: n, threads: 2) == one)
        #expect(Q.quantize(type, x, rowLength: n, threads: 3) == one)
        let oneW = Q.quantize(type, x, rowLength: n, importance: imp, threads: 1)
        #expect(Q.quantize(type, x, rowLength: n, importance: imp, threads: 2) == oneW)
    }
}
