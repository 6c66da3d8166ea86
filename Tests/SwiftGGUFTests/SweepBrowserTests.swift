import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SwiftGGUF
import Testing
import TestSupport

/// The sweep's SVG in a real browser: headless Chromium takes a screenshot of the chart, and the
/// screenshot's pixels are checked (size, ink, and the colour at each point's centre: filled red on
/// the Pareto front, white inside the blue ring of a dominated type).
///
/// The browser is `$SWIFT_GGUF_CHROMIUM`, else the first of chromium-headless-shell, chromium,
/// chromium-browser, google-chrome on the PATH (.ci/run installs Debian's chromium-headless-shell).
/// The PNG is decoded by python3's standard library (zlib). `.golden`: skipped where no browser is
/// installed, a failure in CI. `SWIFT_GGUF_SWEEP_SCREENSHOT=FILE` keeps the screenshot.
@Suite("Sweep chart in a browser")
struct SweepBrowserTests {
    static func browser() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let b = env["SWIFT_GGUF_CHROMIUM"], !b.isEmpty { return FileManager.default.isExecutableFile(atPath: b) ? b : nil }
        let dirs = (env["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for name in ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"] {
            for d in dirs where FileManager.default.isExecutableFile(atPath: d + "/" + name) { return d + "/" + name }
        }
        return nil
    }

    /// Runs `path args`, killed after `timeout` seconds; returns the exit status and stderr.
    static func run(_ path: String, _ args: [String], timeout: Double) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        let err = try FileHandle(forWritingTo: errFile)
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        try? err.close()
        return (p.terminationStatus, String(decoding: (try? Data(contentsOf: errFile)) ?? Data(), as: UTF8.self))
    }

    /// Decodes an 8-bit RGB/RGBA PNG (python3, zlib only) and prints the size, the count of
    /// non-white pixels and the colour at each (x, y) given.
    static let decoder = #"""
import json, struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b'IDAT':
        idat += body
raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
px = lambda x, y: tuple(rows[y][x * bpp:x * bpp + 3])
ink = sum(1 for y in range(h) for x in range(w) if px(x, y) != (255, 255, 255))
points = [px(int(x), int(y)) for x, y in json.loads(sys.argv[2])]
print(json.dumps({'width': w, 'height': h, 'ink': ink, 'points': points}))
"""#

    @Test("headless Chromium renders the chart: size, ink, red Pareto points, hollow dominated point", .golden)
    func screenshot() throws {
        guard let browser = Self.browser() else {
            try skip("no Chromium (chromium-headless-shell, chromium, chromium-browser, google-chrome or $SWIFT_GGUF_CHROMIUM)")
        }
        let tmp = TemporaryDirectory("sweep-browser")
        let result = SweepReportTests.result()
        let svg = Sweep.svg(result)
        let svgPath = tmp.file("chart.svg"), png = tmp.file("chart.png")
        try Data(svg.utf8).write(to: URL(fileURLWithPath: svgPath))

        // Where the points are: the circles of the points group, in entry order.
        let parser = XMLParser(data: Data(svg.utf8))
        let circles = CircleCollector()
        parser.delegate = circles
        try #require(parser.parse())
        let points = Array(circles.centres.prefix(result.entries.count))
        try #require(points.count == result.entries.count)

        let (status, stderr) = try Self.run(browser, [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--user-data-dir=" + tmp.file("profile"), "--window-size=800,520", "--screenshot=" + png,
            URL(fileURLWithPath: svgPath).absoluteString,
        ], timeout: 120)
        try #require(status == 0 && FileManager.default.fileExists(atPath: png), "\(browser) exited \(status): \(stderr.suffix(2000))")
        if let keep = ProcessInfo.processInfo.environment["SWIFT_GGUF_SWEEP_SCREENSHOT"], !keep.isEmpty {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: png, toPath: keep)
        }

        let where_ = "[" + points.map { "[\($0.x),\($0.y)]" }.joined(separator: ",") + "]"
        guard let py = runPython(["-c", Self.decoder, png, where_]) else { try skip("python3 is not available") }
        try #require(py.status == 0, "PNG decoder: \(py.stderr)")
        let info = try #require(try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [String: Any])
        #expect(info["width"] as? Int == 800 && info["height"] as? Int == 520, "\(info)")
        let ink = info["ink"] as? Int ?? 0
        #expect(ink > 800 * 520 / 100 && ink < 800 * 520 / 2, "non-white pixels: \(ink)")
        let colours = (info["points"] as? [[Int]]) ?? []
        try #require(colours.count == points.count)
        func near(_ c: [Int], _ r: Int, _ g: Int, _ b: Int) -> Bool { abs(c[0] - r) + abs(c[1] - g) + abs(c[2] - b) < 60 }
        for (e, c) in zip(result.entries, colours) {
            if e.paretoOptimal {
                #expect(near(c, 0xd6, 0x27, 0x28), "\(e.type): centre \(c), expected the front's red")
            } else {
                #expect(near(c, 255, 255, 255), "\(e.type): centre \(c), expected a hollow (white) point")
            }
        }
    }
}

/// The centres of the SVG's circles, in document order.
final class CircleCollector: NSObject, XMLParserDelegate {
    var centres: [(x: Double, y: Double)] = []

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "circle", let x = attributes["cx"].flatMap(Double.init), let y = attributes["cy"].flatMap(Double.init) {
            centres.append((x, y))
        }
    }
}
