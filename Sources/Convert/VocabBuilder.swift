import Foundation
import Architectures
import GGUF
import HFModel

/// The `tokenizer.*` metadata of a conversion, built like b4748's converter: the vocabulary itself
/// (`_set_vocab_sentencepiece`, `_set_vocab_llama_hf`, `_set_vocab_gpt2`, tried in the order of the
/// architecture table) followed by gguf-py's `SpecialVocab` keys.
struct VocabBuilder {
    let directory: String
    let config: ModelConfig
    let spec: ArchitectureSpec
    /// Messages for the log (which path was taken, how the pre-tokenizer was named).
    var notes: [String] = []

    init(directory: String, config: ModelConfig, spec: ArchitectureSpec) {
        self.directory = directory
        self.config = config
        self.spec = spec
    }

    enum TokenType: Int32 { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    func path(_ name: String) -> String { HFModelFiles.path(directory, name) }

    /// Builds the metadata, trying the architecture's vocabulary sources in order.
    mutating func build() throws(ConvertError) -> [GGUFKeyValue] {
        var kvs: [GGUFKeyValue]?
        for source in spec.vocabSources {
            switch source {
            case .sentencePiece:
                guard fileExists(path(HFModelFiles.sentencePieceModel)) else { continue }
                kvs = try sentencePiece()
            case .llamaHF:
                guard let tj = try tokenizerJSON(), isLlamaHF(tj) else { continue }
                kvs = try llamaHF(tj)
            case .gpt2:
                guard let tj = try tokenizerJSON() else {
                    throw ConvertError("\(directory): no tokenizer found: expected \(HFModelFiles.sentencePieceModel) or \(HFModelFiles.tokenizer)")
                }
                kvs = try gpt2(tj)
            }
            if kvs != nil { break }
        }
        guard var out = kvs else {
            throw ConvertError("\(directory): no tokenizer found: expected \(HFModelFiles.sentencePieceModel) or \(HFModelFiles.tokenizer)")
        }
        try appendArchitectureExtras(&out)
        return out
    }

    // MARK: helpers

    func fail(_ e: HFModelError) -> ConvertError { ConvertError(e.description) }

    func tokenizerJSON() throws(ConvertError) -> JSONValue? {
        let p = path(HFModelFiles.tokenizer)
        guard fileExists(p) else { return nil }
        do { return try JSONParser.parseFile(p) } catch { throw fail(error) }
    }

    func tokenizerConfig() throws(ConvertError) -> TokenizerConfig? {
        do { return try TokenizerConfig.load(directory: directory) } catch { throw fail(error) }
    }

    /// `LlamaHfVocab`: a BPE tokenizer.json with byte fallback and a Sequence decoder (Llama-2 style).
    func isLlamaHF(_ tj: JSONValue) -> Bool {
        let model = tj["model"]
        if model?["type"]?.string == "BPE" && model?["ignore_merges"]?.bool == true && model?["byte_fallback"]?.bool != true {
            return false  // Llama 3: must use the gpt2 path
        }
        return model?["type"]?.string == "BPE" && model?["byte_fallback"]?.bool == true && tj["decoder"]?["type"]?.string == "Sequence"
    }

    /// gguf-py `does_token_look_special`.
    static func looksSpecial(_ t: String) -> Bool {
        if ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(t) { return true }
        if t.hasPrefix("<|") && t.hasSuffix("|>") && t.count >= 4 { return true }
        if t.hasPrefix("<｜") && t.hasSuffix("｜>") && t.count >= 4 { return true }
        if t.hasPrefix("<unused") && t.hasSuffix(">") { return true }
        return false
    }

    /// tokenizer.json `added_tokens`.
    func addedTokens(_ tj: JSONValue) throws(ConvertError) -> [HFAddedToken] {
        guard let arr = tj["added_tokens"]?.array else { return [] }
        var out: [HFAddedToken] = []
        for (i, v) in arr.enumerated() {
            guard let id = v["id"]?.int, let content = v["content"]?.string else {
                throw ConvertError("\(path(HFModelFiles.tokenizer)): added_tokens[\(i)] needs an integer 'id' and a string 'content'")
            }
            let special = v["special"]?.bool ?? false
            out.append(HFAddedToken(id: id, content: content, singleWord: v["single_word"]?.bool ?? false,
                                    lstrip: v["lstrip"]?.bool ?? false, rstrip: v["rstrip"]?.bool ?? false,
                                    normalized: v["normalized"]?.bool ?? !special, special: special))
        }
        return out
    }

    func configVocabSize() throws(ConvertError) -> Int? {
        do { return try config.int(["vocab_size"]) } catch { throw fail(error) }
    }

    // MARK: gpt2 (byte-level BPE)

    mutating func gpt2(_ tj: JSONValue) throws(ConvertError) -> [GGUFKeyValue] {
        let file = path(HFModelFiles.tokenizer)
        guard let vocabObj = tj["model"]?["vocab"]?.object else {
            throw ConvertError("\(file): 'model.vocab' is missing or not an object")
        }
        let added = try addedTokens(tj)
        // tokenizer.vocab: the model vocabulary plus the added tokens.
        var byID: [Int: String] = [:]
        var maxID = -1
        for m in vocabObj.members {
            guard let id = m.value.int, id >= 0 else { throw ConvertError("\(file): vocab entry '\(m.key)' has no valid id") }
            byID[id] = m.key
            maxID = max(maxID, id)
        }
        for a in added {
            byID[a.id] = a.content
            maxID = max(maxID, a.id)
        }
        let vocabSize = try configVocabSize() ?? (maxID + 1)
        guard maxID < vocabSize else {
            throw ConvertError("\(file): token id \(maxID) is not below the vocab_size \(vocabSize) of \(config.path)")
        }
        let addedByContent = Dictionary(added.map { (ExactKey($0.content), $0) }, uniquingKeysWith: { _, b in b })
        let addedByID = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { _, b in b })
        var tokens: [String] = []
        var types: [Int32] = []
        tokens.reserveCapacity(vocabSize)
        types.reserveCapacity(vocabSize)
        for i in 0..<vocabSize {
            guard var token = byID[i] else {
                tokens.append("[PAD\(i)]")
                types.append(TokenType.unused.rawValue)
                continue
            }
            if let a = addedByID[i] ?? addedByContent[ExactKey(token)], addedByContent[ExactKey(token)] != nil {
                if a.special || VocabBuilder.looksSpecial(token) {
                    types.append(TokenType.control.rawValue)
                } else {
                    token = token.replacingOccurrences(of: "\u{2581}", with: " ")
                    types.append(TokenType.userDefined.rawValue)
                }
            } else {
                types.append(TokenType.normal.rawValue)
            }
            tokens.append(token)
        }
        let pre = try preTokenizerName(tj, vocabSize: vocabSize)
        var out = [GGUFKeyValue(GGUFKey.Tokenizer.model, .string("gpt2")),
                   GGUFKeyValue(GGUFKey.Tokenizer.pre, .string(pre)),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokens, .array(.string(tokens))),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokenType, .array(.int32(types)))]
        out += try specialVocab(tokenizerJSON: tj, loadMerges: true, nVocab: nil)
        return out
    }

    mutating func preTokenizerName(_ tj: JSONValue, vocabSize: Int) throws(ConvertError) -> String {
        let file = path(HFModelFiles.tokenizer)
        var hash: String?
        do {
            hash = try PreTokenizerHash.chkhsh(directory: directory)
        } catch {
            notes.append("could not run the tokenizer on chktxt: \(error)")
        }
        let d = try PreTokenizerRules.decide(chkhsh: hash, preTokenizer: tj["pre_tokenizer"], normalizer: tj["normalizer"],
                                             vocabSize: vocabSize, file: file)
        notes.append("tokenizer.ggml.pre = '\(d.name)': \(d.reason)")
        return d.name
    }

    // MARK: SentencePiece (tokenizer.model)

    mutating func sentencePiece() throws(ConvertError) -> [GGUFKeyValue] {
        let spPath = path(HFModelFiles.sentencePieceModel)
        let sp: SentencePieceModel
        do { sp = try SentencePieceModel(path: spPath) } catch { throw fail(error) }
        let vocabSize = try configVocabSize() ?? sp.pieces.count
        guard sp.pieces.count <= vocabSize else {
            throw ConvertError("\(spPath): \(sp.pieces.count) pieces, more than the vocab_size \(vocabSize) of \(config.path)")
        }
        var tokens = (0..<vocabSize).map { "[PAD\($0)]" }
        var scores = [Float](repeating: -10000, count: vocabSize)
        var types = [Int32](repeating: TokenType.unused.rawValue, count: vocabSize)
        for (i, p) in sp.pieces.enumerated() {
            tokens[i] = p.piece
            scores[i] = p.score
            switch p.type {
            case .unknown: types[i] = TokenType.unknown.rawValue
            case .control: types[i] = TokenType.control.rawValue
            case .unused: types[i] = TokenType.unused.rawValue
            case .byte: types[i] = TokenType.byte.rawValue
            case .normal, .userDefined: types[i] = TokenType.normal.rawValue
            }
        }
        let addedJSON: [(content: String, id: Int)]?
        do { addedJSON = try HFModelFiles.addedTokens(directory: directory) } catch { throw fail(error) }
        for (content, id) in addedJSON ?? [] {
            guard id < vocabSize else {
                notes.append("ignoring added token \(id): id out of range, max \(vocabSize - 1)")
                continue
            }
            tokens[id] = content
            scores[id] = -1000
            types[id] = TokenType.userDefined.rawValue
        }
        if let tc = try tokenizerConfig() {
            let decoder: [HFAddedToken]
            do { decoder = try tc.addedTokensDecoder() } catch { throw fail(error) }
            for a in decoder {
                guard a.id < vocabSize else {
                    throw ConvertError("\(tc.path): added_tokens_decoder id \(a.id) is not below the vocab_size \(vocabSize)")
                }
                if a.special || VocabBuilder.looksSpecial(a.content) {
                    types[a.id] = TokenType.control.rawValue
                    tokens[a.id] = a.content
                } else {
                    types[a.id] = TokenType.userDefined.rawValue
                    tokens[a.id] = a.content.replacingOccurrences(of: "\u{2581}", with: " ")
                }
                scores[a.id] = -1000
            }
        }
        notes.append("vocabulary from \(HFModelFiles.sentencePieceModel) (SentencePiece, \(sp.pieces.count) pieces)")
        var out = [GGUFKeyValue(GGUFKey.Tokenizer.model, .string("llama")),
                   GGUFKeyValue(GGUFKey.Tokenizer.pre, .string("default")),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokens, .array(.string(tokens))),
                   GGUFKeyValue(GGUFKey.Tokenizer.scores, .array(.float32(scores))),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokenType, .array(.int32(types)))]
        out += try specialVocab(tokenizerJSON: try tokenizerJSON(), loadMerges: false, nVocab: tokens.count)
        return out
    }

    // MARK: Llama-2 style tokenizer.json (LlamaHfVocab)

    mutating func llamaHF(_ tj: JSONValue) throws(ConvertError) -> [GGUFKeyValue] {
        let file = path(HFModelFiles.tokenizer)
        guard let vocabObj = tj["model"]?["vocab"]?.object else { throw ConvertError("\(file): 'model.vocab' is missing") }
        var byID: [Int: String] = [:]
        for m in vocabObj.members { if let id = m.value.int { byID[id] = m.key } }
        let base = vocabObj.count
        let added = try addedTokens(tj).sorted { $0.id < $1.id }
        let tc = try tokenizerConfig()
        var specialContents = Set<String>()
        for t in ["bos", "eos", "unk", "sep", "pad", "cls", "mask"] {
            if let c = tc?.specialTokenContent(t) { specialContents.insert(c) }
        }
        for v in tc?.json["additional_special_tokens"]?.array ?? [] {
            if let s = v.string ?? v["content"]?.string { specialContents.insert(s) }
        }
        var contentToID: [ExactKey: Int] = [:]
        for (id, t) in byID { contentToID[ExactKey(t)] = id }
        for a in added { contentToID[ExactKey(a.content)] = a.id }
        let specialIDs = Set(specialContents.compactMap { contentToID[ExactKey($0)] })
        var tokens: [String] = [], scores: [Float] = [], types: [Int32] = []
        for id in 0..<base {
            guard let t = byID[id] else { throw ConvertError("\(file): vocabulary has no token with id \(id)") }
            tokens.append(t)
            scores.append(-1000)
            if t.utf8.count == 6 && t.hasPrefix("<0x") && t.hasSuffix(">") && t.dropFirst(3).prefix(2).allSatisfy(\.isHexDigit) {
                types.append(TokenType.byte.rawValue)
            } else {
                types.append(specialIDs.contains(id) ? TokenType.control.rawValue : TokenType.normal.rawValue)
            }
        }
        for a in added where a.id >= base {
            tokens.append(a.content)
            scores.append(-1000)
            types.append(specialContents.contains(where: { sameText($0, a.content) }) ? TokenType.control.rawValue : TokenType.userDefined.rawValue)
        }
        notes.append("vocabulary from \(HFModelFiles.tokenizer) (Llama-style BPE with byte fallback)")
        var out = [GGUFKeyValue(GGUFKey.Tokenizer.model, .string("llama")),
                   GGUFKeyValue(GGUFKey.Tokenizer.pre, .string("default")),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokens, .array(.string(tokens))),
                   GGUFKeyValue(GGUFKey.Tokenizer.scores, .array(.float32(scores))),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokenType, .array(.int32(types)))]
        out += try specialVocab(tokenizerJSON: tj, loadMerges: false, nVocab: tokens.count)
        return out
    }

    // MARK: SpecialVocab

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

    // MARK: LlamaModel extras

    /// LlamaModel.set_vocab's tail: `add_space_prefix` from tokenizer_config `add_prefix_space`, and
    /// `add_bos_token = false` for 49152-token vocabularies (llama.cpp's Granite rule, which also hits SmolLM).
    func appendArchitectureExtras(_ out: inout [GGUFKeyValue]) throws(ConvertError) {
        func set(_ key: String, _ v: GGUFValue) {
            if let i = out.firstIndex(where: { $0.key == key }) { out[i].value = v } else { out.append(GGUFKeyValue(key, v)) }
        }
        if spec.converter.copiesAddPrefixSpace, let tc = try tokenizerConfig(), let v = tc.json["add_prefix_space"] {
            guard let b = v.bool else { throw ConvertError("\(tc.path): 'add_prefix_space' is \(v.typeDescription), expected a boolean") }
            set(GGUFKey.Tokenizer.addSpacePrefix, .bool(b))
        }
        if let n = spec.converter.noBOSForVocabSize, (try configVocabSize() ?? 32000) == n {
            set(GGUFKey.Tokenizer.addBOS, .bool(false))
        }
    }
}

func fileExists(_ path: String) -> Bool {
    var isDir: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
}
