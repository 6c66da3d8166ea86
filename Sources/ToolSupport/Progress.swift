import Foundation

/// A progress line on stderr: redrawn in place on a terminal, otherwise printed at most every few
/// seconds (and at the end) so logs stay short.
public final class ProgressLine {
    private let console: any Console
    private let label: String
    private let total: Int
    private let start = Date()
    private var lastPrint = Date.distantPast
    private var lastLength = 0
    public var quiet = false

    public init(console: any Console, label: String, total: Int) {
        self.console = console
        self.label = label
        self.total = total
    }

    /// Elapsed seconds since creation.
    public var elapsed: Double { Date().timeIntervalSince(start) }

    /// Reports `done` of `total` units with a detail string (tensor name, tokens/s...).
    public func update(_ done: Int, _ detail: String = "") {
        guard !quiet else { return }
        let now = Date()
        let finished = done >= total
        let interval = console.errIsTerminal ? 0.1 : 5.0
        guard finished || now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        let t = elapsed
        var line = "\(label) [\(done)/\(total)]"
        if total > 0 { line += String(format: " %3.0f%%", 100.0 * Double(done) / Double(total)) }
        line += String(format: " %.1fs", t)
        if done > 0 && !finished && total > 0 {
            let eta = t / Double(done) * Double(total - done)
            line += String(format: ", ETA %.0fs", eta)
        }
        if !detail.isEmpty { line += " " + detail }
        if console.errIsTerminal {
            let pad = max(0, lastLength - line.count)
            console.err("\r" + line + String(repeating: " ", count: pad) + (finished ? "\n" : ""))
            lastLength = line.count
        } else {
            console.err(line + "\n")
        }
    }
}
