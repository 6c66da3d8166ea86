import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

/// Timings, run only on request:
/// `SWIFT_GGUF_BENCH=1 swift test -c release --scratch-path .build-quants --filter QuantBenchmarks`
/// (or tools/bench-quants.sh). Prints ns per element for the fast and reference kernels on the golden
/// "random" rows (1536 columns × 128 rows, the layout of tools' C harness).
@Suite("Quantizer benchmarks", .enabled(if: ProcessInfo.processInfo.environment["SWIFT_GGUF_BENCH"] != nil))
struct QuantBenchmarks {
    /// Best of `repeats` runs, in ns of this thread's CPU time (the machine is shared, so wall time
    /// would count other processes' turns).
    static func time(_ repeats: Int = 5, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = cpuNanoseconds()
            body()
            best = min(best, cpuNanoseconds() - t0)
        }
        return best
    }

    static func cpuNanoseconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
    }

    /// Wall time for the multi-threaded runs.
    static func wall(_ repeats: Int = 5, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0))
        }
        return best
    }

    @Test("ns per element, one thread and two")
    func kernels() {
        let n = 1536, rows = 128
        let x = GoldenInputs.rows("random", n: n, rows: rows)
        let imp = GoldenInputs.importance("random", n: n)!
        var out = [UInt8](repeating: 0, count: n * rows * 4)
        var y = [Float](repeating: 0, count: n * rows)
        let elems = Double(n * rows)
        print("type  path      fast ns/el  ref ns/el  fast MB/s  2-thread ns/el (wall)")
        for type in [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K, .q8_K, .f16, .bf16] {
            for weighted in [false, true] where !weighted || [.q4_0, .q4_1, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K].contains(type) {
                x.withUnsafeBufferPointer { xp in
                    imp.withUnsafeBufferPointer { ip in
                        out.withUnsafeMutableBytes { op in
                            let w = weighted ? ip.baseAddress : nil
                            func run(_ threads: Int, _ reference: Bool) -> Double {
                                let body = {
                                    Quantizer.quantize(type, xp.baseAddress!, op.baseAddress!, rows: rows, rowLength: n,
                                                       importance: w, threads: threads, reference: reference)
                                }
                                return (threads == 1 ? Self.time(5, body) : Self.wall(5, body)) / elems
                            }
                            let fast = run(1, false), ref = run(1, true), two = run(2, false)
                            print(String(format: "%-5@ %-9@ %10.2f %10.2f %10.0f %10.2f", type.name, weighted ? "imatrix" : "ref",
                                         fast, ref, 4000 / fast, two))
                        }
                    }
                }
            }
            if type != .f16 && type != .bf16 {
                let t = out.withUnsafeBytes { op in
                    y.withUnsafeMutableBufferPointer { yp in
                        Self.time { Quantizer.dequantize(type, op.baseAddress!, yp.baseAddress!, count: n * rows) }
                    }
                }
                print(String(format: "%-5@ dequant   %10.2f", type.name, t / elems))
            }
        }
    }

    @Test("SmolLM2-135M F32 → Q4_K_M kernel time (tensor types of the llama-quantize reference)")
    func smolLM2() throws {
        // A benchmark, not a golden test (SWIFT_GGUF_BENCH): it skips without its inputs.
        guard let json = TestPaths.sharedFile("reference/quantize/smollm2-Q4_K_M.json"),
              let imatrix = TestPaths.sharedFile("reference/imatrix/imatrix.dat") else { try skip("../shared is absent") }
        guard let path = TestPaths.modelDir("smollm2-f32.gguf")?.path else { try skip("model cache has no smollm2-f32.gguf") }
        let file = try GGUFFile(path: path)
        let imp = try ImportanceMatrix(path: imatrix.path).importances()
        var cpu: [GGMLType: Double] = [:], cpuW: [GGMLType: Double] = [:], count: [GGMLType: Int] = [:]
        var wall2 = 0.0
        for e in try SmolLM2Tests.expected(json) where e.type.isQuantized {
            guard let t = file.tensor(named: e.name) else { continue }
            let x = Array(file.data(t).bindMemory(to: Float.self))  // paged in before timing
            var out = [UInt8](repeating: 0, count: (e.type.rowSize(t.rowLength) ?? 0) * t.rowCount)
            let w = imp[e.name].flatMap { $0.count == t.rowLength ? $0 : nil }
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBytes { op in
                    func run(_ threads: Int, _ weights: [Float]?) {
                        if let weights {
                            weights.withUnsafeBufferPointer {
                                Quantizer.quantize(e.type, xp.baseAddress!, op.baseAddress!, rows: t.rowCount,
                                                   rowLength: t.rowLength, importance: $0.baseAddress, threads: threads)
                            }
                        } else {
                            Quantizer.quantize(e.type, xp.baseAddress!, op.baseAddress!, rows: t.rowCount,
                                               rowLength: t.rowLength, threads: threads)
                        }
                    }
                    cpu[e.type, default: 0] += Self.time(1) { run(1, nil) }
                    cpuW[e.type, default: 0] += Self.time(1) { run(1, w) }
                    count[e.type, default: 0] += t.elementCount
                    wall2 += Self.wall(1) { run(2, nil) }
                }
            }
            file.release(t)
        }
        for (t, ns) in cpu.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let n = Double(count[t]!), w = cpuW[t]!
            print(String(format: "%-5@ %10d elements: %7.1f ms (%.2f ns/el); with the imatrix %7.1f ms (%.2f ns/el), one thread",
                         t.name, count[t]!, ns / 1e6, ns / n, w / 1e6, w / n))
        }
        print(String(format: "total CPU time, one thread: %.0f ms, with the imatrix %.0f ms; two threads (wall): %.0f ms",
                     cpu.values.reduce(0, +) / 1e6, cpuW.values.reduce(0, +) / 1e6, wall2 / 1e6))
    }
}
