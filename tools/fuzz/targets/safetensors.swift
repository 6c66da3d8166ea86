// libFuzzer target: the safetensors header. The input is a whole .safetensors file. A successful
// parse promises: names sorted and unique, byte ranges inside the data section and disjoint, and
// sizes that match shape × dtype width for known dtypes; every tensor byte is read.
import HFModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let h: SafetensorsFile.Header
    do {
        h = try SafetensorsFile.parseHeader(bytes, path: "fuzz.safetensors")
    } catch {
        check(error.file == "fuzz.safetensors", "error without the file name: \(error)")
        _ = error.description
        return 0
    }
    check(h.dataOffset >= 8 && h.dataOffset <= size, "data offset \(h.dataOffset) outside the input")
    var sum: UInt8 = 0
    var ranges: [Range<Int>] = []
    for (i, t) in h.tensors.enumerated() {
        if i > 0 {
            check(h.tensors[i - 1].name.utf8.lexicographicallyPrecedes(t.name.utf8), "tensors not sorted and unique")
        }
        let r = t.byteRange
        check(r.lowerBound >= h.dataOffset && r.upperBound <= size, "tensor '\(t.name)' escapes the data")
        if let w = SafetensorsDType.elementSizes[t.dtypeName] {
            check(r.count == t.shape.reduce(1, *) * w, "tensor '\(t.name)' size disagrees with its shape")
        }
        for k in r { sum &+= bytes[k] }
        if !r.isEmpty { ranges.append(r) }
    }
    ranges.sort { $0.lowerBound < $1.lowerBound }
    for (a, b) in zip(ranges, ranges.dropFirst()) { check(a.upperBound <= b.lowerBound, "tensor ranges overlap") }
    blackHole(sum)
    return 0
}
