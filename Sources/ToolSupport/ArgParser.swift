// A small declarative command-line parser: one table of options per tool gives parsing,
// validation and the help text. Understands `--name value`, `--name=value`, `-n value`, flags,
// repeated options, positionals and the `--` terminator. Errors are usage errors (exit 64).

/// One option or flag of a tool.
public struct OptionSpec: Sendable {
    public let long: String
    public let short: Character?
    /// Placeholder shown in help (`F`, `N`); nil for a flag that takes no value.
    public let valueName: String?
    public let help: String
    public let aliases: [String]

    public static func flag(_ long: String, short: Character? = nil, aliases: [String] = [], _ help: String) -> OptionSpec {
        OptionSpec(long: long, short: short, valueName: nil, help: help, aliases: aliases)
    }

    public static func option(_ long: String, short: Character? = nil, value: String, aliases: [String] = [], _ help: String) -> OptionSpec {
        OptionSpec(long: long, short: short, valueName: value, help: help, aliases: aliases)
    }

    var takesValue: Bool { valueName != nil }
}

/// A tool's interface: name, synopsis, positionals and options.
public struct CommandSpec: Sendable {
    public let name: String
    public let synopsis: String
    public let summary: String
    public let options: [OptionSpec]
    /// Names of positional arguments for help text (`MODEL_DIR`, ...).
    public let positionals: [String]
    public let minPositionals: Int
    public let maxPositionals: Int

    public init(name: String, synopsis: String, summary: String, options: [OptionSpec], positionals: [String],
                minPositionals: Int, maxPositionals: Int) {
        self.name = name
        self.synopsis = synopsis
        self.summary = summary
        self.options = options + [.flag("help", short: "h", "show this help and exit")]
        self.positionals = positionals
        self.minPositionals = minPositionals
        self.maxPositionals = maxPositionals
    }

    /// The help text generated from the table.
    public var help: String {
        var s = "usage: \(name) \(synopsis)\n\n\(summary)\n\noptions:\n"
        let rows = options.map { o -> (String, String) in
            var left = "  "
            if let c = o.short { left += "-\(c), " } else { left += "    " }
            left += "--\(o.long)"
            if let v = o.valueName { left += " \(v)" }
            return (left, o.help)
        }
        let width = min(34, (rows.map { $0.0.count }.max() ?? 0) + 2)
        for (l, h) in rows {
            if l.count + 2 > width {
                s += l + "\n" + String(repeating: " ", count: width) + h + "\n"
            } else {
                s += l + String(repeating: " ", count: width - l.count) + h + "\n"
            }
        }
        return s
    }
}

/// The result of parsing.
public struct ParsedArguments: Sendable {
    public private(set) var values: [String: [String]] = [:]
    public private(set) var flags: Set<String> = []
    public private(set) var positionals: [String] = []
    let command: String

    public func has(_ flag: String) -> Bool { flags.contains(flag) }
    public func value(_ option: String) -> String? { values[option]?.last }
    public func all(_ option: String) -> [String] { values[option] ?? [] }

    /// An integer option, or `defaultValue` when absent. Throws a usage error when not an integer in `range`.
    public func int(_ option: String, default defaultValue: Int, range: ClosedRange<Int> = Int.min...Int.max) throws(ToolError) -> Int {
        guard let v = value(option) else { return defaultValue }
        guard let n = Int(v), range.contains(n) else {
            let why = range == Int.min...Int.max ? "an integer" : "an integer in \(range.lowerBound)...\(range.upperBound)"
            throw ToolError.usage("the value '\(v)' is invalid for '--\(option)': expected \(why)", command: command)
        }
        return n
    }

    public func double(_ option: String, default defaultValue: Double) throws(ToolError) -> Double {
        guard let v = value(option) else { return defaultValue }
        guard let d = Double(v), d.isFinite else {
            throw ToolError.usage("the value '\(v)' is invalid for '--\(option)': expected a number", command: command)
        }
        return d
    }

    mutating func add(_ name: String, _ v: String) { values[name, default: []].append(v) }
    mutating func set(_ name: String) { flags.insert(name) }
    mutating func positional(_ v: String) { positionals.append(v) }
}

extension CommandSpec {
    private func lookup(long name: String) -> OptionSpec? {
        options.first { $0.long == name || $0.aliases.contains(name) }
    }

    private func lookup(short c: Character) -> OptionSpec? {
        options.first { $0.short == c }
    }

    private func suggestion(for name: String) -> String {
        let all = options.flatMap { [$0.long] + $0.aliases }
        let best = all.min { editDistance($0, name) < editDistance($1, name) }
        if let best, editDistance(best, name) <= max(2, name.count / 3) { return " Did you mean '--\(best)'?" }
        return ""
    }

    /// Parses `args` (without the program name).
    /// - Throws: `ToolError.help` for `-h/--help`, `ToolError.usage` for anything malformed.
    public func parse(_ args: [String]) throws(ToolError) -> ParsedArguments {
        var out = ParsedArguments(command: name)
        var i = 0
        var onlyPositionals = false
        while i < args.count {
            let a = args[i]
            i += 1
            if onlyPositionals || a == "-" || !a.hasPrefix("-") || isNegativeNumber(a) {
                out.positional(a)
                continue
            }
            if a == "--" { onlyPositionals = true; continue }
            var spec: OptionSpec?
            var inline: String?
            if a.hasPrefix("--") {
                let body = a.dropFirst(2)
                let name: String
                if let eq = body.firstIndex(of: "=") {
                    name = String(body[..<eq])
                    inline = String(body[body.index(after: eq)...])
                } else {
                    name = String(body)
                }
                spec = lookup(long: name)
                if spec == nil { throw ToolError.usage("unknown option '--\(name)'.\(suggestion(for: name))", command: self.name) }
            } else {
                let body = String(a.dropFirst())
                if body.count > 1, let s = lookup(long: body) {
                    // Multi-letter single-dash options in llama.cpp's style (-ngl, -kld).
                    spec = s
                } else if let c = body.first, let s = lookup(short: c) {
                    spec = s
                    if body.count > 1 {
                        guard s.takesValue else { throw ToolError.usage("unknown option '\(a)'", command: name) }
                        inline = String(body.dropFirst())
                    }
                } else {
                    throw ToolError.usage("unknown option '\(a)'.\(suggestion(for: body))", command: name)
                }
            }
            guard let s = spec else { continue }
            if s.long == "help" { throw ToolError.help(help) }
            if s.takesValue {
                if let v = inline {
                    out.add(s.long, v)
                } else {
                    guard i < args.count else {
                        throw ToolError.usage("missing value for '--\(s.long) <\(s.valueName ?? "value")>'", command: name)
                    }
                    out.add(s.long, args[i])
                    i += 1
                }
            } else {
                if inline != nil { throw ToolError.usage("'--\(s.long)' does not take a value", command: name) }
                out.set(s.long)
            }
        }
        if out.positionals.count < minPositionals {
            let missing = positionals[min(out.positionals.count, positionals.count - 1)]
            throw ToolError.usage("missing expected argument '\(missing)'", command: name)
        }
        if out.positionals.count > maxPositionals {
            throw ToolError.usage("unexpected argument '\(out.positionals[maxPositionals])'", command: name)
        }
        return out
    }
}

private func isNegativeNumber(_ s: String) -> Bool {
    s.count > 1 && s.hasPrefix("-") && Double(s) != nil
}

func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    for i in 1...x.count {
        var cur = [i] + Array(repeating: 0, count: y.count)
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[y.count]
}
