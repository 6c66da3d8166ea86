import Foundation
import GGUF
import Inference
import TestSupport

/// Locations and readers shared by the vocabulary tests.
enum VocabTestData {
    static let fixtures = TestPaths.fixtures.appendingPathComponent("vocab")

    static func load(_ url: URL) throws -> GGUFVocabulary {
        try GGUFVocabulary(file: GGUFFile(path: url.path))
    }

    /// The cases of an `.inp` file (test-tokenizer-0.cpp `read_tests`).
    static func inputs(_ url: URL) throws -> [[UInt8]] {
        let raw = [UInt8](try Data(contentsOf: url))
        let sep = Array("\n__ggml_vocab_test__\n".utf8)
        var cases: [[UInt8]] = []
        var pos = 0
        while pos < raw.count {
            guard let next = find(sep, in: raw, from: pos) else {
                cases.append(Array(raw[pos...]))
                break
            }
            cases.append(Array(raw[pos..<next]))
            pos = next + sep.count
        }
        return cases
    }

    /// One line of space-separated ids per case (leading / trailing spaces ignored).
    static func outputs(_ url: URL) throws -> [[Int32]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines.map { $0.split(separator: " ").compactMap { Int32($0) } }
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Comma-joined ids and their sha256 (the wiki-test-ids.tsv digest).
    static func digest(_ ids: [Int32]) -> String {
        var h = SHA256()
        h.update(ids.map(String.init).joined(separator: ",").utf8)
        return SHA256.hexString(h.finalize())
    }
}
