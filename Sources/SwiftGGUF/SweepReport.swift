import Foundation
import GGUF
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Sweep {
    // MARK: Files

    /// The report paths of `prefix`: `PREFIX.md`, `PREFIX.json`, `PREFIX.svg`.
    public static func reportPaths(prefix: String) -> [String] {
        reportExtensions.map { "\(prefix).\($0)" }
    }

    /// Checks, before a sweep starts, that its reports can be written: the prefix names a file in
    /// a writable folder, no report exists unless `force`, and none is one of `inputs`.
    /// - Throws: `SwiftGGUFError` (`.output`) naming the path at fault.
    public static func checkOutputs(prefix: String, force: Bool, inputs: [String] = []) throws(SwiftGGUFError) {
        guard !prefix.isEmpty, !prefix.hasSuffix("/"), (prefix as NSString).lastPathComponent != "." ,
              (prefix as NSString).lastPathComponent != ".." else {
            throw SwiftGGUFError(.output, "'\(prefix)': the output prefix must end in a file name (e.g. DIR/NAME for "
                                 + "DIR/NAME.md, .json, .svg)")
        }
        for p in reportPaths(prefix: prefix) { try OutputPath.check(p, inputs: inputs, force: force) }
    }

    /// Writes `PREFIX.md`, `PREFIX.json` and `PREFIX.svg`. All three are written under temporary
    /// names first and renamed into place only when all three are complete: on an error none of
    /// them is left half-written (and an existing report is replaced only with `force`).
    /// - Returns: the three paths.
    @discardableResult
    public static func write(_ result: SweepResult, prefix: String, force: Bool = false,
                             inputs: [String] = []) throws(SwiftGGUFError) -> [String] {
        try checkOutputs(prefix: prefix, force: force, inputs: inputs)
        let paths = reportPaths(prefix: prefix)
        let contents = [markdown(result), json(result), svg(result)]
        var temporaries: [(path: String, slot: Int)] = []
        defer {
            for t in temporaries {
                unlink(t.path)
                TemporaryFiles.unregister(t.slot)
            }
        }
        for (path, text) in zip(paths, contents) {
            let tmp = "\(path).tmp-\(UUID().uuidString.prefix(8))"
            temporaries.append((tmp, TemporaryFiles.register(tmp)))
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: tmp)) } catch {
                throw SwiftGGUFError(.io, "\(path): cannot write the report: \(error.localizedDescription)")
            }
        }
        for (t, path) in zip(temporaries, paths) {
            guard rename(t.path, path) == 0 else {
                throw SwiftGGUFError(.io, "\(path): cannot move the report into place: \(String(cString: strerror(errno)))")
            }
        }
        return paths
    }

    // MARK: Markdown and JSON

    /// The report as a Markdown table: the base first, then each type in order, ★ on the Pareto front.
    public static func markdown(_ r: SweepResult) -> String {
        var s = "# Quantization sweep: \(r.modelName)\n\n"
        s += "Model `\(r.model)`; text `\(r.text)`: \(r.chunks) chunks of \(r.contextLength) tokens "
        s += "(\(r.tokensScored) scored); weighting: \(r.weighting). "
        s += "KL-divergence from the base (\(r.base.type)) as `llama-perplexity --kl-divergence` computes it; "
        s += "★: on the Pareto front of size and mean KLD.\n\n"
        s += "| Type | Size (MiB) | BPW | PPL | Mean KLD | KLD 99% | Same top | Time (s) | Pareto |\n"
        s += "|:--|--:|--:|--:|--:|--:|--:|--:|:-:|\n"
        func ppl(_ e: SweepEntry) -> String {
            String(format: "%.4f", e.perplexity) + (e.perplexityUncertainty.map { String(format: " ± %.4f", $0) } ?? "")
        }
        let b = r.base
        s += "| \(b.type) (base) | " + String(format: "%.2f | %.3f | ", Double(b.fileBytes) / 1048576, b.bitsPerWeight)
        s += ppl(b) + " | – | – | – | " + String(format: "%.1f", b.seconds) + " |  |\n"
        for e in r.entries {
            s += "| \(e.type) | " + String(format: "%.2f | %.3f | ", Double(e.fileBytes) / 1048576, e.bitsPerWeight)
            s += ppl(e) + String(format: " | %.6f ± %.6f | %.6f | %.2f %% | %.1f | ", e.meanKLD, e.meanKLDUncertainty,
                                 e.kld99, 100 * e.sameTop, e.seconds)
            s += (e.paretoOptimal ? "★" : "") + " |\n"
        }
        s += String(format: "\nSweep time: %.1f s.\n", r.seconds)
        return s
    }

    /// The report as pretty-printed JSON with sorted keys (a non-finite number is written as a string).
    public static func json(_ r: SweepResult) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let d = try? enc.encode(r) else { return "{}\n" }
        return String(decoding: d, as: UTF8.self) + "\n"
    }

    // MARK: SVG

    /// One axis of the chart: its range, scale and ticks.
    public struct ChartAxis: Sendable, Equatable {
        public var low: Double
        public var high: Double
        /// True for a base-10 logarithmic axis.
        public var logarithmic: Bool
        /// Tick values, increasing, all within `low...high`.
        public var ticks: [Double]

        /// Maps `v` to 0...1 along the axis.
        public func position(_ v: Double) -> Double {
            if logarithmic { return (log10(v) - log10(low)) / (log10(high) - log10(low)) }
            return (v - low) / (high - low)
        }

        /// A linear axis over `values` with about five round ticks (steps of 1, 2 or 5 × 10ⁿ),
        /// its ends on ticks.
        public static func linear(_ values: [Double]) -> ChartAxis {
            var lo = values.min() ?? 0, hi = values.max() ?? 1
            if hi - lo <= 0 {
                let pad = lo == 0 ? 1 : abs(lo) * 0.1
                lo -= pad
                hi += pad
            }
            let raw = (hi - lo) / 5
            let magnitude = pow(10, floor(log10(raw)))
            let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
            let first = floor(lo / step), last = ceil(hi / step)
            let ticks = stride(from: first, through: last, by: 1).map { $0 * step }
            return ChartAxis(low: first * step, high: last * step, logarithmic: false, ticks: ticks)
        }

        /// A logarithmic axis over positive `values`, from the decade below the smallest to the
        /// decade above the largest; ticks at each power of ten (and at 2 and 5 × when it spans
        /// fewer than three decades).
        public static func logarithmic(_ values: [Double]) -> ChartAxis {
            let lo = floor(log10(values.min() ?? 1)), hi = max(lo + 1, ceil(log10(values.max() ?? 10)))
            var ticks: [Double] = []
            for e in stride(from: lo, through: hi, by: 1) {
                let d = pow(10, e)
                ticks.append(d)
                if hi - lo < 3 && e < hi { ticks += [2 * d, 5 * d] }
            }
            return ChartAxis(low: pow(10, lo), high: pow(10, hi), logarithmic: true, ticks: ticks)
        }

        /// The axis for `values`: logarithmic when all are positive and they span a factor of 10 or more.
        public static func fitting(_ values: [Double]) -> ChartAxis {
            let finite = values.filter(\.isFinite)
            if let lo = finite.min(), let hi = finite.max(), lo > 0, hi / lo >= 10 { return logarithmic(finite) }
            var a = linear(finite + [0])
            a.ticks = a.ticks.filter { $0 >= a.low }
            return a
        }
    }

    /// The chart: file size (MiB) against mean KL-divergence, one labelled point per type, the
    /// Pareto front filled and joined. A self-contained SVG document (no scripts, links, images
    /// or external fonts).
    public static func svg(_ r: SweepResult) -> String {
        let width = 800.0, height = 520.0
        let left = 90.0, right = 40.0, top = 60.0, bottom = 70.0
        let plotW = width - left - right, plotH = height - top - bottom
        let points = r.entries.filter { $0.meanKLD.isFinite }
        // Sizes padded by 5 % of their span on each side, so no point sits on the frame.
        let sizes = points.map { Double($0.fileBytes) / 1048576 }
        let smallest = sizes.min() ?? 0, largest = sizes.max() ?? 1
        let xAxis = ChartAxis.linear([smallest - 0.05 * (largest - smallest), largest + 0.05 * (largest - smallest)])
        let yAxis = ChartAxis.fitting(points.map(\.meanKLD))
        func x(_ v: Double) -> Double { left + xAxis.position(v) * plotW }
        func y(_ v: Double) -> Double { top + plotH - yAxis.position(max(v, yAxis.logarithmic ? yAxis.low : v)) * plotH }
        func n(_ v: Double) -> String { String(format: "%.1f", v) }
        func label(_ v: Double) -> String {
            let s = String(format: "%g", v)
            return s.contains("e") ? String(format: "%.6f", v).replacingOccurrences(of: "0+$", with: "", options: .regularExpression) : s
        }
        let red = "#d62728", blue = "#1f77b4", grid = "#dddddd", ink = "#222222"

        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
        s += "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<title>\(xml("Quantization sweep: \(r.modelName): file size vs mean KL-divergence"))</title>\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        s += "<text x=\"\(n(width / 2))\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" fill=\"\(ink)\">"
        s += xml("\(r.modelName): size vs mean KL-divergence from \(r.base.type)") + "</text>\n"
        s += "<text x=\"\(n(width / 2))\" y=\"46\" text-anchor=\"middle\" fill=\"#555555\">"
        s += xml("\((r.text as NSString).lastPathComponent), \(r.chunks) × \(r.contextLength) tokens; weighting: \(r.weighting)")
        s += "</text>\n"

        // Grid, ticks and tick labels.
        s += "<g class=\"axes\" stroke-width=\"1\">\n"
        for t in xAxis.ticks {
            let px = n(x(t))
            s += "<line x1=\"\(px)\" y1=\"\(n(top))\" x2=\"\(px)\" y2=\"\(n(top + plotH))\" stroke=\"\(grid)\"/>\n"
            s += "<line x1=\"\(px)\" y1=\"\(n(top + plotH))\" x2=\"\(px)\" y2=\"\(n(top + plotH + 5))\" stroke=\"\(ink)\"/>\n"
            s += "<text x=\"\(px)\" y=\"\(n(top + plotH + 19))\" text-anchor=\"middle\" fill=\"\(ink)\">\(label(t))</text>\n"
        }
        for t in yAxis.ticks {
            let py = n(y(t))
            s += "<line x1=\"\(n(left))\" y1=\"\(py)\" x2=\"\(n(left + plotW))\" y2=\"\(py)\" stroke=\"\(grid)\"/>\n"
            s += "<line x1=\"\(n(left - 5))\" y1=\"\(py)\" x2=\"\(n(left))\" y2=\"\(py)\" stroke=\"\(ink)\"/>\n"
            s += "<text x=\"\(n(left - 8))\" y=\"\(py)\" dy=\"4\" text-anchor=\"end\" fill=\"\(ink)\">\(label(t))</text>\n"
        }
        s += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(plotW))\" height=\"\(n(plotH))\" fill=\"none\" stroke=\"\(ink)\"/>\n"
        s += "</g>\n"
        s += "<text x=\"\(n(left + plotW / 2))\" y=\"\(n(height - 22))\" text-anchor=\"middle\" fill=\"\(ink)\">file size (MiB)</text>\n"
        s += "<text transform=\"translate(22 \(n(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" fill=\"\(ink)\">"
        s += "mean KL-divergence\(yAxis.logarithmic ? " (log scale)" : "")</text>\n"

        // The Pareto front, then the points and their labels.
        let front = points.filter(\.paretoOptimal).sorted { $0.fileBytes < $1.fileBytes }
        if front.count > 1 {
            let coords = front.map { "\(n(x(Double($0.fileBytes) / 1048576))),\(n(y($0.meanKLD)))" }.joined(separator: " ")
            s += "<polyline class=\"pareto-front\" points=\"\(coords)\" fill=\"none\" stroke=\"\(red)\" stroke-width=\"2\" "
            s += "stroke-dasharray=\"6 4\"/>\n"
        }
        s += "<g class=\"points\">\n"
        for e in points {
            let px = n(x(Double(e.fileBytes) / 1048576)), py = n(y(e.meanKLD))
            let style = e.paretoOptimal ? "fill=\"\(red)\" stroke=\"\(red)\"" : "fill=\"#ffffff\" stroke=\"\(blue)\""
            s += "<circle cx=\"\(px)\" cy=\"\(py)\" r=\"6\" \(style) stroke-width=\"2\">"
            s += "<title>" + xml(String(format: "%@: %.2f MiB, %.3f bpw, mean KLD %.6f, PPL %.4f", e.type,
                                        Double(e.fileBytes) / 1048576, e.bitsPerWeight, e.meanKLD, e.perplexity)) + "</title></circle>\n"
            // Labels of points in the right fifth go to their left, so they stay inside the chart.
            let leftward = xAxis.position(Double(e.fileBytes) / 1048576) > 0.8
            s += "<text x=\"\(px)\" y=\"\(py)\" dx=\"\(leftward ? -9 : 9)\" dy=\"-9\"\(leftward ? " text-anchor=\"end\"" : "") "
            s += "fill=\"\(ink)\">\(xml(e.type))</text>\n"
        }
        s += "</g>\n"

        // Legend.
        let lx = left + plotW - 150, ly = top + 12
        s += "<g class=\"legend\">\n"
        s += "<rect x=\"\(n(lx - 10))\" y=\"\(n(ly - 12))\" width=\"155\" height=\"46\" fill=\"#ffffff\" stroke=\"\(grid)\"/>\n"
        s += "<circle cx=\"\(n(lx))\" cy=\"\(n(ly))\" r=\"6\" fill=\"\(red)\" stroke=\"\(red)\" stroke-width=\"2\"/>\n"
        s += "<text x=\"\(n(lx + 12))\" y=\"\(n(ly + 4))\" fill=\"\(ink)\">Pareto front</text>\n"
        s += "<circle cx=\"\(n(lx))\" cy=\"\(n(ly + 22))\" r=\"6\" fill=\"#ffffff\" stroke=\"\(blue)\" stroke-width=\"2\"/>\n"
        s += "<text x=\"\(n(lx + 12))\" y=\"\(n(ly + 26))\" fill=\"\(ink)\">dominated</text>\n"
        s += "</g>\n</svg>\n"
        return s
    }

    /// `s` with XML's special characters escaped.
    static func xml(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }
}
