// libFuzzer target: model.safetensors.index.json. The input becomes the index of a folder that
// holds two valid shards (tensors "a" and "b"); a file with tensor "c" sits beside the folder.
// Whatever the index says, only files inside the folder may be opened: on success every file
// read must be one of the two shards and "c" must never appear.
import HFModel
#if canImport(Glibc)
import Glibc
#endif

let folder = scratchFolder + "/model"
let shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]

func safetensorsBytes(_ name: String) -> [UInt8] {
    var header = Array("{\"\(name)\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}".utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
    return out + header + [0, 0, 128, 63, 0, 0, 0, 64]
}

let setUp: Void = {
    mkdir(folder, 0o700)
    writeFile(folder + "/" + shards[0], safetensorsBytes("a"))
    writeFile(folder + "/" + shards[1], safetensorsBytes("b"))
    writeFile(scratchFolder + "/outside.safetensors", safetensorsBytes("c"))
    atexit {
        for s in shards { unlink(folder + "/" + s) }
        unlink(folder + "/model.safetensors.index.json")
        unlink(scratchFolder + "/outside.safetensors")
        rmdir(folder)
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensorsIndex(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = setUp
    writeFile(folder + "/model.safetensors.index.json", UnsafeRawBufferPointer(start: data, count: size))
    do {
        let m = try SafetensorsModel(directory: folder)
        check(m.files.map(\.path) == shards.map { folder + "/" + $0 }, "unexpected files \(m.files.map(\.path))")
        check(m.tensors.map(\.name) == ["a", "b"], "unexpected tensors \(m.tensors.map(\.name))")
        for t in m.tensors { blackHole(m.rawData(t).reduce(0, &+)) }
    } catch {
        check(error.file.hasPrefix(folder), "error names a file outside the folder: \(error)")
        check(!error.description.contains("outside.safetensors") || error.message.contains("maps to"),
              "the file outside the folder was looked at: \(error)")
        _ = error.description
    }
    return 0
}
