// Models split over several GGUF files, as llama.cpp's gguf-split writes them and its model loader
// reads them (b10572):
//
// - file names `PREFIX-00001-of-00003.gguf` ... (split number from 1, five digits at least);
// - the first file carries all the metadata of the model; every file (the first included) ends its
//   key list with `split.no` (UINT16, from 0), `split.tensors.count` (INT32, the tensors of the
//   whole model) and `split.count` (UINT16), in that order;
// - every file is a complete GGUF v3 file with its own tensor table, 32-byte alignment, tensor data
//   padded to 32 bytes (the last tensor too), shapes written with trailing 1s dropped (ggml_n_dims);
// - a merge writes the first file's keys with `split.count` set to 0 and moved to the end (so the
//   merged file is not taken for a split one), then every tensor in file order.

/// Split file names.
public enum GGUFSplitNaming {
    /// `PREFIX-00002-of-00004.gguf` for `index` 1 of `count` 4 (llama_split_path).
    public static func path(prefix: String, index: Int, count: Int) -> String {
        prefix + suffix(index: index, count: count)
    }

    /// The prefix of `path` when it ends in the suffix of split `index` of `count`, with at least one
    /// character before it (llama_split_prefix); nil otherwise.
    public static func prefix(of path: String, index: Int, count: Int) -> String? {
        let s = suffix(index: index, count: count)
        guard path.utf8.count > s.utf8.count, path.hasSuffix(s) else { return nil }
        return String(decoding: path.utf8.dropLast(s.utf8.count), as: UTF8.self)
    }

    /// `-00002-of-00004.gguf`.
    public static func suffix(index: Int, count: Int) -> String {
        "-" + zeroPadded(index + 1) + "-of-" + zeroPadded(count) + ".gguf"
    }

    public static func zeroPadded(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 5 || n < 0 ? s : String(repeating: "0", count: 5 - s.count) + s
    }
}

extension GGUFFile {
    /// Opens a model: a single GGUF file, or the first file of a split model together with the
    /// others (found next to it by name, as llama.cpp's loader does). A file whose `split.count`
    /// is 0 or 1 (or absent) is a single file.
    /// - Throws: `GGUFError` naming the file when a split file is missing, out of order, not the
    ///   first one, or when the tensor count does not match `split.tensors.count`.
    public static func openModel(path: String) throws(GGUFError) -> GGUFFile {
        try model(joining: GGUFFile(path: path))
    }

    /// `first` itself when it is not split, else the view of the whole split model (the other
    /// files are opened next to `first.path`). See `openModel(path:)`.
    public static func model(joining first: GGUFFile) throws(GGUFError) -> GGUFFile {
        let path = first.path
        guard let countValue = first.metadata[GGUFKey.Split.count] else { return first }
        guard let count = countValue.intValue, count >= 0, count <= Int(UInt16.max) else {
            throw GGUFError(.invalid, file: path, "key '\(GGUFKey.Split.count)' has an invalid value")
        }
        guard count > 1 else { return first }
        guard let no = first.metadata[GGUFKey.Split.no]?.intValue else {
            throw GGUFError(.invalid, file: path, "split model without key '\(GGUFKey.Split.no)'")
        }
        guard no == 0 else {
            let hint = GGUFSplitNaming.prefix(of: path, index: no, count: count)
                .map { ": open \(GGUFSplitNaming.path(prefix: $0, index: 0, count: count))" } ?? ""
            throw GGUFError(.invalid, file: path, "this is file \(no + 1) of a model split in \(count); a split model is opened by its first file\(hint)")
        }
        guard let prefix = GGUFSplitNaming.prefix(of: path, index: 0, count: count) else {
            throw GGUFError(.invalid, file: path,
                            "the model is split in \(count) files but the name does not end in '\(GGUFSplitNaming.suffix(index: 0, count: count))'")
        }
        var others: [GGUFFile] = []
        for i in 1..<count {
            let p = GGUFSplitNaming.path(prefix: prefix, index: i, count: count)
            let f = try GGUFFile(path: p)
            guard let n = f.metadata[GGUFKey.Split.no]?.intValue else {
                throw GGUFError(.invalid, file: p, "split file without key '\(GGUFKey.Split.no)'")
            }
            guard n == i else {
                throw GGUFError(.invalid, file: p, "split file has \(GGUFKey.Split.no) = \(n), expected \(i)")
            }
            others.append(f)
        }
        let model = try GGUFFile(first: first, otherSplits: others)
        if let expected = first.metadata[GGUFKey.Split.tensorsCount]?.intValue, expected != model.tensors.count {
            throw GGUFError(.invalid, file: path, "the split model should have \(expected) tensors, its \(count) files hold \(model.tensors.count)")
        }
        return model
    }

    /// The paths of every file of the model (one for a single file).
    public var splitPaths: [String] { [path] + otherSplits.map(\.path) }
}

/// How `GGUFSplitter.plan` cuts a model.
public enum GGUFSplitLimit: Equatable, Sendable {
    /// At most N tensors per file (gguf-split `--split-max-tensors`, default 128).
    case tensors(Int)
    /// At most N bytes of tensor data per file, counting each tensor padded to 32 bytes and not
    /// counting the header (gguf-split `--split-max-size`). A tensor larger than N gets a file of its
    /// own only after the first; when the first tensor alone exceeds N the plan fails, as in llama.cpp.
    case bytes(Int)
}

/// One output file of a split or merge.
public struct GGUFSplitPart: Sendable {
    /// Keys in the order they are written.
    public var metadata: GGUFMetadata
    /// The tensors to copy, as they are in the source (`GGUFFile.data` finds them).
    public var tensors: [GGUFTensorInfo]
    /// Shapes written as ggml writes them (trailing 1s dropped: gguf-split, llama-quantize) or as
    /// stored (gguf-py's writer: convert_hf_to_gguf.py).
    public var ggmlShapes = true
    /// Bytes of the header (up to the data section), as written.
    public var headerBytes: Int
    /// Bytes of tensor data without padding (gguf-split's `total_size` adds this to the header).
    public var tensorBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
    /// Bytes of the whole file as written (data padded).
    public var fileBytes: Int { headerBytes + tensors.reduce(0) { $0 + GGUFParser.pad($1.byteCount, GGUFSplitter.alignment) } }
}

/// gguf-split's two operations over `GGUFFile`s; the bytes written are the same as b10572's
/// `llama-gguf-split` for the same input and limits.
public enum GGUFSplitter {
    /// gguf-split writes every file with ggml's default alignment.
    public static let alignment = 32

    /// The files a split would write, in order (nothing is written).
    /// - Throws: `GGUFError(.usage)` for a limit below 1, a file that would hold no tensor, more than
    ///   65535 files, or an input whose alignment is not 32 bytes.
    public static func plan(_ file: GGUFFile, limit: GGUFSplitLimit, noTensorsInFirst: Bool = false) throws(GGUFError) -> [GGUFSplitPart] {
        try checkAlignment(file)
        switch limit {
        case .tensors(let n) where n < 1, .bytes(let n) where n < 1:
            throw GGUFError(.usage, file: file.path, "the split limit must be at least 1")
        default: break
        }
        let total = file.tensors.count
        guard total <= Int(Int32.max) else { throw GGUFError(.limit, file: file.path, "too many tensors to split") }
        var groups: [[GGUFTensorInfo]] = [[]]
        if noTensorsInFirst { groups.append([]) }
        var bytes = 0
        for (i, t) in file.tensors.enumerated() {
            let n = GGUFParser.pad(t.byteCount, alignment)
            let cut: Bool
            switch limit {
            case .tensors(let m): cut = i > 0 && i % m == 0
            case .bytes(let m): cut = bytes + n > m
            }
            if cut {
                guard !(groups[groups.count - 1].isEmpty) else {
                    throw GGUFError(.usage, file: file.path,
                                    "tensor '\(t.name)' (\(t.byteCount) bytes) would leave a split file without tensors: the limit is too small")
                }
                groups.append([])
                bytes = n
            } else {
                bytes += n
            }
            groups[groups.count - 1].append(t)
        }
        guard groups.count <= Int(UInt16.max) else {
            throw GGUFError(.usage, file: file.path, "\(groups.count) split files: at most \(UInt16.max)")
        }
        return groups.enumerated().map { i, ts in
            var md = i == 0 ? file.metadata : GGUFMetadata()
            md.setMovingToEnd(GGUFKey.Split.no, .uint16(UInt16(i)))
            md.setMovingToEnd(GGUFKey.Split.count, .uint16(0))
            md.setMovingToEnd(GGUFKey.Split.tensorsCount, .int32(Int32(total)))
            md.setMovingToEnd(GGUFKey.Split.count, .uint16(UInt16(groups.count)))
            return GGUFSplitPart(metadata: md, tensors: ts, headerBytes: headerBytes(md, ts))
        }
    }

    /// The files convert_hf_to_gguf.py (gguf-py's GGUFWriter) writes for the same tensors with
    /// `--split-max-tensors` / `--split-max-size` (0 = no limit) and `--no-tensor-first-split`: a new
    /// file starts when the current one holds `maxTensors` tensors or the next tensor would take its
    /// unpadded data past `maxBytes`; the first file keeps every key and gets `split.no`,
    /// `split.count`, `split.tensors.count` appended, the others have only these three. One file
    /// means no split: the caller keeps the single file as it is.
    public static func planLikeGGUFPy(_ file: GGUFFile, maxTensors: Int, maxBytes: Int, smallFirstShard: Bool) -> [GGUFSplitPart] {
        planLikeGGUFPy(metadata: file.metadata, tensors: file.tensors, maxTensors: maxTensors, maxBytes: maxBytes,
                       smallFirstShard: smallFirstShard)
    }

    /// `planLikeGGUFPy(_:maxTensors:maxBytes:smallFirstShard:)` for a file not written yet: its
    /// keys and tensors (in order).
    public static func planLikeGGUFPy(metadata: GGUFMetadata, tensors: [GGUFTensorInfo], maxTensors: Int, maxBytes: Int,
                                      smallFirstShard: Bool) -> [GGUFSplitPart] {
        var groups: [[GGUFTensorInfo]] = smallFirstShard ? [[], []] : [[]]
        var bytes = 0
        for t in tensors {
            let last = groups[groups.count - 1]
            if !last.isEmpty && ((maxTensors > 0 && last.count >= maxTensors) || (maxBytes > 0 && bytes + t.byteCount > maxBytes)) {
                groups.append([])
                bytes = 0
            }
            groups[groups.count - 1].append(t)
            bytes += t.byteCount
        }
        guard groups.count > 1 else {
            return [GGUFSplitPart(metadata: metadata, tensors: tensors, ggmlShapes: false,
                                  headerBytes: headerBytes(metadata, tensors, ggmlShapes: false))]
        }
        return groups.enumerated().map { i, ts in
            var md = i == 0 ? metadata : GGUFMetadata()
            md.set(GGUFKey.Split.no, .uint16(UInt16(truncatingIfNeeded: i)))
            md.set(GGUFKey.Split.count, .uint16(UInt16(truncatingIfNeeded: groups.count)))
            md.set(GGUFKey.Split.tensorsCount, .int32(Int32(truncatingIfNeeded: tensors.count)))
            return GGUFSplitPart(metadata: md, tensors: ts, ggmlShapes: false, headerBytes: headerBytes(md, ts, ggmlShapes: false))
        }
    }

    /// gguf-py's shard names: `DIR/STEM-00001-of-00003.gguf` where STEM is the file name without
    /// its last extension; the path itself for one file.
    public static func ggufPyShardPaths(_ path: String, count: Int) -> [String] {
        guard count > 1 else { return [path] }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let stem = name.lastIndex(of: ".").map { $0 == name.startIndex ? name : String(name[..<$0]) } ?? name
        return (0..<count).map { dir + GGUFSplitNaming.path(prefix: stem, index: $0, count: count) }
    }

    /// The single file a merge of `model` (a split model opened with `GGUFFile.openModel`, or
    /// several files joined with `GGUFFile(first:otherSplits:)`) would write.
    public static func mergePlan(_ model: GGUFFile) throws(GGUFError) -> GGUFSplitPart {
        try checkAlignment(model)
        var md = model.metadata
        md.setMovingToEnd(GGUFKey.Split.count, .uint16(0))
        return GGUFSplitPart(metadata: md, tensors: model.tensors, headerBytes: headerBytes(md, model.tensors))
    }

    /// Opens the files of a split model for a merge, as `llama-gguf-split --merge` does: the first
    /// file must carry `split.count` (at least 1) and be named `...-00001-of-N.gguf`.
    public static func openForMerge(firstPath: String) throws(GGUFError) -> GGUFFile {
        let first = try GGUFFile(path: firstPath)
        guard first.metadata.contains(GGUFKey.Split.count) else {
            throw GGUFError(.invalid, file: firstPath, "the file has no '\(GGUFKey.Split.count)' key: not a split model")
        }
        guard let count = first.metadata[GGUFKey.Split.count]?.intValue, count >= 1, count <= Int(UInt16.max) else {
            throw GGUFError(.invalid, file: firstPath, "invalid split count in '\(GGUFKey.Split.count)'")
        }
        guard let prefix = GGUFSplitNaming.prefix(of: firstPath, index: 0, count: count) else {
            throw GGUFError(.invalid, file: firstPath,
                            "unexpected file name for the first of \(count) split files: expected a name ending in '\(GGUFSplitNaming.suffix(index: 0, count: count))'")
        }
        var others: [GGUFFile] = []
        for i in 1..<max(count, 1) {
            others.append(try GGUFFile(path: GGUFSplitNaming.path(prefix: prefix, index: i, count: count)))
        }
        return try GGUFFile(first: first, otherSplits: others)
    }

    /// Writes one planned file: header, then each tensor's bytes from `source`, padded to 32 bytes.
    /// Pages of the source are released as tensors are copied. The file appears only when complete.
    public static func write(_ part: GGUFSplitPart, from source: GGUFFile, to path: String, replace: Bool) throws(GGUFError) {
        let infos = part.tensors.map { GGUFTensorInfo(name: $0.name, shape: part.ggmlShapes ? writtenShape($0) : $0.shape, type: $0.type) }
        let w = try GGUFWriter(path: path, metadata: part.metadata, tensors: infos)
        do {
            for t in part.tensors {
                try w.writeTensor(source.data(t))
                source.release(t)
            }
            try w.finish(replace: replace)
        } catch {
            w.abort()
            throw error
        }
    }

    /// The shape as ggml writes it: trailing dimensions of 1 dropped, at least one dimension.
    public static func writtenShape(_ t: GGUFTensorInfo) -> [Int] {
        let n = t.ggmlDimensionCount
        return t.shape.isEmpty ? [1] : Array(t.shape.prefix(n))
    }

    /// Bytes of the header GGUFWriter writes for these keys and tensors (data section start).
    public static func headerBytes(_ metadata: GGUFMetadata, _ tensors: [GGUFTensorInfo], ggmlShapes: Bool = true) -> Int {
        var enc = GGUFEncoder()
        enc.append(contentsOf: GGUFLimits.magic)
        enc.append(UInt32(3))
        enc.append(UInt64(tensors.count))
        enc.append(UInt64(metadata.count))
        for kv in metadata { enc.append(key: kv.key, value: kv.value) }
        var n = enc.bytes.count
        for t in tensors { n += 8 + t.name.utf8.count + 4 + 8 * (ggmlShapes ? writtenShape(t).count : t.shape.count) + 4 + 8 }
        return GGUFParser.pad(n, alignment)
    }

    static func checkAlignment(_ f: GGUFFile) throws(GGUFError) {
        guard f.alignment == alignment else {
            throw GGUFError(.usage, file: f.path, "the file has general.alignment \(f.alignment): split files are written with \(alignment)-byte alignment only")
        }
    }
}
