import Foundation
import GGUF
import HFModel

// gguf-py's `SpecialVocab`, shared by every vocabulary source: merges, special token ids,
// add_*_token flags and chat templates.

extension VocabBuilder {
    /// gguf-py `SpecialVocab(...).add_to_gguf`: merges, special token ids, add_*_token flags, chat template.
    func specialVocab(tokenizerJSON tj: JSONValue?, loadMerges: Bool, nVocab: Int?) throws(ConvertError) -> [GGUFKeyValue] {
        let types = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
        var out: [GGUFKeyValue] = []
        if loadMerges {
            let merges = try self.merges(tj)
            if !merges.isEmpty { out.append(GGUFKeyValue(GGUFKey.Tokenizer.merges, .array(.string(merges)))) }
        }
        var ids: [(String, Int)] = []
        var addFlags: [(String, Bool)] = []
        func setID(_ t: String, _ id: Int?) throws(ConvertError) {
            guard let id else { return }
            guard id >= 0 else { throw ConvertError("invalid value for special token type \(t): \(id)") }
            if let n = nVocab, id >= n { return }
            if ids.contains(where: { $0.0 == t }) { return }
            ids.append((t, id))
        }
        let added = try tj.map { (v) throws(ConvertError) in try addedTokens(v) } ?? []
        var template: JSONValue?
        if let tc = try tokenizerConfig() {
            template = tc.chatTemplate
            for t in types {
                if let b = tc.addSpecialToken(t) { addFlags.append((t, b)) }
                if let content = tc.specialTokenContent(t) {
                    try setID(t, added.first { sameText($0.content, content) }?.id)
                }
            }
        }
        for t in types { try setID(t, config["\(t)_token_id"]?.int) }
        for (t, id) in ids {
            guard let v = UInt32(exactly: id) else { continue }
            out.append(GGUFKeyValue(GGUFKey.Tokenizer.specialID(t), .uint32(v)))
        }
        for (t, b) in addFlags {
            switch t {
            case "bos": out.append(GGUFKeyValue(GGUFKey.Tokenizer.addBOS, .bool(b)))
            case "eos": out.append(GGUFKeyValue(GGUFKey.Tokenizer.addEOS, .bool(b)))
            case "sep": out.append(GGUFKeyValue(GGUFKey.Tokenizer.addSEP, .bool(b)))
            default: continue  // gguf-py has no add_unk/pad/cls/mask handler
            }
        }
        out += chatTemplate(template)
        return out
    }

    /// tokenizer.json `model.merges` in either form (pairs are joined with spaces inside parts written as U+0120),
    /// else merges.txt.
    func merges(_ tj: JSONValue?) throws(ConvertError) -> [String] {
        if let arr = tj?["model"]?["merges"]?.array, let first = arr.first {
            if first.string != nil {
                return arr.compactMap(\.string)
            }
            if let pair = first.array, pair.count == 2, pair[0].string != nil {
                var out: [String] = []
                out.reserveCapacity(arr.count)
                for (i, v) in arr.enumerated() {
                    guard let p = v.array, p.count == 2, let a = p[0].string, let b = p[1].string else {
                        throw ConvertError("\(path(HFModelFiles.tokenizer)): merges[\(i)] is not a pair of strings")
                    }
                    out.append(a.replacingOccurrences(of: " ", with: "\u{120}") + " " + b.replacingOccurrences(of: " ", with: "\u{120}"))
                }
                return out
            }
            throw ConvertError("\(path(HFModelFiles.tokenizer)): unknown tokenizer merges format")
        }
        let txt = path("merges.txt")
        guard let text = readTextFile(txt) else { return [] }
        var out: [String] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let f = lines.first, f.trimmingCharacters(in: .whitespaces).hasPrefix("#") { lines.removeFirst() }
        for line in lines {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if parts.count == 2 { out.append("\(parts[0]) \(parts[1])") }
        }
        return out
    }

    /// gguf-py `add_chat_template`: a string, or a list of named templates (default → the main key).
    func chatTemplate(_ v: JSONValue?) -> [GGUFKeyValue] {
        guard let v else { return [] }
        if let s = v.string { return s.isEmpty ? [] : [GGUFKeyValue(GGUFKey.Tokenizer.chatTemplate, .string(s))] }
        guard let list = v.array else { return [] }
        var out: [GGUFKeyValue] = []
        var names: [String] = []
        var def: String?
        for item in list {
            let raw = item["name"]?.string ?? ""
            let name = String(raw.map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
            guard !name.isEmpty, let t = item["template"]?.string else { continue }
            if name == "default" { def = t } else {
                if !names.contains(name) { names.append(name) }
                if !t.isEmpty { out.append(GGUFKeyValue(GGUFKey.Tokenizer.chatTemplate(named: name), .string(t))) }
            }
        }
        if !names.isEmpty { out.append(GGUFKeyValue(GGUFKey.Tokenizer.chatTemplates, .array(.string(names)))) }
        if let def, !def.isEmpty { out.append(GGUFKeyValue(GGUFKey.Tokenizer.chatTemplate, .string(def))) }
        return out
    }
}
