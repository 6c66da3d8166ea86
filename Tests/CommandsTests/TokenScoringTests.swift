import Testing
@testable import Evaluation

/// The vector maximum of a logit row is the scalar scan's (`reduce(first, Swift.max)`), whatever
/// the length, the position of the maximum and the NaNs in the row.
@Suite("token scoring: the row maximum")
struct TokenScoringTests {
    static func scalarMax(_ v: [Float]) -> Float { v.dropFirst().reduce(v[0]) { Swift.max($0, $1) } }

    @Test("random rows of every length 1…200 and a vocabulary-sized one")
    func maxima() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1000
        }
        for n in Array(1...200) + [49_152] {
            var v = (0..<n).map { _ in next() }
            for (i, label) in [(0, "first"), (n / 2, "middle"), (n - 1, "last")] {
                let saved = v[i]
                v[i] = 5000
                let got = v.withUnsafeBufferPointer { TokenScoring.maxLogit($0) }
                #expect(got == Self.scalarMax(v), "n \(n), maximum \(label)")
                v[i] = saved
            }
            // A NaN after the first element is passed over; a leading NaN is the result, as in the scan.
            if n > 1 {
                v[n - 1] = .nan
                #expect(v.withUnsafeBufferPointer { TokenScoring.maxLogit($0) } == Self.scalarMax(v))
                v[0] = .nan
                #expect(v.withUnsafeBufferPointer { TokenScoring.maxLogit($0) }.isNaN && Self.scalarMax(v).isNaN)
            }
        }
    }
}
