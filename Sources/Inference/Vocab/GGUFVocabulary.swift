// llama.cpp's tokenizer, read from GGUF metadata: `tokenize` matches `llama_tokenize` and
// `piece(for:special:)` matches `llama_token_to_piece` (llama-vocab.cpp, b4748).

import GGUF

/// The vocabulary of a GGUF file and llama.cpp's tokenizer over it.
///
/// Supports `tokenizer.ggml.model` `gpt2` (byte-level BPE, with every pre-tokenizer llama.cpp
/// b4748 knows) and `llama` (SentencePiece-style BPE over scores). Immutable; `tokenize` may be
/// called from several threads.
public final class GGUFVocabulary: Sendable {
    public enum Model: String, Sendable {
        /// `gpt2`: byte-level BPE with merges.
        case bpe = "gpt2"
        /// `llama`: SentencePiece pieces merged by score, with byte fallback.
        case spm = "llama"
    }

    /// GGUF token types (`tokenizer.ggml.token_type`, `enum llama_token_type`).
    public enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public let model: Model
    /// The pre-tokenizer llama.cpp selects (`default` for SentencePiece vocabularies).
    public let preTokenizer: PreTokenizerType
    /// `tokenizer.ggml.pre` as stored, if present.
    public let preName: String?
    /// Token texts; empty texts are renamed `[EMPTY_<id>]` as llama.cpp does.
    public let tokens: [String]
    /// `tokenizer.ggml.scores`, or zeros.
    public let scores: [Float]
    public let special: SpecialTokenIDs
    /// Tokens that end generation (`special_eog_ids`).
    public let endOfGeneration: Set<Int32>
    public let addBOS: Bool
    public let addEOS: Bool
    public let addSpacePrefix: Bool
    public let ignoreMerges: Bool
    /// `clean_up_tokenization_spaces` as llama.cpp derives it (used by detokenization only).
    public let cleanSpaces: Bool
    public let removeExtraWhitespaces: Bool

    let attributes: [UInt32]
    let specialIndex: SpecialTokenIndex
    let steps: [SplitStep]
    let bpe: BPEData?
    let spm: SPMData?
    let pieceBytes: [UInt8]
    let pieceOffsets: [Int]

    /// Reads the vocabulary from metadata.
    /// - Parameters:
    ///   - metadata: the GGUF key/value pairs.
    ///   - file: the file name used in error messages.
    /// - Throws: `VocabularyError` naming the key when a required key is missing, a key has the
    ///   wrong type, `tokenizer.ggml.scores` / `token_type` do not have one entry per token, a
    ///   token text repeats, a merge is malformed or names a text that is not a token, a special
    ///   id is out of range, or the model / pre-tokenizer is not one llama.cpp b4748 implements
    ///   here (WordPiece, Unigram and RWKV vocabularies are not supported).
    public init(metadata: GGUFMetadata, file: String = "") throws(VocabularyError) {
        let l = try VocabularyLoader(metadata: metadata, file: file)
        model = l.model
        preTokenizer = l.choice.type
        preName = l.preName
        tokens = l.tokens
        scores = l.scores
        special = l.special
        endOfGeneration = l.endOfGeneration
        addBOS = l.addBOS
        addEOS = l.addEOS
        addSpacePrefix = l.addSpacePrefix
        ignoreMerges = l.model == .bpe && l.choice.ignoreMerges
        cleanSpaces = l.choice.cleanSpaces
        removeExtraWhitespaces = l.removeExtraWhitespaces
        attributes = l.attributes
        specialIndex = SpecialTokenIndex(ids: l.specialCache,
                                         texts: l.specialCache.map { Array(l.tokens[Int($0)].utf8) },
                                         attributes: l.specialCache.map { l.attributes[Int($0)] })
        steps = l.model == .bpe ? l.choice.type.splitSteps : []
        bpe = l.model == .bpe ? try l.buildBPE() : nil
        spm = l.model == .spm ? l.buildSPM() : nil
        (pieceBytes, pieceOffsets) = l.buildPieces()
    }

    /// Reads the vocabulary of an open GGUF file (see `init(metadata:file:)`).
    public convenience init(file: GGUFFile) throws(VocabularyError) {
        try self.init(metadata: file.metadata, file: file.path)
    }

    public var count: Int { tokens.count }
    public var bos: Int32? { special.bos }
    public var eos: Int32? { special.eos }

    /// The token's type after llama.cpp's adjustments (text-recognised EOT/FIM tokens are control).
    public func tokenType(_ id: Int32) -> TokenType {
        guard id >= 0, Int(id) < attributes.count else { return .undefined }
        let a = attributes[Int(id)]
        if a & TokenAttribute.control != 0 { return .control }
        if a & TokenAttribute.unknown != 0 { return .unknown }
        if a & TokenAttribute.userDefined != 0 { return .userDefined }
        if a & TokenAttribute.byte != 0 { return .byte }
        if a & TokenAttribute.unused != 0 { return .unused }
        if a & TokenAttribute.normal != 0 { return .normal }
        return .undefined
    }

    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGeneration.contains(id) }

    /// The bytes a token stands for (`llama_token_to_piece` with lstrip 0). Control and unknown
    /// tokens give their text only when `special`; unused tokens, and ids out of range, give nothing.
    public func piece(for id: Int32, special: Bool) -> [UInt8] {
        guard id >= 0, Int(id) < tokens.count else { return [] }
        if !special && attributes[Int(id)] & (TokenAttribute.control | TokenAttribute.unknown) != 0 { return [] }
        return Array(pieceBytes[pieceOffsets[Int(id)]..<pieceOffsets[Int(id) + 1]])
    }
}
