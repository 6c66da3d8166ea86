/// An error reading a Hugging Face model folder: JSON files, safetensors, tokenizer.json or
/// tokenizer.model. The description starts with the file, then says what was found and what was
/// expected, in the shape of ggml's gguf.cpp messages:
///
///     model.safetensors: tensor 'lm_head.weight' has dtype 'I64', expected F32, F16 or BF16
///     config.json: line 3, column 5: expected ',' or '}' after an object member, found '"'
public struct HFModelError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The OS refused an operation (open, stat, map, list a directory).
        case io
        /// A file the folder must contain is absent.
        case missingFile
        /// A file is not well-formed JSON (or not UTF-8).
        case malformedJSON
        /// A file ends before a field is complete (safetensors header, protobuf).
        case truncated
        /// A field holds a value of the wrong type or outside its valid range.
        case invalid
        /// A valid input this reader does not implement (a dtype, a tokenizer component, a regex).
        case unsupported
        /// A size cap is exceeded (header length, nesting depth).
        case limit
        /// The same tensor or key appears twice.
        case duplicate
        /// A required key or tensor is absent.
        case notFound
    }

    public let kind: Kind
    /// The file the problem is in (the path as it was opened).
    public let file: String
    /// What is wrong, without the file name.
    public let message: String

    public init(_ kind: Kind, file: String, _ message: String) {
        self.kind = kind
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
