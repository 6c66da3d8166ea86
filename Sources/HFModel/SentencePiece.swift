import GGUF

/// A sentencepiece `tokenizer.model` (the `ModelProto` message of sentencepiece_model.proto),
/// read with our own protobuf wire-format reader. Unknown fields are skipped; fields this type
/// does not expose are ignored.
///
/// The vocabulary half of `_create_vocab_sentencepiece` (convert_hf_to_gguf.py) reads `pieces`:
/// piece text (keeping "▁"), score, and type (`IsUnknown`, `IsControl`, `IsUnused`, `IsByte`).
public struct SentencePieceModel: Sendable {
    /// `ModelProto.SentencePiece.Type`; the same numbers as gguf's token types.
    public enum PieceType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public struct Piece: Sendable, Equatable {
        public var piece: String
        public var score: Float
        public var type: PieceType
    }

    /// `TrainerSpec` fields that affect conversion or tokenization (proto defaults when absent).
    public struct TrainerSpec: Sendable, Equatable {
        /// 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR.
        public var modelType: Int32 = 1
        public var vocabSize: Int32 = 8000
        public var byteFallback = false
        public var splitDigits = false
        public var treatWhitespaceAsSuffix = false
        public var unkID: Int32 = 0
        public var bosID: Int32 = 1
        public var eosID: Int32 = 2
        public var padID: Int32 = -1
        public var unkPiece = "<unk>"
        public var bosPiece = "<s>"
        public var eosPiece = "</s>"
        public var padPiece = "<pad>"
    }

    /// `NormalizerSpec` (proto defaults when absent).
    public struct NormalizerSpec: Sendable, Equatable {
        public var name: String?
        public var precompiledCharsmapSize = 0
        public var addDummyPrefix = true
        public var removeExtraWhitespaces = true
        public var escapeWhitespaces = true
    }

    public let path: String
    public let pieces: [Piece]
    public let trainerSpec: TrainerSpec
    public let normalizerSpec: NormalizerSpec
    public let denormalizerSpec: NormalizerSpec?

    /// Reads and parses `path`.
    /// - Throws: `.missingFile`, `.io`, or `.truncated`/`.invalid` with the message path
    ///   ("ModelProto.pieces[3]") and the file offset.
    public init(path: String) throws(HFModelError) {
        guard fileExists(path) else { throw HFModelError(.missingFile, file: path, "file not found") }
        let map: MappedFile
        do { map = try MappedFile(path: path) } catch { throw HFModelError(.io, file: path, error.message) }
        try self.init(bytes: map.bytes, file: path)
    }

    /// Parses a serialized ModelProto held in memory (`file` is used in messages).
    public init(bytes: UnsafeRawBufferPointer, file: String) throws(HFModelError) {
        path = file
        var r = ProtobufReader(bytes, file: file, base: 0, context: "ModelProto")
        var pieces: [Piece] = []
        var trainer = TrainerSpec()
        var normalizer = NormalizerSpec()
        var denormalizer: NormalizerSpec?
        while !r.atEnd {
            let at = r.offset
            let (field, wire) = try r.tag()
            switch field {
            case 1:
                try r.expect(wire, .lengthDelimited, "pieces", at: at)
                let (b, start) = try r.lengthDelimited()
                pieces.append(try SentencePieceModel.piece(b, file: file, base: start, index: pieces.count))
            case 2:
                try r.expect(wire, .lengthDelimited, "trainer_spec", at: at)
                let (b, start) = try r.lengthDelimited()
                trainer = try SentencePieceModel.trainer(b, file: file, base: start)
            case 3, 5:
                let name = field == 3 ? "normalizer_spec" : "denormalizer_spec"
                try r.expect(wire, .lengthDelimited, name, at: at)
                let (b, start) = try r.lengthDelimited()
                let spec = try SentencePieceModel.normalizer(b, file: file, base: start, name: name)
                if field == 3 { normalizer = spec } else { denormalizer = spec }
            default:
                try r.skip(wire)
            }
        }
        self.pieces = pieces
        self.trainerSpec = trainer
        self.normalizerSpec = normalizer
        self.denormalizerSpec = denormalizer
    }

    private static func piece(_ bytes: UnsafeRawBufferPointer, file: String, base: Int,
                              index: Int) throws(HFModelError) -> Piece {
        var r = ProtobufReader(bytes, file: file, base: base, context: "ModelProto.pieces[\(index)]")
        var p = Piece(piece: "", score: 0, type: .normal)
        while !r.atEnd {
            let at = r.offset
            let (field, wire) = try r.tag()
            switch field {
            case 1: p.piece = try r.string(wire, "piece", at: at)
            case 2: p.score = try r.float(wire, "score", at: at)
            case 3:
                let v = try r.int32(wire, "type", at: at)
                guard let t = PieceType(rawValue: v) else {
                    throw r.error(.invalid, at: at, "field 'type' is \(v), expected 1 to 6")
                }
                p.type = t
            default: try r.skip(wire)
            }
        }
        return p
    }

    private static func trainer(_ bytes: UnsafeRawBufferPointer, file: String, base: Int) throws(HFModelError) -> TrainerSpec {
        var r = ProtobufReader(bytes, file: file, base: base, context: "ModelProto.trainer_spec")
        var t = TrainerSpec()
        while !r.atEnd {
            let at = r.offset
            let (field, wire) = try r.tag()
            switch field {
            case 3: t.modelType = try r.int32(wire, "model_type", at: at)
            case 4: t.vocabSize = try r.int32(wire, "vocab_size", at: at)
            case 24: t.treatWhitespaceAsSuffix = try r.bool(wire, "treat_whitespace_as_suffix", at: at)
            case 25: t.splitDigits = try r.bool(wire, "split_digits", at: at)
            case 35: t.byteFallback = try r.bool(wire, "byte_fallback", at: at)
            case 40: t.unkID = try r.int32(wire, "unk_id", at: at)
            case 41: t.bosID = try r.int32(wire, "bos_id", at: at)
            case 42: t.eosID = try r.int32(wire, "eos_id", at: at)
            case 43: t.padID = try r.int32(wire, "pad_id", at: at)
            case 45: t.unkPiece = try r.string(wire, "unk_piece", at: at)
            case 46: t.bosPiece = try r.string(wire, "bos_piece", at: at)
            case 47: t.eosPiece = try r.string(wire, "eos_piece", at: at)
            case 48: t.padPiece = try r.string(wire, "pad_piece", at: at)
            default: try r.skip(wire)
            }
        }
        return t
    }

    private static func normalizer(_ bytes: UnsafeRawBufferPointer, file: String, base: Int,
                                   name: String) throws(HFModelError) -> NormalizerSpec {
        var r = ProtobufReader(bytes, file: file, base: base, context: "ModelProto.\(name)")
        var n = NormalizerSpec()
        while !r.atEnd {
            let at = r.offset
            let (field, wire) = try r.tag()
            switch field {
            case 1: n.name = try r.string(wire, "name", at: at)
            case 2:
                try r.expect(wire, .lengthDelimited, "precompiled_charsmap", at: at)
                n.precompiledCharsmapSize = try r.lengthDelimited().bytes.count
            case 3: n.addDummyPrefix = try r.bool(wire, "add_dummy_prefix", at: at)
            case 4: n.removeExtraWhitespaces = try r.bool(wire, "remove_extra_whitespaces", at: at)
            case 5: n.escapeWhitespaces = try r.bool(wire, "escape_whitespaces", at: at)
            default: try r.skip(wire)
            }
        }
        return n
    }
}
