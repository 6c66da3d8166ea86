import Foundation
import GGUF
import IntDot
import Testing
import TestSupport
@testable import Quants

/// The integer dot-product kernel (LaneGEMM+Int8.swift, used where `IntDot.vnni`) against the float
/// kernel and the scalar twin, bit for bit, including the extreme quants.
@Suite("Kernels: integer dot products (vpdpbusd) give the float kernel's bits")
struct IntegerKernelTests {
    /// A small deterministic generator (the tests must not depend on the system's).
    struct Mix {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int8(extremes: Bool) -> Int32 {
            let r = next()
            if extremes && r % 3 == 0 { return r % 2 == 0 ? -128 : 127 }
            return Int32(Int8(truncatingIfNeeded: r >> 8))
        }
    }

    @Test("dpbusd is u8 × s8 summed in fours, with the extreme bytes")
    func dpbusdDefinition() {
        var g = Mix(s: 1)
        for round in 0..<200 {
            var acc = SIMD16<Int32>(), u = SIMD16<Int32>(), s = SIMD16<Int32>()
            var expected = SIMD16<Int32>()
            for i in 0..<16 {
                acc[i] = Int32(truncatingIfNeeded: g.next() >> 40) - (1 << 22)
                var sum = acc[i]
                var ub: UInt32 = 0, sb: UInt32 = 0
                for t in 0..<4 {
                    let x: UInt32 = round % 2 == 0 ? UInt32(g.next() & 0xFF) : (g.next() % 2 == 0 ? 255 : 0)
                    let y: Int32 = g.int8(extremes: round % 2 == 1)
                    sum &+= Int32(x) * y
                    ub |= x << (8 * UInt32(t))
                    sb |= UInt32(UInt8(truncatingIfNeeded: y)) << (8 * UInt32(t))
                }
                u[i] = Int32(bitPattern: ub)
                s[i] = Int32(bitPattern: sb)
                expected[i] = sum
            }
            #expect(IntDot.dpbusd(acc, u, s) == expected)
        }
    }

    /// Packs random integer weights (−128…127) and activations (−128…127, the extremes often) in the
    /// float kernel's layouts, runs both chains over `nb` blocks and compares the bits.
    @Test("one lane chain: integer and float kernels agree bit for bit (random and extreme quants)",
          arguments: [false, true])
    func laneChains(extremes: Bool) {
        let mr = LaneGEMM.mr, nr = LaneGEMM.nr
        let nb = 11, k = 32 * nb
        var g = Mix(s: extremes ? 7 : 8)
        // Float panel wq[lanePosition(kk)·32 + j] and packed activations aq[pos·12 + i].
        var panel = [Float](repeating: 0, count: k * nr)
        var acts = [Float](repeating: 0, count: k * mr)
        for p in 0..<(k * nr) { panel[p] = Float(g.int8(extremes: extremes)) }
        for p in 0..<(k * mr) { acts[p] = Float(g.int8(extremes: extremes)) }
        if extremes {
            // A block of all −128 against all −128 (the largest positive sum) and of 127 against −128.
            for t in 0..<4 { for j in 0..<nr { panel[t * nr + j] = -128; panel[(4 + t) * nr + j] = 127 } }
            for t in 0..<4 { for i in 0..<mr { acts[t * mr + i] = -128; acts[(4 + t) * mr + i] = -128 } }
        }
        var dd = [Float](repeating: 0, count: nb * mr * nr)
        for p in 0..<dd.count { dd[p] = Float(Int64(g.next() % 2001) - 1000) * 1e-7 * Float(1 + g.next() % 3) }
        var ip = [UInt8](repeating: 0, count: LaneGEMM.intPanelBytes(columns: k))
        var ia = [Int32](repeating: 0, count: LaneGEMM.intActivationCount(groups: 1, columns: k))
        ip.withUnsafeMutableBytes { out in
            panel.withUnsafeBufferPointer { LaneGEMM.packIntPanel($0.baseAddress!, columns: k, into: out.baseAddress!) }
        }
        ia.withUnsafeMutableBufferPointer { out in
            acts.withUnsafeBufferPointer { LaneGEMM.packIntActivations($0.baseAddress!, groups: 1, columns: k, into: out.baseAddress!) }
        }
        for lane in 0..<8 {
            for half in 0..<2 {
                var float = [Float](repeating: 0, count: 6 * nr), integer = float
                // Two ranges (0..<8, 8..<11) as the tile runs them: the second resumes the first.
                for (first, count) in [(0, 8), (8, nb - 8)] {
                    let d = dd.withUnsafeBufferPointer { $0.baseAddress! + first * mr * nr + 6 * half * nr }
                    acts.withUnsafeBufferPointer { a in
                        panel.withUnsafeBufferPointer { w in
                            LaneGEMM.laneChainsQ0(a.baseAddress! + 6 * half, d, w.baseAddress!, blocks: nb, first: first,
                                                  count: count, resume: first > 0, lane: lane, &float)
                        }
                    }
                    ia.withUnsafeBufferPointer { a in
                        ip.withUnsafeBytes { w in
                            LaneGEMM.laneChainsInt8(a.baseAddress! + 6 * half, a.baseAddress! + mr * (k / 4) + 6 * half, d,
                                                    w.baseAddress!, blocks: nb, first: first, count: count, resume: first > 0,
                                                    lane: lane, &integer)
                        }
                    }
                }
                #expect(float.map(\.bitPattern) == integer.map(\.bitPattern), "lane \(lane), rows \(6 * half)…")
            }
        }
    }

    @Test("integer activations packed straight from f32 rows equal the float quants packed, then converted",
          arguments: [(25, 192, false), (12, 64, true), (30, 1536, false), (7, 96, true)])
    func directActivations(_ m: Int, _ k: Int, _ sums: Bool) {
        let groups = (m + LaneGEMM.mr - 1) / LaneGEMM.mr
        let lda = k + 5
        var a = KernelMatMulTests.gaussian(m * lda, seed: UInt64(m * k))
        // A block quantizing to ±127 everywhere, an all-zero block, one of huge values.
        for i in 0..<32 { a[lda + i] = i % 2 == 0 ? 3 : -3; a[2 * lda + 32 + i] = 0; a[3 * lda + i] = -1e4 + Float(i) }
        let type: GGMLType = sums ? .q4_1 : .q4_0
        let bufCount = groups * LaneGEMM.mr * (k + k / 32 + k / 32)
        var floats = [Float](repeating: 0, count: bufCount), direct = [Float](repeating: .nan, count: bufCount)
        var viaFloats = [Int32](repeating: 0, count: LaneGEMM.intActivationCount(groups: groups, columns: k))
        var ints = [Int32](repeating: 7, count: viaFloats.count)
        a.withUnsafeBufferPointer { src in
            floats.withUnsafeMutableBufferPointer { f in
                LaneGEMM.packActivations(src.baseAddress!, lda: lda, rows: m, columns: k, weight: type, into: f.baseAddress!, threads: 2)
                viaFloats.withUnsafeMutableBufferPointer {
                    LaneGEMM.packIntActivations(f.baseAddress!, groups: groups, columns: k, into: $0.baseAddress!, threads: 2)
                }
            }
            direct.withUnsafeMutableBufferPointer { d in
                ints.withUnsafeMutableBufferPointer {
                    LaneGEMM.packIntActivationsDirect(src.baseAddress!, lda: lda, rows: m, columns: k, sums: sums,
                                                      scales: d.baseAddress!, into: $0.baseAddress!, threads: 2)
                }
            }
        }
        #expect(ints == viaFloats)
        // The scales (and sums) after the quants; the direct packing leaves the quants' place alone.
        let scalesFrom = groups * LaneGEMM.mr * k
        let scaleEnd = sums ? bufCount : scalesFrom + groups * LaneGEMM.mr * (k / 32)
        #expect(Array(direct[scalesFrom..<scaleEnd]).map(\.bitPattern) == Array(floats[scalesFrom..<scaleEnd]).map(\.bitPattern))
    }

    @Test("weights at their extreme quants (Q8_0 −128/127, nibbles 0/15) and large activations: equal to the scalar twin",
          arguments: [(GGMLType.q8_0, 37), (.q4_0, 37), (.q4_0, 48), (.q5_0, 37), (.q4_1, 37), (.q5_1, 37)])
    func extremeWeights(_ type: GGMLType, _ n: Int) {
        let m = 25, k = 192, ldc = n
        var g = Mix(s: 3)
        var a = KernelMatMulTests.gaussian(m * k, seed: 31)
        // Rows whose blocks quantize to ±127 everywhere (a constant magnitude per block).
        for i in 0..<k { a[2 * k + i] = i % 2 == 0 ? 3 : -3 }
        for i in 0..<k { a[5 * k + i] = -1e4 }
        var wq = LaneGEMMTests.weights(type, rows: n, columns: k, seed: 32)
        if type == .q8_0 {
            // Every quant of the first rows at the extremes.
            let rowBytes = type.rowSize(k)!
            for r in 0..<6 {
                for b in 0..<(k / 32) {
                    for j in 0..<32 {
                        let v: Int8 = (g.next() % 2 == 0) ? -128 : 127
                        wq[r * rowBytes + 34 * b + 2 + j] = UInt8(bitPattern: v)
                    }
                }
            }
        } else {
            // Every nibble at 0 or 15 (and the fifth bits set or not) in the first rows.
            let rowBytes = type.rowSize(k)!
            let ts = type.typeSize
            let headerBytes = ts - 16
            for r in 0..<6 {
                for b in 0..<(k / 32) {
                    for j in headerBytes..<ts {
                        wq[r * rowBytes + ts * b + j] = g.next() % 2 == 0 ? 0x00 : 0xFF
                    }
                }
            }
        }
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: n, columns: k, data: wb.baseAddress!)
            #expect(LaneGEMM.singleChain(w) == (type == .q4_0 && n == 48))
            var fast = [Float](repeating: .nan, count: m * ldc)
            var ref = fast
            LaneGEMM.linear(a, lda: k, rows: m, weights: w, into: &fast, ldc: ldc, threads: 2, workspace: LaneWorkspace())
            LaneGEMM.linearReference(a, lda: k, rows: m, weights: w, into: &ref, ldc: ldc)
            #expect(fast.map(\.bitPattern) == ref.map(\.bitPattern), "\(type)")
        }
    }

    @Test("reused activations: an integer product after a repacked-Q4_0 product on the same input is still exact")
    func reuseAcrossKernels() {
        let m = 13, k = 128
        let a = KernelMatMulTests.gaussian(m * k, seed: 41)
        let q4 = LaneGEMMTests.weights(.q4_0, rows: 48, columns: k, seed: 42)
        let q8 = LaneGEMMTests.weights(.q8_0, rows: 40, columns: k, seed: 43)
        let ws = LaneWorkspace()
        q4.withUnsafeBytes { b4 in
            q8.withUnsafeBytes { b8 in
                let w4 = WeightMatrix(type: .q4_0, rows: 48, columns: k, data: b4.baseAddress!)
                let w8 = WeightMatrix(type: .q8_0, rows: 40, columns: k, data: b8.baseAddress!)
                var c4 = [Float](repeating: 0, count: m * 48), c8 = [Float](repeating: 0, count: m * 40), ref = c8
                LaneGEMM.linear(a, lda: k, rows: m, weights: w4, into: &c4, ldc: 48, threads: 2, workspace: ws)
                LaneGEMM.linear(a, lda: k, rows: m, weights: w8, into: &c8, ldc: 40, threads: 2, workspace: ws,
                                reuseActivations: true)
                LaneGEMM.linearReference(a, lda: k, rows: m, weights: w8, into: &ref, ldc: 40)
                #expect(c8.map(\.bitPattern) == ref.map(\.bitPattern))
            }
        }
    }

    @Test("the direct integer packing equals the float panel then its integer copy",
          arguments: [GGMLType.q8_0, .q4_0, .q5_0, .q4_1, .q5_1])
    func directPacking(_ type: GGMLType) {
        let nr = LaneGEMM.nr, k = 352, rows = 45
        let wq = LaneGEMMTests.weights(type, rows: rows, columns: k, seed: 401)
        wq.withUnsafeBytes { wb in
            let w = WeightMatrix(type: type, rows: rows, columns: k, data: wb.baseAddress!)
            let pf = LaneGEMM.panelFloats(w), nb = k / 32
            for row0 in [0, 32] {
                var panel = [Float](repeating: .nan, count: pf), direct = [Float](repeating: .nan, count: pf)
                var scratch = [Float](repeating: 0, count: 2 * k + 256)
                var ip = [UInt8](repeating: 0, count: LaneGEMM.intPanelBytes(columns: k)), ipd = ip
                LaneGEMM.packPanel(w, row0: row0, panel: &panel, row: &scratch)
                ip.withUnsafeMutableBytes { out in
                    panel.withUnsafeBufferPointer { LaneGEMM.packIntPanel($0.baseAddress!, columns: k, into: out.baseAddress!) }
                }
                ipd.withUnsafeMutableBytes { LaneGEMM.packIntPanelDirect(w, row0: row0, panel: &direct, into: $0.baseAddress!, row: &scratch) }
                #expect(ip == ipd, "\(type) rows from \(row0): integer panel")
                let scales = (k * nr)..<(k * nr + (type == .q4_1 || type == .q5_1 ? 2 : 1) * nb * nr)
                #expect(panel[scales].map(\.bitPattern) == direct[scales].map(\.bitPattern), "\(type) rows from \(row0): scales")
            }
        }
    }
}
