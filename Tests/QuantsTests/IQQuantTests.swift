import Foundation
import GGUF
import Testing
@testable import Quants

/// The grid-based IQ families beyond the golden digests: fast against reference on random and
/// adversarial rows, the importance-required types without importance, and error bounds.
@Suite("IQ grid families")
struct IQQuantTests {
    static let types: [GGMLType] = [.iq3_XXS, .iq2_XXS, .iq2_XS, .iq3_S, .iq2_S, .iq1_S, .iq1_M]

    @Test("fast and reference bytes agree, with and without importance, on adversarial rows too", arguments: types)
    func twins(_ type: GGMLType) throws {
        for (k, n) in [256, 768].enumerated() {
            for special in [false, true] {
                let x = TwinInputs.rows(seed: UInt64(31 * k + (special ? 3 : 0)) &+ UInt64(type.rawValue), n: n, rows: 4, special: special)
                let imp = TwinInputs.importance(seed: UInt64(n) &+ 7, n: n)
                for w in [nil, imp] {
                    let fast = Q.quantize(type, x, rowLength: n, importance: w)
                    let ref = Q.quantize(type, x, rowLength: n, importance: w, reference: true)
                    #expect(fast == ref, "\(type.name) n=\(n) special=\(special) imatrix=\(w != nil)")
                }
            }
        }
    }

    @Test("the bytes do not depend on the thread count", arguments: [GGMLType.iq3_XXS, .iq2_XXS])
    func threads(_ type: GGMLType) {
        let n = 256
        let x = TwinInputs.rows(seed: 11, n: n, rows: 12, special: false)
        let imp = TwinInputs.importance(seed: 12, n: n)
        let one = Q.quantize(type, x, rowLength: n, importance: imp, threads: 1)
        #expect(Q.quantize(type, x, rowLength: n, importance: imp, threads: 2) == one)
        #expect(Q.quantize(type, x, rowLength: n, importance: imp, threads: 3) == one)
    }

    @Test("llama.cpp's importance-required types are flagged and still quantize without importance")
    func requiredImportance() {
        #expect(Quantizer.requiresImportance(.iq2_XXS))
        #expect(Quantizer.requiresImportance(.iq2_XS))
        #expect(Quantizer.requiresImportance(.iq1_S))
        #expect(!Quantizer.requiresImportance(.iq3_XXS))
        #expect(!Quantizer.requiresImportance(.iq3_S))
        #expect(!Quantizer.requiresImportance(.iq2_S))
        #expect(!Quantizer.requiresImportance(.iq1_M))
        #expect(!Quantizer.requiresImportance(.q4_K))
        let n = 512
        let x = GoldenInputs.rows("random", n: n, rows: 2)
        for t in [GGMLType.iq2_XXS, .iq2_XS, .iq1_S] {
            let q = Q.quantize(t, x, rowLength: n)
            let y = Q.dequantize(t, q, count: x.count)
            #expect(y.allSatisfy { $0.isFinite })
            #expect(Self.relativeError(x, y) < 0.8, "\(t.name)")
        }
    }

    static func relativeError(_ x: [Float], _ y: [Float]) -> Double {
        var e = 0.0, s = 0.0
        for (a, b) in zip(x, y) {
            e += Double(a - b) * Double(a - b)
            s += Double(a) * Double(a)
        }
        return (e / s).squareRoot()
    }

    @Test("round-trip error on Gaussian-like rows stays near the format's size", arguments: types)
    func accuracy(_ type: GGMLType) {
        let n = 1024
        let x = GoldenInputs.rows("random", n: n, rows: 4)
        let imp = GoldenInputs.importance("random", n: n)
        let y = Q.dequantize(type, Q.quantize(type, x, rowLength: n, importance: imp), count: x.count)
        let bound: Double = type == .iq3_XXS || type == .iq3_S ? 0.25 : type == .iq1_S || type == .iq1_M ? 0.7 : 0.5
        #expect(Self.relativeError(x, y) < bound, "\(type.name): \(Self.relativeError(x, y))")
    }
}
