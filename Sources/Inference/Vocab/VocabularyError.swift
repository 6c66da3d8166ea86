// Errors raised while reading a vocabulary from GGUF metadata.

/// A problem with the `tokenizer.*` metadata of a GGUF file.
///
/// The message names the file, the key, the value found and what was expected, in the shape of
/// llama.cpp's loader messages (`key %s has wrong type %s but expected type %s`).
public struct VocabularyError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A required key is absent.
        case missingKey
        /// A key holds a value of the wrong GGUF type.
        case wrongType
        /// A key holds a value of the right type that cannot be used (bad count, out of range, ...).
        case invalidValue
        /// The tokenizer model or pre-tokenizer is one this module does not implement.
        case unsupported
    }

    public let kind: Kind
    /// The file the metadata came from ("" when built from metadata in memory).
    public let file: String
    /// The offending key.
    public let key: String
    public let message: String

    public init(_ kind: Kind, file: String, key: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String { file.isEmpty ? message : "\(file): \(message)" }
}
