import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SwiftGGUF
import Testing
import TestSupport

/// The sweep's reports without running a model: Pareto front, axes, Markdown, JSON and a
/// well-formed, self-contained SVG.
@Suite("Sweep reports")
struct SweepReportTests {
    static func entry(_ type: String, mib: Double, kld: Double, pareto: Bool = false) -> SweepEntry {
        SweepEntry(type: type, fileBytes: Int(mib * 1048576), bitsPerWeight: mib / 10, perplexity: 17 + kld * 10,
                   perplexityUncertainty: 0.5, meanKLD: kld, meanKLDUncertainty: kld / 20, kld99: kld * 8, sameTop: 1 - kld,
                   quantizeSeconds: 1.5, evaluateSeconds: 2.25, paretoOptimal: pareto)
    }

    /// A SmolLM2-like sweep; Q3_K_M_bad is larger and worse than Q4_K_M (dominated). The model name
    /// has XML's special characters.
    static func result() -> SweepResult {
        var entries = [entry("Q8_0", mib: 138, kld: 0.0012), entry("Q6_K", mib: 132, kld: 0.0049),
                       entry("Q4_K_M", mib: 101, kld: 0.041), entry("IQ4_XS", mib: 95, kld: 0.047),
                       entry("Q3_K_M_bad", mib: 104, kld: 0.12), entry("Q3_K_M", mib: 88, kld: 0.15)]
        for i in Sweep.paretoFront(entries.map { ($0.fileBytes, $0.meanKLD) }) { entries[i].paretoOptimal = true }
        return SweepResult(model: "/m/a&b<c>.gguf", modelName: "A & B <\"c\">", text: "/d/wiki.eval.raw", contextLength: 512,
                           chunks: 8, tokensScored: 2040, weighting: "none",
                           base: entry("F32", mib: 513, kld: 0), entries: entries, seconds: 100)
    }

    @Test("Pareto front: dominated points are left out, ties kept, order by size")
    func paretoFront() {
        // (size, divergence) → indices on the front, in increasing size.
        #expect(Sweep.paretoFront([]) == [])
        #expect(Sweep.paretoFront([(10, 1)]) == [0])
        #expect(Sweep.paretoFront([(10, 1), (20, 0.5), (15, 2)]) == [0, 1])          // (15, 2) is beaten by (10, 1)
        #expect(Sweep.paretoFront([(30, 0.1), (10, 1), (20, 0.5)]) == [1, 2, 0])     // all on it, sorted by size
        #expect(Sweep.paretoFront([(10, 1), (10, 1)]) == [0, 1])                      // equal points both stay
        #expect(Sweep.paretoFront([(10, 1), (10, 2)]) == [0])                         // same size, worse
        #expect(Sweep.paretoFront([(10, 1), (12, 1)]) == [0])                         // same divergence, larger
        #expect(Sweep.paretoFront([(10, .nan), (20, 1)]) == [1])                      // NaN never on it
        let r = Self.result()
        #expect(r.entries.filter(\.paretoOptimal).map(\.type) == ["Q8_0", "Q6_K", "Q4_K_M", "IQ4_XS", "Q3_K_M"])
    }

    @Test("axes: round linear ticks, decades on a log axis, log only for a wide positive range")
    func axes() {
        let lin = Sweep.ChartAxis.linear([0.45, 0.89])
        #expect(lin.ticks == (4...9).map { Double($0) * 0.1 })
        #expect(lin.low == 0.4 && abs(lin.high - 0.9) < 1e-12 && !lin.logarithmic)
        let log = Sweep.ChartAxis.logarithmic([0.0012, 0.15])
        #expect(log.logarithmic && log.low == 0.001 && log.high == 1)
        #expect(log.ticks.count == 4)
        let narrow = Sweep.ChartAxis.logarithmic([0.02, 0.05])
        #expect(narrow.ticks.map { ($0 * 1000).rounded() } == [10, 20, 50, 100])
        #expect(Sweep.ChartAxis.fitting([0.0012, 0.15]).logarithmic)
        #expect(!Sweep.ChartAxis.fitting([0.02, 0.05]).logarithmic)
        #expect(!Sweep.ChartAxis.fitting([0, 0.05]).logarithmic)
        let flat = Sweep.ChartAxis.linear([5, 5])
        #expect(flat.low < 5 && flat.high > 5)
        for a in [lin, log, narrow, flat] {
            #expect(a.ticks.allSatisfy { $0 >= a.low - 1e-12 && $0 <= a.high + 1e-12 })
            #expect(abs(a.position(a.low)) < 1e-12 && abs(a.position(a.high) - 1) < 1e-12)
        }
    }

    @Test("the SVG is well-formed XML, self-contained, one labelled point per type, front marked")
    func svgWellFormed() throws {
        let svg = Sweep.svg(Self.result())
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = SVGCollector()
        parser.delegate = collector
        #expect(parser.parse(), "XMLParser: \(String(describing: parser.parserError))")
        #expect(collector.root == "svg")
        #expect(collector.circles == 6 + 2, "one circle per type plus two in the legend")
        #expect(collector.polylines == 1)
        for t in ["Q8_0", "Q6_K", "Q4_K_M", "IQ4_XS", "Q3_K_M_bad", "Q3_K_M"] {
            #expect(collector.texts.contains(t), "label \(t)")
        }
        #expect(collector.texts.contains { $0.contains("A & B <\"c\">") }, "the title, unescaped by the parser")
        #expect(collector.texts.contains("file size (MiB)") && collector.texts.contains("mean KL-divergence (log scale)"))
        #expect(collector.texts.contains("0.001") && collector.texts.contains("0.1"), "decade ticks")
        // Self-contained: nothing fetched or run.
        for needle in ["href", "url(", "<script", "<image", "@import", "<foreignObject", "<use", "xlink", "<style"] {
            #expect(!svg.contains(needle), "\(needle) in the SVG")
        }
        #expect(collector.attributeValues.allSatisfy { !$0.contains("://") || $0 == "http://www.w3.org/2000/svg" })
    }

    @Test("Markdown: base row, one row per type, ★ on the front; JSON reads back")
    func markdownAndJSON() throws {
        let r = Self.result()
        let md = Sweep.markdown(r)
        let rows = md.split(separator: "\n").filter { $0.hasPrefix("| ") }
        #expect(rows.count == 1 + 1 + 6, "header, base, six types")
        #expect(rows[1].hasPrefix("| F32 (base) | 513.00 | 51.300 | 17.0000 ± 0.5000 | – |"))
        #expect(rows[4] == "| Q4_K_M | 101.00 | 10.100 | 17.4100 ± 0.5000 | 0.041000 ± 0.002050 | 0.328000 | 95.90 % | 3.8 | ★ |")
        #expect(rows[6].hasPrefix("| Q3_K_M_bad |") && rows[6].hasSuffix("|  |"))
        let back = try JSONDecoder().decode(SweepResult.self, from: Data(Sweep.json(r).utf8))
        #expect(back == r)
    }

    @Test("write: three files at once, an existing report refused without force, a folder prefix refused")
    func writeFiles() throws {
        let tmp = TemporaryDirectory("sweep-write")
        let prefix = tmp.file("r")
        let paths = try Sweep.write(Self.result(), prefix: prefix)
        #expect(paths == [prefix + ".md", prefix + ".json", prefix + ".svg"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted() == ["r.json", "r.md", "r.svg"])
        #expect(throws: SwiftGGUFError.self) { try Sweep.write(Self.result(), prefix: prefix) }
        try Sweep.write(Self.result(), prefix: prefix, force: true)
        #expect(throws: SwiftGGUFError.self) { try Sweep.write(Self.result(), prefix: tmp.path + "/") }
        #expect(throws: SwiftGGUFError.self) { try Sweep.write(Self.result(), prefix: tmp.file("missing/r")) }
        #expect(throws: SwiftGGUFError.self) { try Sweep.write(Self.result(), prefix: prefix, force: true, inputs: [prefix + ".md"]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted() == ["r.json", "r.md", "r.svg"])
    }

    @Test("type lists: names any case, unknown, repeated, numbers and COPY refused")
    func typeLists() throws {
        #expect(try SweepOptions.parseTypes("Q8_0,q6_k, Q4_K_M").map(\.name) == ["Q8_0", "Q6_K", "Q4_K_M"])
        for bad in ["Q8_0,Q9_K", "", "Q8_0,,Q6_K", "Q8_0,Q8_0", "Q4_K,Q4_K_M", "7", "COPY"] {
            #expect(throws: SwiftGGUFError.self, "\(bad)") { try SweepOptions.parseTypes(bad) }
        }
        do {
            _ = try SweepOptions.parseTypes("Q8_0,Q9_K")
        } catch {
            #expect(error.kind == .invalidOptions)
            #expect(error.message.hasPrefix("unknown quantization type 'Q9_K' in 'Q8_0,Q9_K'; valid types: "))
        }
    }
}

/// Collects what the SVG tests look at.
final class SVGCollector: NSObject, XMLParserDelegate {
    var root: String?
    var circles = 0, polylines = 0
    var texts: [String] = []
    var attributeValues: [String] = []
    private var current: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name }
        if name == "circle" { circles += 1 }
        if name == "polyline" { polylines += 1 }
        if name == "text" || name == "title" { current = "" }
        attributeValues += attributes.values
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current? += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" || name == "title", let c = current {
            texts.append(c)
            current = nil
        }
    }
}
