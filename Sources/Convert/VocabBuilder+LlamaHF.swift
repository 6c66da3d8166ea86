import Foundation
import GGUF
import HFModel

// The Llama-2 style tokenizer.json source: BPE with byte fallback (convert_hf_to_gguf.py
// `_set_vocab_llama_hf`, gguf-py `LlamaHfVocab`).

extension VocabBuilder {
    /// `LlamaHfVocab`: a BPE tokenizer.json with byte fallback and a Sequence decoder (Llama-2 style).
    func isLlamaHF(_ tj: JSONValue) -> Bool {
        let model = tj["model"]
        if model?["type"]?.string == "BPE" && model?["ignore_merges"]?.bool == true && model?["byte_fallback"]?.bool != true {
            return false  // Llama 3: must use the gpt2 path
        }
        return model?["type"]?.string == "BPE" && model?["byte_fallback"]?.bool == true && tj["decoder"]?["type"]?.string == "Sequence"
    }

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
}
