import Foundation
import Testing
import TestSupport
@testable import HFModel

/// The Python `tokenizers` package as a reference (.ci/requirements.txt pins it): tests using it
/// are golden tests (they skip without it, and fail in CI).
enum PythonTokenizers {
    static let available: Bool = python(["-c", "import tokenizers"])?.status == 0

    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Golden.require(available, "python3 with tokenizers", sourceLocation: sourceLocation)
    }

    /// `runPython`, one call at a time: the parallel tests of this target would otherwise start
    /// several Python processes each loading a tokenizer on a 2-core machine.
    static func python(_ args: [String]) -> (status: Int32, stdout: String, stderr: String)? {
        lock.lock()
        defer { lock.unlock() }
        return runPython(args)
    }

    private static let lock = NSLock()

    private static let script = """
    import json, sys
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(sys.argv[1])
    texts = json.load(open(sys.argv[2], encoding="utf-8"))
    out = [e.ids for e in t.encode_batch(texts, add_special_tokens=sys.argv[3] == "1")]
    json.dump(out, open(sys.argv[4], "w"))
    json.dump([t.decode(ids, skip_special_tokens=False) for ids in out], open(sys.argv[4] + ".text", "w"))
    """

    /// Ids from `tokenizers.Tokenizer.from_file(path).encode_batch(texts)`; nil when Python fails.
    static func encode(tokenizer path: String, texts: [String], addSpecialTokens: Bool,
                       dir: TemporaryDirectory) throws -> [[Int]]? {
        try encodeDecode(tokenizer: path, texts: texts, addSpecialTokens: addSpecialTokens, dir: dir)?.ids
    }

    /// Ids as `encode`, plus `decode(ids)` of each.
    static func encodeDecode(tokenizer path: String, texts: [String], addSpecialTokens: Bool,
                             dir: TemporaryDirectory) throws -> (ids: [[Int]], decoded: [String])? {
        let input = dir.file("texts-\(UUID().uuidString).json")
        let output = input + ".ids"
        try JSONValue.array(texts.map { .string($0) }).serialized().write(toFile: input, atomically: false, encoding: .utf8)
        guard let r = python(["-c", script, path, input, addSpecialTokens ? "1" : "0", output]), r.status == 0 else {
            return nil
        }
        let v = try JSONParser.parseFile(output)
        let d = try JSONParser.parseFile(output + ".text")
        guard let ids = v.array?.map({ $0.array?.compactMap(\.int) ?? [] }), let text = d.array?.compactMap(\.string) else {
            return nil
        }
        return (ids, text)
    }
}

/// Seeded random text mixing scripts, whitespace kinds, digits, emoji and combining marks.
enum RandomText {
    static let pools: [[Unicode.Scalar]] = {
        func r(_ a: UInt32, _ b: UInt32) -> [Unicode.Scalar] { (a...b).compactMap(Unicode.Scalar.init) }
        return [
            r(0x20, 0x7E), r(0x20, 0x7E), r(0x61, 0x7A), Array(" \t\n\r\n  ".unicodeScalars),
            Array("'s 're 've 'll 'd 'm 't 'S 'RE".unicodeScalars),
            r(0xA0, 0x17F), r(0x370, 0x3FF), r(0x400, 0x4FF), r(0x600, 0x6FF), r(0x900, 0x97F), r(0xE00, 0xE5B),
            r(0x1780, 0x17F9), r(0x3040, 0x30FF), r(0x4E00, 0x4E80), r(0xAC00, 0xAC80), r(0xFF01, 0xFF5E),
            r(0x300, 0x36F), r(0x2000, 0x206F), r(0x2150, 0x218B), r(0x2200, 0x22FF),
            Array("\u{85}\u{A0}\u{1680}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{180E}\u{200B}\u{FEFF}".unicodeScalars),
            Array("٠١٢٣٤٥٦٧٨٩०१२३४५६७८९½²³¼ⅫⅣ①".unicodeScalars),
            r(0x1F300, 0x1F64F), r(0x1F900, 0x1F9FF), Array("\u{200D}\u{FE0F}\u{1F3FB}\u{1F3FF}".unicodeScalars),
        ]
    }()

    /// A string of `length` scalars; also, with probability 1/3 each, a random assigned scalar
    /// from Unicode 12 or older anywhere in planes 0-1.
    static func make(_ rng: inout SplitMix64, length: Int) -> String {
        var s = String()
        var runPool = pools[0]
        for i in 0..<length {
            if i % 4 == 0 { runPool = pools[Int(rng.next() % UInt64(pools.count))] }
            if rng.next() % 3 == 0 {
                while true {
                    guard let u = Unicode.Scalar(UInt32(rng.next() % 0x1FFFF)), let age = u.properties.age,
                          age.major <= 12, u.properties.generalCategory != .privateUse,
                          u.properties.generalCategory != .unassigned else { continue }
                    s.unicodeScalars.append(u)
                    break
                }
            } else {
                s.unicodeScalars.append(runPool[Int(rng.next() % UInt64(runPool.count))])
            }
        }
        return s
    }

    /// `n`, or `SWIFT_GGUF_FUZZ_COUNT` when set (for longer runs by hand).
    static func count(_ n: Int) -> Int {
        ProcessInfo.processInfo.environment["SWIFT_GGUF_FUZZ_COUNT"].flatMap { Int($0) } ?? n
    }

    static func batch(seed: UInt64, count: Int, maxLength: Int = 60) -> [String] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in make(&rng, length: 1 + Int(rng.next() % UInt64(maxLength))) }
    }
}

/// Lines of wikitext-2 test (../shared/data): a golden input.
func wikiLines(_ count: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
    let u = try Golden.require(shared: "data/wikitext-2-raw/wiki.test.raw", sourceLocation: sourceLocation)
    let text = try String(contentsOf: u, encoding: .utf8)
    return Array(text.components(separatedBy: "\n").filter { !$0.isEmpty }.prefix(count))
}

/// "U+0041 U+1F600 ..." for failure messages (debugDescription may hide normalization differences).
func scalarDump(_ s: String) -> String {
    s.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
}
