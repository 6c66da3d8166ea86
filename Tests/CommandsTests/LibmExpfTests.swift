import Foundation
import Testing
@testable import Evaluation

/// Eight-lane `expf` (`LibmExpf.exp8`) against the C library's on a stride through every f32 bit
/// pattern (negative and positive, NaNs, infinities, subnormals), and the sum of token scoring
/// against the scalar loop it replaces. `SWIFT_GGUF_EXHAUSTIVE_EXPF=1` walks every pattern
/// (2^32, about a minute).
@Suite("token scoring: glibc's expf eight lanes at a time")
struct LibmExpfTests {
    @Test("the same bits as expf")
    func sameBits() {
        #expect(LibmExpf.matchesLibrary, "this machine's expf is not glibc's __expf_fma (the scalar path is used)")
        let exhaustive = ProcessInfo.processInfo.environment["SWIFT_GGUF_EXHAUSTIVE_EXPF"] == "1"
        let step: UInt64 = exhaustive ? 8 : 8 * 97
        var mismatches = 0, first: UInt32?
        var base: UInt64 = 0
        while base < (1 << 32) {
            var v = SIMD8<Float>()
            for l in 0..<8 { v[l] = Float(bitPattern: UInt32(truncatingIfNeeded: base &+ UInt64(l))) }
            let y = LibmExpf.exp8(v)
            for l in 0..<8 where y[l].bitPattern != expf(v[l]).bitPattern {
                mismatches += 1
                if first == nil { first = v[l].bitPattern }
            }
            base += step
        }
        #expect(mismatches == 0, "first mismatch at 0x\(String(first ?? 0, radix: 16))")
    }

    @Test("Σ expf(logit − max) equals the scalar loop's, row lengths 1…100 and 49,152")
    func sums() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 20_000
        }
        for n in Array(1...100) + [49_152] {
            var v = (0..<n).map { _ in next() }
            if n > 20 { v[7] = -.infinity; v[13] = v[0] - 95; v[17] = v[0] - 200 }
            let m = v.withUnsafeBufferPointer { TokenScoring.maxLogit($0) }
            var s = [0.0, 0.0, 0.0, 0.0]
            for (i, x) in v.enumerated() { s[i % 4] += Double(expf(x - m)) }
            let got = v.withUnsafeBufferPointer { TokenScoring.maxAndSumExp($0) }
            #expect(got.max == m)
            #expect(got.sum.bitPattern == ((s[0] + s[1]) + (s[2] + s[3])).bitPattern, "n \(n)")
        }
    }
}
