import SwiftGGUF

/// `gguf-dump FILE [--json] [--json-array] [--no-tensors]`: the metadata and tensor table of a
/// GGUF file, laid out like gguf-py's `gguf-dump` (including its three `GGUF.*` header pseudo-keys).
/// Given the first file of a split model, the tensor table lists the tensors of every file (JSON
/// names the file of each tensor that is not in the first); `--single-file` dumps only that file.
public enum DumpCommand {
    public static let spec = CommandSpec(
        name: "gguf-dump",
        synopsis: "FILE [--json] [--json-array] [--no-tensors] [--single-file]",
        summary: "Print the metadata and tensor table of a GGUF file.",
        options: [
            .flag("json", "print JSON instead of text (arrays summarised unless --json-array)"),
            .flag("json-array", "with --json, include the elements of arrays"),
            .flag("no-tensors", "do not list tensors"),
            .flag("single-file", "for a split model, list only the tensors of FILE, not of the whole model"),
        ],
        positionals: ["FILE"], minPositionals: 1, maxPositionals: 1)

    public static func run(_ args: [String], console: any Console) throws {
        let a = try spec.parse(args)
        let path = a.positionals[0]
        let file: GGUFFile
        do {
            // A later file of a split model is dumped on its own; the first one stands for the model.
            let single = try GGUFFile(path: path)
            let later = (single.metadata[GGUFKey.Split.no]?.intValue ?? 0) != 0
            file = a.has("single-file") || later ? single : try GGUFFile.model(joining: single)
        } catch { throw ToolError.failure(error.description) }
        if a.has("json") {
            console.out(json(file, arrays: a.has("json-array"), tensors: !a.has("no-tensors")) + "\n")
        } else {
            console.out(text(file, tensors: !a.has("no-tensors")))
        }
    }

    static func scalarText(_ v: GGUFValue) -> String {
        switch v {
        case .string(let s): return TextFormat.pythonRepr(String(s.unicodeScalars.prefix(60)))
        case .bool(let b): return b ? "True" : "False"
        case .float32(let f): return f.description
        case .float64(let d): return d.description
        default: return v.intValue.map(String.init) ?? ""
        }
    }

    static func text(_ f: GGUFFile, tensors: Bool) -> String {
        var s = "* File is LITTLE endian, script is running on a LITTLE endian host.\n"
        s += "* Dumping \(f.metadata.count + 3) key/value pair(s)\n"
        var rows: [(String, Int, String, String?)] = [
            ("UINT32", 1, "GGUF.version", String(f.version)),
            ("UINT64", 1, "GGUF.tensor_count", String(f.tensors.count)),
            ("UINT64", 1, "GGUF.kv_count", String(f.metadata.count)),
        ]
        for kv in f.metadata {
            if case .array(let arr) = kv.value {
                rows.append(("[\(arr.elementType)]", arr.count, kv.key, nil))
            } else {
                rows.append((kv.value.type.description, 1, kv.key, scalarText(kv.value)))
            }
        }
        for (n, r) in rows.enumerated() {
            s += "  " + TextFormat.pad(String(n + 1), left: 5) + ": " + TextFormat.pad(r.0, right: 10) + " | "
            s += TextFormat.pad(String(r.1), left: 8) + " | " + r.2
            if let v = r.3 { s += " = " + v }
            s += "\n"
        }
        guard tensors else { return s }
        s += "* Dumping \(f.tensors.count) tensor(s)\n"
        for (n, t) in f.tensors.enumerated() {
            let dims = (t.shape + Array(repeating: 1, count: max(0, 4 - t.shape.count)))
                .map { TextFormat.pad(String($0), left: 5) }.joined(separator: ", ")
            s += "  " + TextFormat.pad(String(n + 1), left: 5) + ": " + TextFormat.pad(String(t.elementCount), left: 10)
            s += " | " + dims + " | " + TextFormat.pad(t.type.upperName, right: 7) + " | " + t.name + "\n"
        }
        return s
    }

    static func jsonValue(_ v: GGUFValue) -> String {
        switch v {
        case .string(let s): return TextFormat.jsonString(s)
        case .bool(let b): return b ? "true" : "false"
        case .float32(let f): return f.isFinite ? f.description : "null"
        case .float64(let d): return d.isFinite ? d.description : "null"
        case .array(let a): return jsonArray(a)
        default: return v.intValue.map(String.init) ?? String(describing: v)
        }
    }

    static func jsonArray(_ a: GGUFArray) -> String {
        let items: [String]
        switch a {
        case .string(let x): items = x.map(TextFormat.jsonString)
        case .bool(let x): items = x.map { $0 ? "true" : "false" }
        case .float32(let x): items = x.map { $0.isFinite ? $0.description : "null" }
        case .float64(let x): items = x.map { $0.isFinite ? $0.description : "null" }
        case .uint64(let x): items = x.map { String($0) }
        default: items = (a.integers ?? []).map(String.init)
        }
        return "[" + items.joined(separator: ", ") + "]"
    }

    static func json(_ f: GGUFFile, arrays: Bool, tensors: Bool) -> String {
        var md: [String] = []
        for (i, kv) in f.metadata.entries.enumerated() {
            var fields = ["\"index\": \(i)", "\"type\": \"\(kv.value.type)\"", "\"offset\": \(f.keyOffsets[i])"]
            if case .array(let a) = kv.value {
                fields.append("\"array_types\": [\"\(a.elementType)\"]")
                if arrays { fields.append("\"value\": " + jsonArray(a)) }
            } else {
                fields.append("\"value\": " + jsonValue(kv.value))
            }
            md.append(TextFormat.jsonString(kv.key) + ": {" + fields.joined(separator: ", ") + "}")
        }
        var ts: [String] = []
        if tensors {
            for (i, t) in f.tensors.enumerated() {
                let holder = f.file(holding: t)
                let inFile = holder === f ? "" : "\"file\": \(TextFormat.jsonString(holder.path)), "
                ts.append(TextFormat.jsonString(t.name) + ": {\"index\": \(i), \"shape\": [" +
                          t.shape.map(String.init).joined(separator: ", ") + "], \"type\": \"\(t.type.upperName)\", " + inFile +
                          "\"offset\": \(f.tensorInfoOffsets[i]), \"data_offset\": \(holder.dataOffset + t.offset), \"n_bytes\": \(t.byteCount)}")
            }
        }
        return "{\"filename\": \(TextFormat.jsonString(f.path)), \"endian\": \"LITTLE\", \"metadata\": {" +
            md.joined(separator: ", ") + "}, \"tensors\": {" + ts.joined(separator: ", ") + "}}"
    }
}
