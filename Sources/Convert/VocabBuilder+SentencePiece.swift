import Foundation
import GGUF
import HFModel

// The SentencePiece source: a `tokenizer.model` (convert_hf_to_gguf.py `_set_vocab_sentencepiece`).

extension VocabBuilder {
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
}
