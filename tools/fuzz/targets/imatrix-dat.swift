// libFuzzer target: llama-imatrix's legacy .dat file. The input is a whole file, parsed by
// ImportanceMatrix(bytes:file:) and, through the scratch folder, ImportanceMatrix(path:) (the
// mapped file gguf-quantize --imatrix reads). A successful parse promises: at least one entry,
// unique UTF-8 names, finite values, a non-negative call count, and serialize → parse gives the
// same matrix. Errors must name the file. Built from Sources/Quants/Plan/{ImportanceMatrix,
// QuantizeError}.swift compiled into the target, over the GGUF module.
import Foundation
import GGUF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImatrixDat(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let m: ImportanceMatrix
    do {
        m = try ImportanceMatrix(bytes: bytes, file: "fuzz.dat")
    } catch {
        check(error.description.hasPrefix("fuzz.dat: "), "error without the file name: \(error)")
        if getenv("FUZZ_PRINT") != nil { print(error) }
        // The file path gives the same error.
        let path = scratchFolder + "/in.dat"
        writeFile(path, bytes)
        do {
            _ = try ImportanceMatrix(path: path)
            check(false, "the mapped file parsed, the bytes did not")
        } catch let e {
            check(e.description == error.description.replacingOccurrences(of: "fuzz.dat: ", with: path + ": "),
                  "mapped-file error differs: \(e) vs \(error)")
        }
        return 0
    }
    check(!m.entries.isEmpty, "no entries")
    var names = Set<String>()
    for e in m.entries {
        check(names.insert(e.name).inserted, "duplicate name \(e.name)")
        check(e.callCount >= 0 && !e.values.isEmpty && e.values.allSatisfy(\.isFinite), "entry \(e.name)")
    }
    if let c = m.chunkCount { check(c >= 0, "chunk count \(c)") }
    let again = m.serialized()
    check(again.count <= size || m.dataset != nil, "serialized form larger than the input without a lossy dataset")
    do {
        let m2 = try again.withUnsafeBytes { b throws(QuantizeError) in try ImportanceMatrix(bytes: b, file: "again.dat") }
        check(m2 == m, "serialize → parse changed the matrix")
    } catch {
        check(false, "the serialized matrix does not parse: \(error)")
    }
    blackHole(m.importances())
    return 0
}
