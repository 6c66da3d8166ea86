/// An error of AWQ calibration. The description names the file, tensor or option concerned with
/// what was found and what was expected:
/// `wiki.txt: 3 lines give 212 tokens; one calibration block needs 512 tokens (--awq-seqlen)`.
public struct AWQError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The calibration text is missing, unreadable or too short.
        case calibrationText
        /// The model's architecture has no AWQ scaling groups here.
        case unsupportedArchitecture
        /// The input model already holds quantized tensors.
        case quantizedInput
        /// A tensor or option has a value AWQ cannot use.
        case invalid
        /// The forward pass failed (wraps `InferenceError`).
        case engine
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
