import Foundation

/// A progress line on stderr: redrawn in place on a terminal, otherwise printed at most every few
/// seconds (and at the end) so logs stay short.
public final class ProgressLine {
    private let screen: StatusLine
    private let label: String
    private let total: Int
    private let start = Date()
    public var quiet = false

    public init(console: any Console, label: String, total: Int) {
        self.screen = StatusLine(console: console)
        self.label = label
        self.total = total
    }

    /// Elapsed seconds since creation.
    public var elapsed: Double { Date().timeIntervalSince(start) }

    /// Reports `done` of `total` units with a detail string (tensor name, tokens/s...).
    public func update(_ done: Int, _ detail: String = "") {
        guard !quiet else { return }
        let finished = done >= total
        guard screen.due(force: finished) else { return }
        let t = elapsed
        var line = "\(label) [\(done)/\(total)]"
        if total > 0 { line += String(format: " %3.0f%%", 100.0 * Double(done) / Double(total)) }
        line += String(format: " %.1fs", t)
        if done > 0 && !finished && total > 0 {
            let eta = t / Double(done) * Double(total - done)
            line += String(format: ", ETA %.0fs", eta)
        }
        if !detail.isEmpty { line += " " + detail }
        screen.draw(line, finish: finished)
    }
}

/// One status line on stderr, shared by the progress printers: on a terminal it is redrawn in
/// place at most every 0.1 s; otherwise each draw is a line of its own, at most every 5 s.
final class StatusLine {
    private let console: any Console
    private var lastPrint = Date.distantPast
    private var lastLength = 0
    /// Whether a drawn line is still open on a terminal (not ended by a newline).
    private(set) var open = false

    init(console: any Console) { self.console = console }

    /// Whether a draw is due now (always when `force`); a due draw restarts the interval.
    func due(force: Bool) -> Bool {
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) >= (console.errIsTerminal ? 0.1 : 5.0) else { return false }
        lastPrint = now
        return true
    }

    /// Draws `line`: over the previous one on a terminal (ending it with a newline when
    /// `finish`), else as a line of its own.
    func draw(_ line: String, finish: Bool) {
        guard console.errIsTerminal else {
            console.err(line + "\n")
            return
        }
        let pad = max(0, lastLength - line.count)
        console.err("\r" + line + String(repeating: " ", count: pad) + (finish ? "\n" : ""))
        lastLength = finish ? 0 : line.count
        open = !finish
    }

    /// Blanks an open line on a terminal, so that other output starts at the left margin.
    func clear() {
        guard open && console.errIsTerminal else { return }
        console.err("\r" + String(repeating: " ", count: lastLength) + "\r")
        open = false
        lastLength = 0
    }
}
