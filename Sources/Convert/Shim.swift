import Foundation
import GGUF
import Quants

// TEMPORARY until the Quants kernels land (replaced by Quants.parallelFor / Quantizer).
func shimParallelFor(chunks: Int, threads: Int, _ body: (Int) -> Void) {
    if threads <= 1 || chunks <= 1 { for i in 0..<chunks { body(i) }; return }
    withoutActuallyEscaping(body) { b in
        nonisolated(unsafe) let f = b
        DispatchQueue.concurrentPerform(iterations: chunks) { f($0) }
    }
}

enum ShimQuant {
    static func quantize(_ type: GGMLType, _ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, rows: Int, rowLength: Int, threads: Int) {
        precondition(type == .q8_0)
        let blocks = rows * rowLength / 32
        for b in 0..<blocks {
            let x = src + b * 32
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(x[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            let o = dst + b * 34
            o.storeBytes(of: FP16.fromFloat(d), as: UInt16.self)
            for j in 0..<32 { o.storeBytes(of: Int8((x[j] * id).rounded()), toByteOffset: 2 + j, as: Int8.self) }
        }
    }
}
