import Foundation
import GGUF

/// The weights of a model folder: every `model*.safetensors` file, checked against
/// `model.safetensors.index.json` when that exists.
///
/// File selection follows convert_hf_to_gguf.py b4748 (`get_model_part_names` and `get_tensors`):
/// all files whose names start with "model" and end with ".safetensors" are read, in sorted name
/// order, whether or not an index exists. The index is a cross-check, as in b4748: every tensor it
/// lists must be found in those files and every tensor in them must be listed (b4748: "Missing or
/// incomplete model files" / "Mismatch between weight map and model parts"). So a folder holding
/// both a consolidated `model.safetensors` and the shards it duplicates fails with a duplicate-tensor
/// error, as b4748 does when its writer sees the name twice. Folders with only `pytorch_model*.bin`
/// files are refused: this reader handles safetensors only.
public final class SafetensorsModel: Sendable {
    public let directory: String
    /// The files read, in order (full paths).
    public let files: [SafetensorsFile]
    /// The index file, when present.
    public let indexPath: String?
    /// Tensors in convert_hf_to_gguf order: files in sorted name order, names sorted within a file.
    public let tensors: [SafetensorsTensor]
    private let byName: [ExactKey: Int]
    private let byFile: [String: SafetensorsFile]

    /// Opens the weights of `directory`.
    /// - Throws: `.missingFile` when there is no safetensors file or an indexed shard is absent;
    ///   `.unsupported` for a PyTorch-only folder; `.invalid` for a shard name that leaves the folder
    ///   or an index/file mismatch; `.duplicate` for a tensor present in two files; header errors
    ///   from `SafetensorsFile`.
    public convenience init(directory: String) throws(HFModelError) {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw HFModelError(fileExists(directory) ? .io : .missingFile, file: directory, "cannot list the model folder")
        }
        let parts = names.filter { $0.utf8.starts(with: "model".utf8) && $0.utf8.reversed().starts(with: ".safetensors".utf8.reversed()) }
            .sorted(by: utf8Less)
        let indexName = HFModelFiles.safetensorsIndex
        let index = names.contains(indexName) ? HFModelFiles.path(directory, indexName) : nil
        var weightMap: [(tensor: String, shard: String)] = []
        if let index { weightMap = try SafetensorsModel.readIndex(index, names: Set(names.map(ExactKey.init)), directory: directory) }
        guard !parts.isEmpty else {
            if names.contains(where: { $0.utf8.starts(with: "pytorch_model".utf8) && $0.utf8.reversed().starts(with: ".bin".utf8.reversed()) }) {
                throw HFModelError(.unsupported, file: directory,
                                   "found pytorch_model*.bin but no model*.safetensors; only safetensors weights are read")
            }
            throw HFModelError(.missingFile, file: directory, "no model*.safetensors file in the folder")
        }
        var opened: [SafetensorsFile] = []
        for p in parts { opened.append(try SafetensorsFile(path: HFModelFiles.path(directory, p))) }
        try self.init(directory: directory, files: opened, indexPath: index, weightMap: weightMap)
    }

    /// Opens an explicit list of files, in the given order (no index check).
    public convenience init(files paths: [String]) throws(HFModelError) {
        var opened: [SafetensorsFile] = []
        for p in paths { opened.append(try SafetensorsFile(path: p)) }
        try self.init(directory: "", files: opened, indexPath: nil, weightMap: [])
    }

    private init(directory: String, files: [SafetensorsFile], indexPath: String?,
                 weightMap: [(tensor: String, shard: String)]) throws(HFModelError) {
        self.directory = directory
        self.files = files
        self.indexPath = indexPath
        var list: [SafetensorsTensor] = []
        var map: [ExactKey: Int] = [:]
        for f in files {
            for t in f.tensors {
                if let prior = map[ExactKey(t.name)] {
                    throw HFModelError(.duplicate, file: t.file,
                                       "tensor '\(t.name)' is also in \(list[prior].file)")
                }
                map[ExactKey(t.name)] = list.count
                list.append(t)
            }
        }
        tensors = list
        byName = map
        byFile = Dictionary(files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        if let indexPath { try checkIndex(indexPath, weightMap) }
    }

    /// Every tensor of the index must be in the files, and every file tensor in the index.
    private func checkIndex(_ indexPath: String, _ weightMap: [(tensor: String, shard: String)]) throws(HFModelError) {
        var listed = Set<ExactKey>()
        for (tensor, shard) in weightMap {
            listed.insert(ExactKey(tensor))
            guard byName[ExactKey(tensor)] != nil else {
                throw HFModelError(.notFound, file: indexPath,
                                   "tensor '\(tensor)' is mapped to '\(shard)', but no model*.safetensors file holds it")
            }
        }
        for t in tensors where !listed.contains(ExactKey(t.name)) {
            throw HFModelError(.invalid, file: t.file, "tensor '\(t.name)' is not listed in \(HFModelFiles.safetensorsIndex)")
        }
    }

    /// Reads `weight_map` and checks every shard name: a plain file name (no path separator, not
    /// "." or "..", not absolute) that exists in the folder.
    private static func readIndex(_ path: String, names: Set<ExactKey>,
                                  directory: String) throws(HFModelError) -> [(tensor: String, shard: String)] {
        let json = try HFJSONFile(path: path)
        guard let wm = json["weight_map"], let map = wm.object else {
            throw HFModelError(.invalid, file: path, "key 'weight_map' is \(json["weight_map"]?.typeDescription ?? "missing"), "
                               + "expected an object mapping tensor names to shard files")
        }
        if let dup = map.duplicateKeys.first {
            throw HFModelError(.duplicate, file: path, "tensor '\(dup)' appears twice in weight_map")
        }
        var out: [(tensor: String, shard: String)] = []
        for m in map.members {
            guard let shard = m.value.string else {
                throw HFModelError(.invalid, file: path, "tensor '\(m.key)' maps to \(m.value.typeDescription), expected a file name")
            }
            let bytes = Array(shard.utf8)
            guard !bytes.isEmpty, bytes != [0x2E], bytes != [0x2E, 0x2E],
                  !bytes.contains(where: { $0 == 0x2F || $0 == 0x5C || $0 == 0 }) else {
                throw HFModelError(.invalid, file: path,
                                   "tensor '\(m.key)' maps to '\(shard)', expected a file name inside the model folder")
            }
            guard names.contains(ExactKey(shard)) else {
                throw HFModelError(.missingFile, file: path,
                                   "shard '\(shard)' (for tensor '\(m.key)') does not exist in \(directory)")
            }
            out.append((m.key, shard))
        }
        return out
    }

    /// The tensor called `name`, or nil.
    public func tensor(named name: String) -> SafetensorsTensor? {
        byName[ExactKey(name)].map { tensors[$0] }
    }

    /// The element type of `t`.
    /// - Throws: `.unsupported` "tensor 'x' has dtype 'I64', expected F32, F16 or BF16".
    public func dtype(of t: SafetensorsTensor) throws(HFModelError) -> SafetensorsDType {
        guard let d = SafetensorsDType(rawValue: t.dtypeName) else {
            throw HFModelError(.unsupported, file: t.file,
                               "tensor '\(t.name)' has dtype '\(t.dtypeName)', expected F32, F16 or BF16")
        }
        return d
    }

    /// The bytes of `t` (little-endian elements, PyTorch row-major order). Valid while this model
    /// is alive.
    /// - Throws: the `dtype(of:)` error for dtypes other than F32, F16 and BF16.
    public func data(_ t: SafetensorsTensor) throws(HFModelError) -> UnsafeRawBufferPointer {
        _ = try dtype(of: t)
        return rawData(t)
    }

    /// The bytes of `t` whatever its dtype.
    public func rawData(_ t: SafetensorsTensor) -> UnsafeRawBufferPointer {
        guard let f = byFile[t.file], let b = f.mapping.slice(offset: t.byteRange.lowerBound, length: t.byteRange.count) else {
            preconditionFailure("tensor '\(t.name)' does not belong to this SafetensorsModel")
        }
        return b
    }

    /// Drops the resident pages of `t` (after it has been written out).
    public func release(_ t: SafetensorsTensor) {
        byFile[t.file]?.mapping.release(t.byteRange)
    }
}
