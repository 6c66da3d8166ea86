import Foundation
import GGUF
import HFModel

// Phi-3's SentencePiece vocabulary (b10572 conversion/phi.py `Phi3MiniModel.set_vocab`): like
// `_set_vocab_sentencepiece` but every added token (added_tokens.json, tokenizer_config's
// added_tokens_decoder, tokenizer.json's added_tokens, in that order) becomes user-defined, or
// control when marked special, with its text kept as written.

extension VocabBuilder {
    mutating func phi3SentencePiece() throws(ConvertError) -> [GGUFKeyValue] {
        let spPath = path(HFModelFiles.sentencePieceModel)
        guard fileExists(spPath) else { throw ConvertError("\(spPath): missing (Phi-3 needs its SentencePiece model)") }
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
        func add(_ a: HFAddedToken, from file: String) throws(ConvertError) {
            guard a.id >= 0, a.id < vocabSize else {
                throw ConvertError("\(file): added token id \(a.id) is not below the vocab_size \(vocabSize)")
            }
            tokens[a.id] = a.content
            scores[a.id] = -1000
            types[a.id] = a.special ? TokenType.control.rawValue : TokenType.userDefined.rawValue
        }
        if let tc = try tokenizerConfig() {
            let decoder: [HFAddedToken]
            do { decoder = try tc.addedTokensDecoder() } catch { throw fail(error) }
            for a in decoder { try add(a, from: tc.path) }
        }
        if let tj = try tokenizerJSON() {
            for a in try addedTokens(tj) { try add(a, from: path(HFModelFiles.tokenizer)) }
        }
        notes.append("vocabulary from \(HFModelFiles.sentencePieceModel) (Phi-3 SentencePiece, \(sp.pieces.count) pieces)")
        var out = [GGUFKeyValue(GGUFKey.Tokenizer.model, .string("llama")),
                   GGUFKeyValue(GGUFKey.Tokenizer.pre, .string("default")),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokens, .array(.string(tokens))),
                   GGUFKeyValue(GGUFKey.Tokenizer.scores, .array(.float32(scores))),
                   GGUFKeyValue(GGUFKey.Tokenizer.tokenType, .array(.int32(types)))]
        out += try specialVocab(tokenizerJSON: try tokenizerJSON(), loadMerges: false, nVocab: tokens.count)
        return out
    }
}
