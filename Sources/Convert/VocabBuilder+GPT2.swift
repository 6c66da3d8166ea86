import Foundation
import GGUF
import HFModel

// The GPT-2 byte-level BPE tokenizer.json source (convert_hf_to_gguf.py `_set_vocab_gpt2`), with
// `tokenizer.ggml.pre` named from the chkhsh table or the pre-tokenizer rules.

extension VocabBuilder {
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
}
