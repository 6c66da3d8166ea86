import Foundation
import GGUF
import Testing
import TestSupport
@testable import Quants

/// Quantizes the real SmolLM2-135M F32 weights with the tensor types llama-quantize b4748 chose for
/// Q4_K_M and compares every tensor's SHA-256 with its output (../shared/reference/quantize), with
/// and without the reference importance matrix. Release builds check every tensor and print the
/// kernel time; debug builds (where the K-quant searches are ~300× slower) check the smallest Q5_0
/// and Q8_0 tensors unless `SWIFT_GGUF_FULL=1`.
@Suite("SmolLM2 tensors against llama-quantize")
struct SmolLM2Tests {
    struct Expected {
        let name: String
        let type: GGMLType
        let sha256: String
    }

    static func expected(_ json: URL) throws -> [Expected] {
        let data = try Data(contentsOf: json)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tensors = try #require(root["tensors"] as? [[String: Any]])
        return try tensors.map { t in
            let name = try #require(t["name"] as? String)
            let typeName = try #require(t["type"] as? String)
            let type = try #require(GGMLType(name: typeName))
            return Expected(name: name, type: type, sha256: try #require(t["sha256"] as? String))
        }
    }

    static func check(reference: String, imatrix: Bool) throws {
        let json = try Golden.require(shared: "reference/quantize/\(reference).json")
        let modelPath = try Golden.require(model: "smollm2-f32.gguf").path
        let importances = imatrix
            ? try ImportanceMatrix(path: try Golden.require(shared: "reference/imatrix/imatrix.dat").path).importances() : [:]
        let file = try GGUFFile(path: modelPath)
        var full = ProcessInfo.processInfo.environment["SWIFT_GGUF_FULL"] != nil
        #if !DEBUG
        full = true
        #endif
        var chosen = try expected(json).filter { $0.type.isQuantized }
        #expect(Set(chosen.map(\.type)) == [.q5_0, .q8_0, .q4_K, .q6_K])
        if !full {
            var smallest: [GGMLType: (Expected, Int)] = [:]
            for e in chosen where e.type == .q5_0 || e.type == .q8_0 {
                guard let t = file.tensor(named: e.name) else { continue }
                if smallest[e.type].map({ t.elementCount < $0.1 }) ?? true { smallest[e.type] = (e, t.elementCount) }
            }
            chosen = smallest.values.map(\.0).sorted { $0.name < $1.name }
        }
        var nanoseconds: UInt64 = 0
        for e in chosen {
            let t = try #require(file.tensor(named: e.name), "\(e.name) missing from the F32 file")
            try #require(t.type == .f32)
            let src = file.data(t).bindMemory(to: Float.self)
            let rowBytes = try #require(e.type.rowSize(t.rowLength))
            var out = [UInt8](repeating: 0, count: rowBytes * t.rowCount)
            let imp = importances[e.name].flatMap { $0.count == t.rowLength ? $0 : nil }
            let t0 = DispatchTime.now().uptimeNanoseconds
            out.withUnsafeMutableBytes { o in
                if let imp {
                    imp.withUnsafeBufferPointer { ip in
                        Quantizer.quantize(e.type, src.baseAddress!, o.baseAddress!, rows: t.rowCount, rowLength: t.rowLength,
                                           importance: ip.baseAddress, threads: 2)
                    }
                } else {
                    Quantizer.quantize(e.type, src.baseAddress!, o.baseAddress!, rows: t.rowCount, rowLength: t.rowLength, threads: 2)
                }
            }
            nanoseconds += DispatchTime.now().uptimeNanoseconds - t0
            #expect(SHA256.hex(out) == e.sha256, "\(e.name) (\(e.type), imatrix \(imp != nil)) differs from llama-quantize")
            file.release(t)
        }
        if full { print("\(reference): \(chosen.count) tensors quantized in \(Double(nanoseconds) / 1e6) ms (2 threads)") }
    }

    @Test("Q4_K_M tensors equal llama-quantize's", .golden)
    func q4KM() throws { try Self.check(reference: "smollm2-Q4_K_M", imatrix: false) }

    @Test("Q4_K_M tensors with the reference imatrix equal llama-quantize's", .golden)
    func q4KMImatrix() throws { try Self.check(reference: "smollm2-Q4_K_M-imatrix", imatrix: true) }
}
