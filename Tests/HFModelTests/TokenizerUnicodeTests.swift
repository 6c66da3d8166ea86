import Testing
import Foundation
import TestSupport
@testable import HFModel

/// Every scalar of planes 0-2 through each character class and Unicode normalizer, compared with
/// the Python tokenizers package (the Unicode versions of its tables differ: 16.0 for the regex
/// classes, 8.0 for Punctuation, 9.0 for normalization).
@Suite("character classes and normalizers, every scalar, against tokenizers")
struct TokenizerUnicodeTests {
    static let script = #"""
    import sys
    from tokenizers.pre_tokenizers import Punctuation, Digits, WhitespaceSplit, Whitespace, ByteLevel
    from tokenizers.normalizers import NFC, NFD, NFKC, NFKD, Lowercase
    p, d, ws, w = Punctuation(), Digits(individual_digits=True), WhitespaceSplit(), Whitespace()
    bl = ByteLevel(add_prefix_space=False)
    norms = [NFC(), NFD(), NFKC(), NFKD(), Lowercase()]
    out = []
    for c in list(range(0x80, 0xD800)) + list(range(0xE000, 0x30000)):
        ch = chr(c)
        P = len(p.pre_tokenize_str("a" + ch + "b")) == 3
        D = len(d.pre_tokenize_str("a" + ch + "b")) == 3
        S = len(ws.pre_tokenize_str("a" + ch + "b")) == 2
        r = w.pre_tokenize_str("a" + ch)
        W = len(r) == 1 and r[0][0] == "a" + ch
        if len(bl.pre_tokenize_str("a" + ch)) == 1: B = "L"
        elif len(bl.pre_tokenize_str("1" + ch)) == 1: B = "N"
        elif len(bl.pre_tokenize_str("!" + ch)) == 1: B = "O"
        else: B = "S"
        ns = ["." if n.normalize_str(ch) == ch else ",".join("%x" % ord(x) for x in n.normalize_str(ch)) for n in norms]
        out.append("%x %d%d%d%d%s %s" % (c, P, D, S, W, B, " ".join(ns)))
    open(sys.argv[1], "w").write("\n".join(out) + "\n")
    """#

    @Test("classes and NFC/NFD/NFKC/NFKD/Lowercase match for every scalar", .golden)
    func everyScalar() throws {
        try PythonTokenizers.require()
        let dir = TemporaryDirectory("unicode")
        let file = dir.file("classes.txt")
        let r = try #require(PythonTokenizers.python(["-c", TokenizerUnicodeTests.script, file]))
        try #require(r.status == 0, "\(r.stderr)")
        let norms: [TokenizerNormalizer] = [.nfc, .nfd, .nfkc, .nfkd, .lowercase]
        var failures: [String: [String]] = [:]
        var lines = 0
        for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") {
            lines += 1
            let f = line.split(separator: " ").map(String.init)
            let u = Unicode.Scalar(UInt32(f[0], radix: 16)!)!
            let flags = Array(f[1])
            let bl: Character = CharClass.isWhitespace(u) ? "S" : CharClass.isLetter(u) ? "L" : CharClass.isNumber(u) ? "N" : "O"
            let got: [(String, Bool)] = [
                ("Punctuation", CharClass.isPunctuation(u) == (flags[0] == "1")),
                ("Digits", CharClass.isNumeric(u) == (flags[1] == "1")),
                ("WhitespaceSplit", CharClass.isWhitespace(u) == (flags[2] == "1")),
                ("Whitespace \\w", CharClass.isWordChar(u) == (flags[3] == "1")),
                ("ByteLevel classes", bl == flags[4]),
            ]
            for (name, ok) in got where !ok { failures[name, default: []].append(f[0]) }
            for (k, n) in norms.enumerated() {
                let out = n.apply([u])
                let expected = f[2 + k] == "." ? [u] : f[2 + k].split(separator: ",").map { Unicode.Scalar(UInt32($0, radix: 16)!)! }
                if out != expected { failures["\(n)", default: []].append(f[0]) }
            }
        }
        #expect(lines > 190_000)
        for (name, codes) in failures.sorted(by: { $0.key < $1.key }) {
            Issue.record("\(name): \(codes.count) scalars differ, e.g. \(codes.prefix(10).joined(separator: " "))")
        }
    }
}
