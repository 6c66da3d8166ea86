/// An error reading or writing a GGUF file. The description names the file, what was wrong,
/// and the byte offset where it was found, in the shape of ggml's gguf.cpp messages:
/// `model.gguf: tensor 'blk.0.attn_q.weight' has offset 1234, expected 1280 (at offset 725)`.
public struct GGUFError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The OS refused an operation (open, read, write, rename...).
        case io
        /// The file ends before a field is complete.
        case truncated
        /// Not a GGUF file, or a version this reader does not read.
        case notGGUF
        /// A field holds a value outside its valid range.
        case invalid
        /// A cap (string length, array length, dimensions, name length) is exceeded.
        case limit
        /// The same key or tensor name appears twice.
        case duplicate
        /// The writer was used out of order or with inconsistent data.
        case usage
    }

    public let kind: Kind
    public let file: String
    public let offset: Int?
    public let message: String

    public init(_ kind: Kind, file: String, offset: Int? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.message = message
    }

    public var description: String {
        if let offset { return "\(file): \(message) (at offset \(offset))" }
        return "\(file): \(message)"
    }
}
