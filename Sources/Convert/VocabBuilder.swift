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
        let head = try architecturePrefix()
        var kvs: [GGUFKeyValue]?
        for source in spec.vocabSources {
            switch source {
            case .sentencePiece:
                guard fileExists(path(HFModelFiles.sentencePieceModel)) else { continue }
                kvs = try sentencePiece()
                if let b = spec.converter.sentencePieceAddSpacePrefix {
                    kvs?.append(GGUFKeyValue(GGUFKey.Tokenizer.addSpacePrefix, .bool(b)))
                }
            case .llamaHF:
                guard let tj = try tokenizerJSON(), isLlamaHF(tj) else { continue }
                kvs = try llamaHF(tj)
            case .phi3:
                if let tc = try tokenizerConfig(), tc.json["tokenizer_class"]?.string == "GPT2Tokenizer" {
                    guard let tj = try tokenizerJSON() else {
                        throw ConvertError("\(directory): tokenizer_config names GPT2Tokenizer but \(HFModelFiles.tokenizer) is missing")
                    }
                    kvs = try gpt2(tj)
                } else {
                    kvs = try phi3SentencePiece()
                }
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
        return head.filter { h in !out.contains { $0.key == h.key } } + out
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

    // MARK: LlamaModel extras

    /// LlamaModel.set_vocab's head (b10572: before the vocabulary): `add_space_prefix` from
    /// tokenizer_config `add_prefix_space`.
    func architecturePrefix() throws(ConvertError) -> [GGUFKeyValue] {
        guard spec.converter.copiesAddPrefixSpace, let tc = try tokenizerConfig(), let v = tc.json["add_prefix_space"],
              !v.isNull else { return [] }
        guard let b = v.bool else { throw ConvertError("\(tc.path): 'add_prefix_space' is \(v.typeDescription), expected a boolean") }
        return [GGUFKeyValue(GGUFKey.Tokenizer.addSpacePrefix, .bool(b))]
    }

    /// LlamaModel.set_vocab's tail: `add_bos_token = false` for 49152-token vocabularies (llama.cpp's
    /// Granite rule, which also hits SmolLM).
    func appendArchitectureExtras(_ out: inout [GGUFKeyValue]) throws(ConvertError) {
        func set(_ key: String, _ v: GGUFValue) {
            if let i = out.firstIndex(where: { $0.key == key }) { out[i].value = v } else { out.append(GGUFKeyValue(key, v)) }
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
