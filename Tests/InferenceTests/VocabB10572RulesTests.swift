import GGUF
import Inference
import Testing
import TestSupport

/// The token-type fix-ups llama.cpp b10572 applies when loading a vocabulary (llama-vocab.cpp), on
/// small SentencePiece vocabularies: end-of-generation texts become control tokens (keeping their
/// other flags), so they are no longer cut out of the text without parse_special.
@Suite("Vocab: b10572 control / end-of-generation rules")
struct VocabB10572RulesTests {
    /// Byte tokens for every byte, then the given extra pieces with their GGUF token types.
    static func vocabulary(_ extra: [(String, Int32)]) throws -> GGUFVocabulary {
        var tokens = ["<unk>", "<s>"], types: [Int32] = [2, 3]
        for b in 0..<256 {
            tokens.append("<0x" + String(b, radix: 16, uppercase: true).leftPad(2) + ">")
            types.append(6)
        }
        for (t, k) in extra { tokens.append(t); types.append(k) }
        return try GGUFVocabulary(metadata: GGUFMetadata([
            GGUFKeyValue(GGUFKey.Tokenizer.model, .string("llama")),
            GGUFKeyValue(GGUFKey.Tokenizer.tokens, .array(.string(tokens))),
            GGUFKeyValue(GGUFKey.Tokenizer.scores, .array(.float32([Float](repeating: 0, count: tokens.count)))),
            GGUFKeyValue(GGUFKey.Tokenizer.tokenType, .array(.int32(types))),
            GGUFKeyValue(GGUFKey.Tokenizer.addSpacePrefix, .bool(false)),
        ]))
    }

    @Test("a user-defined </s> is an end-of-generation control token (Phi-3 layout)")
    func userDefinedEndOfSentence() throws {
        let v = try Self.vocabulary([("</s>", 4)])
        let eos: Int32 = 258
        #expect(v.tokenType(eos) == .control)
        #expect(v.isEndOfGeneration(eos))
        #expect(v.tokenize("</s>", addSpecial: false, parseSpecial: true) == [eos])
        // Not cut out without parse_special: its bytes ("<" = 0x3C + 2 ...).
        let bytes: [Int32] = Array("</s>".utf8).map { Int32($0) + 2 }
        #expect(v.tokenize("</s>", addSpecial: false, parseSpecial: false) == bytes)
        // The piece is still the text (control with special, nothing without).
        #expect(v.piece(for: eos, special: true) == Array("</s>".utf8))
        #expect(v.piece(for: eos, special: false).isEmpty)
    }

    @Test("b10572's new end-of-turn texts set the EOT id")
    func endOfTurnTexts() throws {
        let v = try Self.vocabulary([("<end_of_utterance>", 1), ("<|end_of_text|>", 1)])
        #expect(v.special.eot == 258)
        #expect(v.isEndOfGeneration(258) && v.isEndOfGeneration(259))
        #expect(v.tokenType(259) == .control)
    }

    @Test("<|end|> is user-defined next to <|return|> and <|call|> (o200k_harmony)")
    func harmony() throws {
        let v = try Self.vocabulary([("<|end|>", 3), ("<|return|>", 3), ("<|call|>", 3), ("<|channel|>", 3)])
        #expect(!v.isEndOfGeneration(258))
        #expect(v.tokenType(258) == .userDefined)
        #expect(v.isEndOfGeneration(259) && v.isEndOfGeneration(260))
        // gpt-oss channel tokens are always rendered: user-defined, cut out even without parse_special.
        #expect(v.tokenType(261) == .userDefined)
        #expect(v.tokenize("<|channel|>", addSpecial: false, parseSpecial: false) == [261])
        // Alone, <|end|> ends generation.
        let plain = try Self.vocabulary([("<|end|>", 3)])
        #expect(plain.isEndOfGeneration(258))
    }

    @Test("</s> is a normal token next to <|tool_response>")
    func toolResponse() throws {
        let v = try Self.vocabulary([("</s>", 3), ("<|tool_response>", 3)])
        #expect(!v.isEndOfGeneration(258))
        #expect(v.tokenType(258) == .normal)
    }
}

private extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
