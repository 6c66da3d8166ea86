import Testing
@testable import Inference

@Suite("Flash attention kernel pieces")
struct FlashKernelPieceTests {
    static let scores = SIMD16<Float>(1.5, -2, 0, -0.0, 7, 3.25, -1e30, 1e30, 2, 2, -5, 0.125, 9, -9, 4, 1)

    @Test("the lane mask hides lanes before `from` and from `below` on, for every bound in and out of range")
    func mask() {
        for from in -20...20 {
            for below in -20...20 {
                let got = FlashAttentionKernel.mask(Self.scores, visibleFrom: from, below: below)
                for l in 0..<16 {
                    let expected = l >= from && l < below ? Self.scores[l] : -Float.infinity
                    #expect(got[l].bitPattern == expected.bitPattern, "from \(from), below \(below), lane \(l)")
                }
            }
        }
    }

    @Test("the largest lane equals the sequential scan")
    func maxLane() {
        var v = Self.scores
        for rotation in 0..<16 {
            var scan = -Float.infinity
            for l in 0..<16 { scan = scan > v[l] ? scan : v[l] }
            #expect(FlashAttentionKernel.maxLane(v) == scan, "rotation \(rotation)")
            var next = v
            for l in 0..<16 { next[l] = v[(l + 1) % 16] }
            v = next
        }
        #expect(FlashAttentionKernel.maxLane(SIMD16<Float>(repeating: -.infinity)) == -.infinity)
    }
}
