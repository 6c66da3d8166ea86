import Foundation
import GGUF

/// Compares a GGUF file with a digest written by `../shared/tools/gguf-digest.py`: every metadata
/// key in order with type and value (long arrays as length + sha256), every tensor's name, type,
/// shape and sha256. Returns human-readable differences (empty when identical).
public struct ReferenceDigest {
    public struct Tensor: Sendable { public let name: String; public let type: String; public let shape: [Int]; public let nBytes: Int; public let sha256: String }
    public let tensors: [Tensor]
    public let metadata: [String: [String: Any]]
    public let keyOrder: [String]

    public init?(_ url: URL) {
        guard let data = try? Data(contentsOf: url),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let ts = obj["tensors"] as? [[String: Any]], let md = obj["metadata"] as? [String: [String: Any]] else { return nil }
        tensors = ts.map { Tensor(name: $0["name"] as? String ?? "", type: $0["type"] as? String ?? "",
                                  shape: ($0["shape"] as? [Int]) ?? [], nBytes: $0["n_bytes"] as? Int ?? -1,
                                  sha256: $0["sha256"] as? String ?? "") }
        metadata = md
        // JSONSerialization loses key order: read it from the text (gguf-digest.py writes indent=1).
        let text = String(decoding: data, as: UTF8.self)
        var order: [String] = []
        var inMeta = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix(" \"metadata\"") { inMeta = true; continue }
            if line.hasPrefix(" \"tensors\"") { break }
            if inMeta && line.hasPrefix("  \"") && line.hasSuffix(": {") {
                order.append(String(line.dropFirst(3).prefix(while: { $0 != "\"" })))
            }
        }
        keyOrder = order
    }

    public func int(_ key: String) -> Int? { metadata[key]?["value"] as? Int }
    public func string(_ key: String) -> String? { metadata[key]?["value"] as? String }

    /// Differences between `file` and this digest; `checkData` false skips the tensor sha256s.
    public func differences(from file: GGUFFile, checkData: Bool = true) -> [String] {
        var diffs: [String] = []
        if file.metadata.keys != keyOrder {
            diffs.append("metadata keys differ:\n  ours: \(file.metadata.keys)\n  ref:  \(keyOrder)")
        }
        for kv in file.metadata {
            guard let ref = metadata[kv.key] else { continue }
            let refType = ref["type"] as? String ?? "?"
            if kv.value.type.description != refType {
                diffs.append("\(kv.key): type \(kv.value.type), expected \(refType)")
                continue
            }
            if let d = ReferenceDigest.valueDifference(kv.value, ref["value"]) { diffs.append("\(kv.key): \(d)") }
        }
        if file.tensors.map(\.name) != tensors.map(\.name) {
            diffs.append("tensor names/order differ:\n  ours: \(file.tensors.map(\.name).prefix(12))...\n  ref:  \(tensors.map(\.name).prefix(12))...")
        }
        for (t, r) in zip(file.tensors, tensors) where t.name == r.name {
            if t.type.upperName != r.type { diffs.append("\(t.name): type \(t.type.upperName), expected \(r.type)") }
            if t.shape != r.shape { diffs.append("\(t.name): shape \(t.shape), expected \(r.shape)") }
            if t.byteCount != r.nBytes { diffs.append("\(t.name): \(t.byteCount) bytes, expected \(r.nBytes)") }
            if checkData {
                let h = SHA256.hex(file.data(t))
                if h != r.sha256 { diffs.append("\(t.name): data sha256 \(h), expected \(r.sha256)") }
            }
        }
        return diffs
    }

    static func valueDifference(_ v: GGUFValue, _ ref: Any?) -> String? {
        switch v {
        case .string(let s):
            return s == (ref as? String) ? nil : "value \(s.prefix(80)) != \(String(describing: ref).prefix(80))"
        case .bool(let b):
            return b == (ref as? Bool) ? nil : "value \(b) != \(String(describing: ref))"
        case .float32(let f):
            guard let r = (ref as? NSNumber)?.doubleValue else { return "missing value" }
            return Double(f) == r ? nil : "value \(Double(f)) != \(r)"
        case .float64(let d):
            return d == (ref as? NSNumber)?.doubleValue ? nil : "value \(d) != \(String(describing: ref))"
        case .array(let a):
            return arrayDifference(a, ref)
        default:
            return v.intValue == (ref as? NSNumber)?.intValue ? nil : "value \(String(describing: v.intValue)) != \(String(describing: ref))"
        }
    }

    static func arrayDifference(_ a: GGUFArray, _ ref: Any?) -> String? {
        if let list = ref as? [Any] {
            let ours: [String]
            switch a {
            case .string(let x): ours = x
            case .float32(let x): ours = x.map { String(Double($0)) }
            case .bool(let x): ours = x.map { String($0) }
            default: ours = (a.integers ?? []).map(String.init)
            }
            let theirs = list.map { v -> String in
                if let s = v as? String { return s }
                if let n = v as? NSNumber, case .float32 = a { return String(n.doubleValue) }
                if let n = v as? NSNumber, case .bool = a { return String(n.boolValue) }
                return "\(v)"
            }
            return ours == theirs ? nil : "array \(ours.prefix(8)) != \(theirs.prefix(8))"
        }
        guard let d = ref as? [String: Any], let n = d["len"] as? Int, let sha = d["sha256"] as? String else {
            return "unreadable reference value"
        }
        if n != a.count { return "array length \(a.count), expected \(n)" }
        let h: String
        switch a {
        case .string(let x): h = SHA256.hex(Array(x.joined(separator: "\n").utf8))
        case .int32(let x): h = x.withUnsafeBytes { SHA256.hex($0) }
        case .uint32(let x): h = x.withUnsafeBytes { SHA256.hex($0) }
        case .float32(let x): h = x.withUnsafeBytes { SHA256.hex($0) }
        case .int64(let x): h = x.withUnsafeBytes { SHA256.hex($0) }
        case .uint8(let x): h = SHA256.hex(x)
        default: return "array type \(a.elementType) not compared"
        }
        return h == sha ? nil : "array sha256 \(h), expected \(sha)"
    }
}
