import GGUF
import Inference
import Testing
import TestSupport

/// Malformed `tokenizer.*` metadata is rejected with a message naming the key.
@Suite("Vocab: malformed metadata")
struct VocabErrorTests {
    /// A six-token byte-level BPE vocabulary: a, b, ab, Ġ (space), Ġa and a control token.
    static func tiny() -> GGUFMetadata {
        GGUFMetadata([
            GGUFKeyValue(GGUFKey.Tokenizer.model, .string("gpt2")),
            GGUFKeyValue(GGUFKey.Tokenizer.pre, .string("gpt-2")),
            GGUFKeyValue(GGUFKey.Tokenizer.tokens, .array(.string(["a", "b", "ab", "Ġ", "Ġa", "<|endoftext|>"]))),
            GGUFKeyValue(GGUFKey.Tokenizer.tokenType, .array(.int32([1, 1, 1, 1, 1, 3]))),
            GGUFKeyValue(GGUFKey.Tokenizer.merges, .array(.string(["a b", "Ġ a"]))),
        ])
    }

    static func error(_ change: (inout GGUFMetadata) -> Void) -> VocabularyError? {
        var m = tiny()
        change(&m)
        do {
            _ = try GGUFVocabulary(metadata: m, file: "v.gguf")
            return nil
        } catch {
            return error
        }
    }

    @Test("the tiny vocabulary loads and merges by rank")
    func tinyWorks() throws {
        let v = try GGUFVocabulary(metadata: Self.tiny())
        #expect(v.model == .bpe && v.preTokenizer == .gpt2)
        // "ab" is one token; " a" merges Ġ+a; in " ab" the rank-0 merge a+b wins, leaving Ġ.
        #expect(v.tokenize("ab a ab", addSpecial: false, parseSpecial: false) == [2, 4, 3, 2])
        #expect(v.tokenize("<|endoftext|>b", addSpecial: false, parseSpecial: true) == [5, 1])
        // Without parse_special the text is split into words whose bytes have no tokens: dropped.
        #expect(v.tokenize("<|endoftext|>b", addSpecial: false, parseSpecial: false) == [1])
        // Default BPE ids (bos = eos = 11) are outside this vocabulary, so none are added.
        #expect(v.bos == nil && v.eos == nil)
    }

    @Test("missing tokenizer.ggml.model")
    func missingModel() {
        let e = Self.error { $0.remove(GGUFKey.Tokenizer.model) }
        #expect(e?.kind == .missingKey)
        #expect(e?.description == "v.gguf: key 'tokenizer.ggml.model' is missing")
    }

    @Test("WordPiece, Unigram and unknown models are refused by name")
    func unsupportedModel() {
        let bert = Self.error { $0.set(GGUFKey.Tokenizer.model, .string("bert")) }
        #expect(bert?.kind == .unsupported)
        #expect(bert?.description == "v.gguf: key 'tokenizer.ggml.model' is 'bert' (WordPiece); supported: 'gpt2' (BPE), 'llama' (SentencePiece)")
        let t5 = Self.error { $0.set(GGUFKey.Tokenizer.model, .string("t5")) }
        #expect(t5?.message.contains("'t5' (Unigram)") == true)
        let odd = Self.error { $0.set(GGUFKey.Tokenizer.model, .string("odd")) }
        #expect(odd?.message.contains("'odd', which llama.cpp does not know either") == true)
    }

    @Test("an unknown pre-tokenizer lists the known ones")
    func unknownPre() {
        let e = Self.error { $0.set(GGUFKey.Tokenizer.pre, .string("llama4")) }
        #expect(e?.kind == .unsupported)
        #expect(e?.key == GGUFKey.Tokenizer.pre)
        #expect(e?.message.hasPrefix("key 'tokenizer.ggml.pre' is 'llama4', not a pre-tokenizer llama.cpp knows; known: default, llama3, llama-v3, llama-bpe,") == true)
        #expect(e?.message.hasSuffix("minerva-7b, megrez") == true)
    }

    @Test("wrong value types name the key, the type found and the type expected")
    func wrongTypes() {
        let tokens = Self.error { $0.set(GGUFKey.Tokenizer.tokens, .array(.int32([1, 2]))) }
        #expect(tokens?.description == "v.gguf: key 'tokenizer.ggml.tokens' has type ARRAY[INT32], expected ARRAY[STRING]")
        let scores = Self.error { $0.set(GGUFKey.Tokenizer.scores, .array(.float64([0, 0, 0, 0, 0, 0]))) }
        #expect(scores?.message == "key 'tokenizer.ggml.scores' has type ARRAY[FLOAT64], expected ARRAY[FLOAT32]")
        let bos = Self.error { $0.set(GGUFKey.Tokenizer.bosID, .int32(1)) }
        #expect(bos?.message == "key 'tokenizer.ggml.bos_token_id' has type INT32, expected UINT32")
        let addBOS = Self.error { $0.set(GGUFKey.Tokenizer.addBOS, .string("yes")) }
        #expect(addBOS?.message == "key 'tokenizer.ggml.add_bos_token' has type STRING, expected BOOL")
        let model = Self.error { $0.set(GGUFKey.Tokenizer.model, .uint32(2)) }
        #expect(model?.kind == .wrongType)
    }

    @Test("per-token arrays must have one entry per token")
    func counts() {
        let types = Self.error { $0.set(GGUFKey.Tokenizer.tokenType, .array(.int32([1, 1, 1]))) }
        #expect(types?.kind == .invalidValue)
        #expect(types?.message == "key 'tokenizer.ggml.token_type' has 3 elements, expected 6 (one per token)")
        let scores = Self.error { $0.set(GGUFKey.Tokenizer.scores, .array(.float32([0]))) }
        #expect(scores?.message == "key 'tokenizer.ggml.scores' has 1 elements, expected 6 (one per token)")
    }

    @Test("merges must be two token texts separated by a space")
    func merges() {
        let unknown = Self.error { $0.set(GGUFKey.Tokenizer.merges, .array(.string(["a b", "a c"]))) }
        #expect(unknown?.message == "key 'tokenizer.ggml.merges' has merge 1 'a c' naming 'c', which is not a token")
        let noSpace = Self.error { $0.set(GGUFKey.Tokenizer.merges, .array(.string(["ab"]))) }
        #expect(noSpace?.message == "key 'tokenizer.ggml.merges' has merge 0 'ab' without a space between two tokens")
        let missing = Self.error { $0.remove(GGUFKey.Tokenizer.merges) }
        #expect(missing?.message == "key 'tokenizer.ggml.merges' is missing")
    }

    @Test("special ids must be inside the vocabulary")
    func specialRange() {
        let e = Self.error { $0.set(GGUFKey.Tokenizer.eosID, .uint32(6)) }
        #expect(e?.key == GGUFKey.Tokenizer.eosID)
        #expect(e?.message == "key 'tokenizer.ggml.eos_token_id' is 6, expected less than 6 (the number of tokens)")
    }

    @Test("a token text may appear only once")
    func duplicate() {
        let e = Self.error { $0.set(GGUFKey.Tokenizer.tokens, .array(.string(["a", "b", "ab", "Ġ", "a", "x"]))) }
        #expect(e?.message == "key 'tokenizer.ggml.tokens' has the token 'a' twice, at 0 and 4")
    }
}
