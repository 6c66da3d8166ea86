/// An error quantizing a model or reading its inputs, naming the file, tensor or entry.
public struct QuantizeError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
