import Foundation
import GGUF
import TestSupport
@testable import Quants

/// The deterministic rows behind Fixtures/quants (see its README): the same SplitMix64 stream and
/// the same float expressions as the C harness that produced the digests with llama.cpp b4748.
enum GoldenInputs {
    /// Row kinds, in the column order of quant-digests.tsv.
    static let kinds = ["random", "outlier", "zeros", "const", "negconst", "denormal", "f16max", "beyondf16",
                        "alternating", "tiny", "single", "ramp", "scalezero", "grid", "positive", "negative"]

    /// `rows` rows of `n` values of the named kind.
    static func rows(_ kind: String, n: Int, rows: Int) -> [Float] {
        guard let k = kinds.firstIndex(of: kind) else { preconditionFailure("unknown kind \(kind)") }
        var g = SplitMix64(seed: 0x5EED &* 1_000_003 &+ UInt64(k) &* 7919 &+ UInt64(n))
        var out = [Float](repeating: 0, count: n * rows)
        for r in 0..<rows {
            let scale = Float(0.02) * Float(1 << (r % 4))
            for i in 0..<n {
                let u = g.nextSignedUnit()
                let v: Float
                switch kind {
                case "random":
                    let u2 = g.nextSignedUnit()
                    let u3 = g.nextSignedUnit()
                    v = (u + u2 + u3) * scale
                case "outlier": v = i == (r * 37 + 5) % n ? 40 + Float(r) : u * scale
                case "zeros": v = 0
                case "const": v = 0.3
                case "negconst": v = -1.75
                case "denormal": v = u * 1e-39
                case "f16max": v = u * 65504
                case "beyondf16": v = u * 3.0e6
                case "alternating": v = (i & 1 == 1 ? -1 : 1) * (0.5 + 0.25 * u)
                case "tiny": v = u * 1e-30
                case "single": v = i == n / 3 + r ? 0.7 : 0
                case "ramp": v = Float(i - n / 2) * 0.01 + Float(r) * 0.001
                case "scalezero": v = (i / 16) % 8 == 0 ? u * 100 : u * 1e-4
                case "grid": v = Float(Int(g.next() % 17) - 8) * 0.125
                case "positive": v = abs(u) * scale + 0.1
                case "negative": v = -abs(u) * scale - 0.1
                default: v = 0
                }
                out[r * n + i] = v
            }
        }
        return out
    }

    /// Importance kinds: "none", "random" ((u+1.5)², all positive), "sparse" (zeros in every third
    /// column and in every fifth 32-block).
    static func importance(_ kind: String, n: Int) -> [Float]? {
        let k: UInt64
        switch kind {
        case "random": k = 1
        case "sparse": k = 2
        default: return nil
        }
        var g = SplitMix64(seed: 0x1A7E1 &+ k &* 31 &+ UInt64(n))
        var w = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let u = g.nextSignedUnit() + 1.5
            var v = u * u
            if k == 2 && (i % 3 == 1 || (i / 32) % 5 == 2) { v = 0 }
            w[i] = v
        }
        return w
    }
}

/// Quantize/dequantize helpers over arrays for the tests.
enum Q {
    static func quantize(_ type: GGMLType, _ x: [Float], rowLength n: Int, importance: [Float]? = nil,
                         threads: Int = 1, reference: Bool = false) -> [UInt8] {
        let rows = x.count / n
        var out = [UInt8](repeating: 0xAA, count: rows * (type.rowSize(n) ?? 0))
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBytes { op in
                if let importance {
                    importance.withUnsafeBufferPointer { ip in
                        Quantizer.quantize(type, xp.baseAddress!, op.baseAddress!, rows: rows, rowLength: n,
                                           importance: ip.baseAddress, threads: threads, reference: reference)
                    }
                } else {
                    Quantizer.quantize(type, xp.baseAddress!, op.baseAddress!, rows: rows, rowLength: n,
                                       importance: nil, threads: threads, reference: reference)
                }
            }
        }
        return out
    }

    static func dequantize(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { b in
            y.withUnsafeMutableBufferPointer { Quantizer.dequantize(type, b.baseAddress!, $0.baseAddress!, count: count) }
        }
        return y
    }

    /// The first 12 hex digits of the SHA-256 of the bytes (the digest format of the fixtures).
    static func digest(_ bytes: UnsafeRawBufferPointer) -> String {
        var h = SHA256()
        h.update(bytes)
        return String(SHA256.hexString(h.finalize()).prefix(12))
    }

    static func digest(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { digest($0) } }
    static func digest(_ floats: [Float]) -> String { floats.withUnsafeBytes { digest($0) } }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
