// libFuzzer target: the GGUF reader. Parses the input as a whole GGUF file, then checks what
// a successful parse promises: every tensor's bytes lie inside the input (all of them are read,
// so AddressSanitizer sees any escape), offsets follow the padded running sizes, and the header
// re-encoded with GGUFEncoder parses back to the same encoding.
import GGUF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let parsed: GGUFParser.Result
    do {
        parsed = try GGUFParser.parse(bytes, file: "fuzz.gguf")
    } catch {
        // Errors must name the file. An offset may point past the end (where missing data would
        // start) but never before the start.
        check(error.file == "fuzz.gguf", "error without the file name: \(error)")
        if let at = error.offset { check(at >= 0, "negative error offset \(at)") }
        _ = error.description
        return 0
    }
    touchTensors(parsed, bytes)
    checkReencoding(parsed)
    return 0
}

/// Reads every byte of every tensor (the promise `GGUFFile.data` relies on).
func touchTensors(_ p: GGUFParser.Result, _ bytes: UnsafeRawBufferPointer) {
    var expected = 0
    var sum: UInt8 = 0
    for t in p.tensors {
        check(t.offset == expected, "tensor '\(t.name)' offset \(t.offset), expected \(expected)")
        let n = t.byteCount
        check(n == t.type.byteCount(shape: t.shape), "byteCount disagrees for '\(t.name)'")
        let start = p.dataOffset + t.offset
        check(start >= 0 && n >= 0 && start + n <= bytes.count, "tensor '\(t.name)' escapes the input")
        for i in start..<(start + n) { sum &+= bytes[i] }
        _ = t.rowSize; _ = t.rowCount; _ = t.elementCount; _ = t.ggmlDimensionCount
        expected = (t.offset + n + p.alignment - 1) / p.alignment * p.alignment
    }
    blackHole(sum)
}

/// Header → bytes → header must be a fixed point after one round (bools normalise to 0/1).
/// The re-encoded file gets zero-filled tensor data so that it parses as a whole.
func checkReencoding(_ p: GGUFParser.Result) {
    let first = encodeHeader(p)
    var file = first
    // Without tensors the reader needs no data section, and the padding to an alignment of up to
    // 2^31 would be a harness allocation, not the reader's (an OOM the fuzzer found this way).
    if !p.tensors.isEmpty {
        let dataStart = (file.count + p.alignment - 1) / p.alignment * p.alignment
        let dataSize = p.tensors.last.map { $0.offset + $0.byteCount } ?? 0
        file += [UInt8](repeating: 0, count: dataStart - file.count + dataSize)
    }
    let second: [UInt8] = file.withUnsafeBytes { b in
        do throws(GGUFError) {
            return encodeHeader(try GGUFParser.parse(b, file: "re.gguf"))
        } catch {
            fatalError("fuzz invariant: re-encoded header does not parse: \(error)")
        }
    }
    check(first == second, "re-encoded header is not stable")
    for kv in p.metadata {
        _ = kv.value.intValue; _ = kv.value.stringValue; _ = kv.value.type.description
        if case .array(let a) = kv.value { _ = a.integers; _ = a.count; _ = a.elementType }
    }
}

func encodeHeader(_ p: GGUFParser.Result) -> [UInt8] {
    var e = GGUFEncoder()
    e.append(contentsOf: GGUFLimits.magic)
    e.append(UInt32(3))
    e.append(UInt64(p.tensors.count))
    e.append(UInt64(p.metadata.count))
    for kv in p.metadata { e.append(key: kv.key, value: kv.value) }
    for t in p.tensors {
        e.append(string: t.name)
        e.append(UInt32(t.shape.count))
        for d in t.shape { e.append(UInt64(d)) }
        e.append(t.type.rawValue)
        e.append(UInt64(t.offset))
    }
    return e.bytes
}
