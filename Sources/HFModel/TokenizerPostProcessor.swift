/// A tokenizer.json `post_processor` as it affects the ids of a single sequence encoded with
/// `add_special_tokens=True` (offsets and type ids are not modelled).
indirect enum TokenizerPostProcessor: Sendable {
    /// ByteLevel post-processing only trims offsets.
    case byteLevel
    /// TemplateProcessing's `single` template: each element is either the sequence (nil) or the
    /// ids of a special token.
    case template([[Int]?])
    /// RobertaProcessing / BertProcessing: cls + sequence + sep.
    case wrap(cls: Int, sep: Int)
    case sequence([TokenizerPostProcessor])

    /// - Throws: `.unsupported` for unknown types; `.invalid` for templates naming undefined
    ///   special tokens or malformed entries.
    static func parse(_ v: JSONValue, file: String, path: String = "post_processor") throws(HFModelError) -> TokenizerPostProcessor {
        guard let o = v.object, let type = o["type"]?.string else {
            throw HFModelError(.invalid, file: file, "\(path) is \(v.serialized().prefix(80)), expected an object with a 'type'")
        }
        switch type {
        case "ByteLevel": return .byteLevel
        case "TemplateProcessing": return try template(o, file: file, path: path)
        case "RobertaProcessing", "BertProcessing":
            func pair(_ key: String) throws(HFModelError) -> Int {
                guard let a = o[key]?.array, a.count == 2, let id = a[1].int else {
                    throw HFModelError(.invalid, file: file, "\(path) (\(type)) has \(key) \(o[key]?.serialized() ?? "nothing"), expected [token, id]")
                }
                return id
            }
            return .wrap(cls: try pair("cls"), sep: try pair("sep"))
        case "Sequence":
            guard let list = o["processors"]?.array else {
                throw HFModelError(.invalid, file: file, "\(path) (Sequence) has no 'processors' list")
            }
            var out: [TokenizerPostProcessor] = []
            for (i, e) in list.enumerated() { out.append(try parse(e, file: file, path: "\(path).processors[\(i)]")) }
            return .sequence(out)
        default:
            throw HFModelError(.unsupported, file: file, "\(path) type '\(type)' is not supported, expected TemplateProcessing, "
                               + "ByteLevel, RobertaProcessing, BertProcessing or Sequence")
        }
    }

    private static func template(_ o: JSONObject, file: String, path: String) throws(HFModelError) -> TokenizerPostProcessor {
        var specials: [ExactKey: [Int]] = [:]
        for m in o["special_tokens"]?.object?.members ?? [] {
            guard let ids = m.value["ids"]?.array?.compactMap(\.int) else {
                throw HFModelError(.invalid, file: file, "\(path).special_tokens['\(m.key)'] has no 'ids' list")
            }
            specials[ExactKey(m.key)] = ids
        }
        guard let single = o["single"]?.array else {
            throw HFModelError(.invalid, file: file, "\(path) (TemplateProcessing) has no 'single' template list")
        }
        var pieces: [[Int]?] = []
        for (i, e) in single.enumerated() {
            if let s = e["SpecialToken"], let name = s["id"]?.string {
                guard let ids = specials[ExactKey(name)] else {
                    throw HFModelError(.invalid, file: file, "\(path).single[\(i)] uses special token '\(name)', which special_tokens does not define")
                }
                pieces.append(ids)
            } else if let s = e["Sequence"], let name = s["id"]?.string {
                guard name == "A" else {
                    throw HFModelError(.invalid, file: file, "\(path).single[\(i)] uses sequence '\(name)', expected A in a single template")
                }
                // Refused rather than followed: a template repeating the sequence, inside nested
                // Sequence processors, would multiply the ids exponentially.
                guard !pieces.contains(where: { $0 == nil }) else {
                    throw HFModelError(.invalid, file: file, "\(path).single[\(i)] uses sequence 'A' a second time, expected it once")
                }
                pieces.append(nil)
            } else {
                throw HFModelError(.invalid, file: file, "\(path).single[\(i)] is \(e.serialized()), expected a SpecialToken or Sequence piece")
            }
        }
        return .template(pieces)
    }

    /// Builds `[bos] $A [eos]` the way transformers' `update_post_processor` does.
    static func bosEos(bos: Int?, eos: Int?) -> TokenizerPostProcessor {
        var pieces: [[Int]?] = []
        if let bos { pieces.append([bos]) }
        pieces.append(nil)
        if let eos { pieces.append([eos]) }
        return .template(pieces)
    }

    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .byteLevel: return ids
        case .template(let pieces): return pieces.flatMap { $0 ?? ids }
        case .wrap(let cls, let sep): return [cls] + ids + [sep]
        case .sequence(let list):
            var out = ids
            for p in list { out = p.apply(out) }
            return out
        }
    }
}
