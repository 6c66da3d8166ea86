/// The one error type the commands surface. `run` prints it and picks the exit code:
/// 0 for help, 64 (EX_USAGE) for usage errors, 1 for everything else.
public enum ToolError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `--help` was given; the text is printed to stdout and the tool exits 0.
    case help(String)
    /// Bad command line.
    case usage(String, command: String)
    /// Bad input or a failed operation, with a message naming the file, tensor or offset.
    case failure(String)

    public var description: String {
        switch self {
        case .help(let text): return text
        case .usage(let m, let command): return "\(m)\nSee '\(command) --help' for more information."
        case .failure(let m): return m
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .help: return 0
        case .usage: return 64
        case .failure: return 1
        }
    }

    /// Wraps any error as a failure with its description.
    public static func wrap(_ error: any Error) -> ToolError {
        if let t = error as? ToolError { return t }
        return .failure(String(describing: error))
    }
}
