import Testing
@testable import Inference

@Suite("RMS norm of eight rows at once")
struct RMSNormRowsTests {
    @Test("eight chains side by side give each row's rmsNorm bits, in place too", arguments: [1, 7, 37, 64, 576])
    func sameBits(_ n: Int) {
        var s: UInt64 = UInt64(n)
        func next() -> Float {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            // Magnitudes from 1e-6 to 1e3: the double sums round at different places.
            let u = Float(s >> 40) / Float(1 << 24)
            let e = Float(Int(s >> 20) % 10) - 6
            return (u - 0.5) * Float.pow10(e)
        }
        let stride = n + 3
        let x = (0..<(8 * stride)).map { _ in next() }
        let w = (0..<n).map { _ in next() + 1 }
        var single = [Float](repeating: 0, count: 8 * stride), eight = single
        for l in 0..<8 { RowOps.rmsNorm(x.withUnsafeBufferPointer { $0.baseAddress! + l * stride }, w, &single[l * stride], count: n, eps: 1e-5) }
        x.withUnsafeBufferPointer { xb in
            eight.withUnsafeMutableBufferPointer { RowOps.rmsNorm8(xb.baseAddress!, stride: stride, w, $0.baseAddress!, count: n, eps: 1e-5) }
        }
        #expect(eight.map(\.bitPattern) == single.map(\.bitPattern))
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { RowOps.rmsNorm8($0.baseAddress!, stride: stride, w, $0.baseAddress!, count: n, eps: 1e-5) }
        for l in 0..<8 {
            #expect(inPlace[(l * stride)..<(l * stride + n)].map(\.bitPattern) == single[(l * stride)..<(l * stride + n)].map(\.bitPattern))
        }
    }
}

private extension Float {
    static func pow10(_ e: Float) -> Float {
        var r: Float = 1
        if e >= 0 { for _ in 0..<Int(e) { r *= 10 } } else { for _ in 0..<Int(-e) { r /= 10 } }
        return r
    }
}
