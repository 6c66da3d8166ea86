import Calibration
import Convert
import Evaluation
import GGUF
import HFModel
import Inference
import Quants

/// The one error the front door throws: a kind to switch on and a message that names the file,
/// tensor, key or offset at fault, with what was found and what was expected.
public struct SwiftGGUFError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The options contradict each other or hold a value out of range.
        case invalidOptions
        /// An input (model folder, GGUF file, text, importance matrix) is malformed, incomplete or
        /// does not fit the others (a missing tensor or key, a wrong shape, a vocabulary of another size).
        case invalidInput
        /// The input is valid but uses something not implemented here (architecture, tensor type).
        case unsupported
        /// The output cannot be written where asked (it exists, is the input, or its folder is missing).
        case output
        /// A file could not be opened, read or written (it does not exist, permissions, disk full).
        case io
        /// AWQ calibration could not run (text too short, quantized input, ...).
        case calibration
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Wraps an error of one of the libraries, keeping its message and mapping its kind.
    public init(_ error: any Error) {
        switch error {
        case let e as SwiftGGUFError:
            self = e
        case let e as GGUFError:
            switch e.kind {
            case .io: self.init(.io, e.description)
            case .usage: self.init(.invalidOptions, e.description)
            case .truncated, .notGGUF, .invalid, .limit, .duplicate: self.init(.invalidInput, e.description)
            }
        case let e as InferenceError:
            switch e.kind {
            case .unsupportedArchitecture, .unsupportedType: self.init(.unsupported, e.description)
            case .usage: self.init(.invalidOptions, e.description)
            case .missing, .invalid, .unreadable: self.init(.invalidInput, e.description)
            }
        case let e as AWQError:
            switch e.kind {
            case .unsupportedArchitecture: self.init(.unsupported, e.description)
            case .invalid: self.init(.invalidOptions, e.description)
            case .calibrationText, .quantizedInput, .engine: self.init(.calibration, e.description)
            }
        default:
            // ConvertError, QuantizeError, HFModelError, VocabularyError, EvaluationError: messages
            // about the input.
            self.init(.invalidInput, String(describing: error))
        }
    }
}

/// Runs `body`, turning any library error into a `SwiftGGUFError`.
@inline(__always)
func wrapped<T>(_ body: () throws -> T) throws(SwiftGGUFError) -> T {
    do { return try body() } catch { throw SwiftGGUFError(error) }
}
