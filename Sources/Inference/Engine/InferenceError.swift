import GGUF

/// An error loading a model or running it. The description names the file and the key or tensor
/// concerned, with what was found and what was expected:
/// `m.gguf: tensor 'blk.0.attn_q.weight' has type iq2_xxs, expected one of f32, f16, ...`.
public struct InferenceError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The architecture is not one the forward pass implements.
        case unsupportedArchitecture
        /// A tensor is stored in a type the forward pass cannot multiply.
        case unsupportedType
        /// A required key or tensor is absent.
        case missing
        /// A key or tensor has a value or shape the model cannot use.
        case invalid
        /// The file could not be opened or is not a valid GGUF file.
        case unreadable
        /// The caller asked for something outside the session's limits (tokens, context, rows).
        case usage
    }

    public let kind: Kind
    public let file: String
    public let message: String

    public init(_ kind: Kind, file: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.message = message
    }

    public var description: String { file.isEmpty ? message : "\(file): \(message)" }
}
