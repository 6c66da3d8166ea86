import Foundation
import Testing
import TestSupport
@testable import Evaluation
@testable import ToolSupport

/// llama-perplexity's --kl-divergence-base files: hostile headers, truncations and the malformed
/// corpus (Fixtures/malformed/kld) give one error naming the file and the field, never a trap.
@Suite("KL-divergence base file: hostile headers and truncation")
struct KLDBaseFileTests {
    /// A base file: header, tokens (`(7i+1) mod n_vocab` unless given), then the records.
    static func file(nCtx: UInt32, nVocab: Int32, nChunk: Int32, tokens: [Int32]? = nil, records: Int? = nil) -> [UInt8] {
        var b = Array("_logits_".utf8)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { b.append(contentsOf: $0) } }
        put(nCtx); put(nVocab); put(nChunk)
        let count = Int(nCtx) * Int(max(nChunk, 0))
        for t in tokens ?? (0..<count).map({ Int32((7 * $0 + 1) % Int(max(nVocab, 1))) }) { put(t) }
        let slots = 2 * ((Int(nVocab) + 1) / 2) + 4
        let n = records ?? Int(max(nChunk, 0)) * (Int(nCtx) - 1 - Int(nCtx) / 2) * slots
        for i in 0..<max(n, 0) { put(UInt16(truncatingIfNeeded: i &* 40503)) }
        return b
    }

    /// The error of reading `bytes` saved as `name`, or nil when the file reads completely.
    static func readError(_ bytes: [UInt8], _ name: String = "f.kld", in tmp: TemporaryDirectory) -> String? {
        let path = tmp.file(name)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return readError(path: path)
    }

    static func readError(path: String) -> String? {
        do throws(EvaluationError) {
            let r = try KLDivergenceBaseFile.Reader(path: path)
            var buf: [UInt16] = []
            for _ in 0..<r.chunks { try r.nextChunk(into: &buf) }
            return nil
        } catch {
            return error.description
        }
    }

    @Test("the 20-byte file of issue 11 (n_ctx 2^24, n_vocab 2^30+122, n_chunk 512) is refused naming n_vocab")
    func issue11() {
        let tmp = TemporaryDirectory("kld-issue11")
        let bytes = Self.file(nCtx: 1 << 24, nVocab: (1 << 30) + 122, nChunk: 512, tokens: [], records: 0)
        #expect(bytes.count == 20)
        let path = tmp.file("f.kld")
        #expect(Self.readError(bytes, in: tmp) == "\(path): header field n_vocab = 1073741946 (offset 12): one log-prob record "
                + "takes 2147483900 bytes; the file has only 20 bytes, expected at least 2147483920")
    }

    @Test("each header field hostile in turn")
    func hostileFields() {
        let tmp = TemporaryDirectory("kld-fields")
        let p = tmp.file("f.kld")
        // (n_ctx, n_vocab, n_chunk) → the error; every other field is valid for a 2-chunk file of n_ctx 4, n_vocab 3.
        let body = Array(Self.file(nCtx: 4, nVocab: 3, nChunk: 2).dropFirst(20))
        func header(_ c: UInt32, _ v: Int32, _ k: Int32) -> [UInt8] {
            Array(Self.file(nCtx: c, nVocab: v, nChunk: k, tokens: [], records: 0)) + body
        }
        let cases: [(UInt32, Int32, Int32, String)] = [
            (0, 3, 2, "header field n_ctx = 0 (offset 8): expected 3 ... 16777216 (at least one scored position per chunk)"),
            (2, 3, 2, "header field n_ctx = 2 (offset 8): expected 3 ... 16777216 (at least one scored position per chunk)"),
            (1 << 24 + 1, 3, 2, "header field n_ctx = 16777217 (offset 8): expected 3 ... 16777216 (at least one scored position per chunk)"),
            (.max, 3, 2, "header field n_ctx = 4294967295 (offset 8): expected 3 ... 16777216 (at least one scored position per chunk)"),
            (1 << 24, 3, 2, "header field n_ctx = 16777216 (offset 8): one chunk of 16777216 tokens and 8388607 records of 16 bytes "
                + "(n_vocab 3) needs 201326596 bytes with the header; the file has only 84 bytes"),
            (5, 3, 2, "header field n_chunk = 2 (offset 16): 2 chunks of 52 bytes (n_ctx 5, n_vocab 3) need 124 bytes in all; "
                + "the file has only 84 bytes (truncated?)"),
            (4, 0, 2, "header field n_vocab = 0 (offset 12): expected a positive vocabulary size"),
            (4, -1, 2, "header field n_vocab = -1 (offset 12): expected a positive vocabulary size"),
            (4, .min, 2, "header field n_vocab = -2147483648 (offset 12): expected a positive vocabulary size"),
            (4, .max, 2, "header field n_vocab = 2147483647 (offset 12): one log-prob record takes 4294967304 bytes; "
                + "the file has only 84 bytes, expected at least 4294967324"),
            (4, 30, 2, "header field n_vocab = 30 (offset 12): one log-prob record takes 68 bytes; "
                + "the file has only 84 bytes, expected at least 88"),
            (4, 5, 2, "header field n_chunk = 2 (offset 16): 2 chunks of 36 bytes (n_ctx 4, n_vocab 5) need 92 bytes in all; "
                + "the file has only 84 bytes (truncated?)"),
            (4, 3, 0, "header field n_chunk = 0 (offset 16): expected a positive chunk count"),
            (4, 3, -7, "header field n_chunk = -7 (offset 16): expected a positive chunk count"),
            (4, 3, .max, "header field n_chunk = 2147483647 (offset 16): 2147483647 chunks of 32 bytes (n_ctx 4, n_vocab 3) "
                + "need 68719476724 bytes in all; the file has only 84 bytes (truncated?)"),
            (4, 3, 3, "header field n_chunk = 3 (offset 16): 3 chunks of 32 bytes (n_ctx 4, n_vocab 3) need 116 bytes in all; "
                + "the file has only 84 bytes (truncated?)"),
        ]
        for (c, v, k, message) in cases {
            #expect(Self.readError(header(c, v, k), in: tmp) == "\(p): \(message)", "n_ctx \(c), n_vocab \(v), n_chunk \(k)")
        }
        #expect(Self.readError(header(4, 3, 2), in: tmp) == nil)
        #expect(Self.readError(header(4, 3, 1), in: tmp) == nil)   // trailing bytes are ignored, as llama-perplexity does
        // Tokens outside the vocabulary.
        var t = (0..<8).map { Int32($0 % 3) }
        t[5] = 3
        #expect(Self.readError(Self.file(nCtx: 4, nVocab: 3, nChunk: 2, tokens: t), in: tmp)
                == "\(p): token 1 of chunk 1 (offset 40) is 3, expected 0 ..< n_vocab 3")
        t[5] = -2
        #expect(Self.readError(Self.file(nCtx: 4, nVocab: 3, nChunk: 2, tokens: t), in: tmp)
                == "\(p): token 1 of chunk 1 (offset 40) is -2, expected 0 ..< n_vocab 3")
        // Not a base file.
        #expect(Self.readError(Array("GGUF\u{3}\0\0\0".utf8) + [UInt8](repeating: 0, count: 16), in: tmp)
                == "\(p): offset 0: magic is 'GGUF\\x03\\x00\\x00\\x00', expected '_logits_' (not a file of log-probabilities saved by --kl-divergence-base)")
        #expect(Self.readError(path: tmp.file("missing.kld")) == "\(tmp.file("missing.kld")): cannot open for reading")
    }

    @Test("every truncation of a small valid file is refused, naming the file")
    func truncation() {
        let tmp = TemporaryDirectory("kld-cut")
        let p = tmp.file("f.kld")
        for (c, v, k) in [(4, 3, 2), (7, 5, 3)] as [(UInt32, Int32, Int32)] {
            let good = Self.file(nCtx: c, nVocab: v, nChunk: k)
            #expect(Self.readError(good, in: tmp) == nil)
            for n in 0..<good.count {
                let e = Self.readError(Array(good.prefix(n)), in: tmp)
                #expect(e?.hasPrefix(p + ": ") == true, "prefix \(n) of \(good.count): \(e ?? "read")")
                let field = n < 8 ? "magic" : n < 12 ? "n_ctx" : n < 16 ? "n_vocab" : n < 20 ? "n_chunk" : nil
                if let field { #expect(e?.contains(field) == true, "prefix \(n): \(e ?? "read")") }
                else { #expect(e?.contains("header field n_") == true && e?.contains("the file has only \(n) bytes") == true, "prefix \(n): \(e ?? "read")") }
            }
        }
        // A file that shrinks after the header was checked: the chunk read names the offset.
        let good = Self.file(nCtx: 4, nVocab: 3, nChunk: 2)
        FileManager.default.createFile(atPath: p, contents: Data(good))
        do throws(EvaluationError) {
            let r = try KLDivergenceBaseFile.Reader(path: p)
            let expected: [Int32] = [1, 2, 0, 1, 2, 0, 1, 2]   // (7i + 1) mod 3
            #expect(r.tokens == expected)
            truncate(p, 60)
            var buf: [UInt16] = []
            try r.nextChunk(into: &buf)
            Issue.record("the second half of a shrunk file read")
        } catch {
            #expect(error.description == "\(p): the file ends at offset 60 in the log-probs of chunk 0 (expected 16 bytes from offset 52)")
        }
    }

    @Test("the writer's file reads back: header, tokens and every chunk's records")
    func roundTrip() throws {
        let tmp = TemporaryDirectory("kld-rt")
        let p = tmp.file("w.kld")
        let tokens: [Int32] = (0..<15).map { Int32($0 % 6) }
        let recLen = TokenScoring.recordLength(vocabulary: 6)
        let chunks = (0..<3).map { c in (0..<(2 * recLen)).map { UInt16(truncatingIfNeeded: $0 * 31 + c) } }
        let w = try KLDivergenceBaseFile.Writer(path: p, contextLength: 5, vocabulary: 6, chunks: 3, tokens: tokens[...])
        for c in chunks { try c.withUnsafeBufferPointer { try w.write(records: $0) } }
        try w.close()
        let r = try KLDivergenceBaseFile.Reader(path: p)
        #expect(r.contextLength == 5 && r.vocabulary == 6 && r.chunks == 3 && r.tokens == tokens)
        #expect(r.recordsPerChunk == 2 && r.recordLength == recLen)
        var buf: [UInt16] = []
        for c in chunks {
            try r.nextChunk(into: &buf)
            #expect(buf == c)
        }
        #expect(r.nextOffset == r.layout.totalBytes)
        #expect(throws: EvaluationError(file: p, "all 3 chunks (n_chunk) were already read")) { try r.nextChunk(into: &buf) }
        #expect(throws: EvaluationError(file: tmp.file("x.kld"), "n_ctx = 4294967296 does not fit the file's header (a positive int32)")) {
            try KLDivergenceBaseFile.Writer(path: tmp.file("x.kld"), contextLength: 1 << 32, vocabulary: 6, chunks: 3, tokens: [])
        }
    }

    /// The error each file of Fixtures/malformed/kld gives (nil: it reads).
    static let corpus: [String: String?] = [
        "issue-11.kld": "header field n_vocab = 1073741946 (offset 12): one log-prob record takes 2147483900 bytes; the file has only 20 bytes, expected at least 2147483920",
        "empty.kld": "the '_logits_' magic is cut off: the file has only 0 bytes, expected at least 20 (magic, n_ctx, n_vocab, n_chunk)",
        "truncated-magic.kld": "the '_logits_' magic is cut off: the file has only 5 bytes, expected at least 20 (magic, n_ctx, n_vocab, n_chunk)",
        "bad-magic.kld": "offset 0: magic is '_LOGITS_', expected '_logits_' (not a file of log-probabilities saved by --kl-divergence-base)",
        "gguf.kld": "offset 0: magic is 'GGUF\\x03\\x00\\x00\\x00', expected '_logits_' (not a file of log-probabilities saved by --kl-divergence-base)",
        "truncated-header.kld": "header field n_vocab is cut off: the file has only 14 bytes, expected at least 20 (magic, n_ctx, n_vocab, n_chunk)",
        "ctx-zero.kld": "header field n_ctx = 0 (offset 8): expected 3 ... 16777216 (at least one scored position per chunk)",
        "ctx-two.kld": "header field n_ctx = 2 (offset 8): expected 3 ... 16777216 (at least one scored position per chunk)",
        "ctx-huge.kld": "header field n_ctx = 4294967295 (offset 8): expected 3 ... 16777216 (at least one scored position per chunk)",
        "ctx-too-long.kld": "header field n_ctx = 1048576 (offset 8): one chunk of 1048576 tokens and 524287 records of 16 bytes (n_vocab 3) needs 12582916 bytes with the header; the file has only 84 bytes",
        "vocab-zero.kld": "header field n_vocab = 0 (offset 12): expected a positive vocabulary size",
        "vocab-negative.kld": "header field n_vocab = -3 (offset 12): expected a positive vocabulary size",
        "vocab-huge.kld": "header field n_vocab = 2147483647 (offset 12): one log-prob record takes 4294967304 bytes; the file has only 84 bytes, expected at least 4294967324",
        "chunks-zero.kld": "header field n_chunk = 0 (offset 16): expected a positive chunk count",
        "chunks-negative.kld": "header field n_chunk = -1 (offset 16): expected a positive chunk count",
        "chunks-huge.kld": "header field n_chunk = 2147483647 (offset 16): 2147483647 chunks of 32 bytes (n_ctx 4, n_vocab 3) need 68719476724 bytes in all; the file has only 84 bytes (truncated?)",
        "truncated-tokens.kld": "header field n_vocab = 3 (offset 12): one log-prob record takes 16 bytes; the file has only 30 bytes, expected at least 36",
        "truncated-records.kld": "header field n_chunk = 2 (offset 16): 2 chunks of 32 bytes (n_ctx 4, n_vocab 3) need 84 bytes in all; the file has only 83 bytes (truncated?)",
        "token-negative.kld": "token 3 of chunk 0 (offset 32) is -1, expected 0 ..< n_vocab 3",
        "token-past-vocab.kld": "token 2 of chunk 1 (offset 44) is 3, expected 0 ..< n_vocab 3",
        "trailing-bytes.kld": nil,
    ]

    @Test("Fixtures/malformed/kld: every file gives its error, and every file is listed")
    func malformedCorpus() throws {
        let dir = TestPaths.fixtures.appendingPathComponent("malformed/kld")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(Set(names) == Set(Self.corpus.keys))
        for name in names {
            let path = dir.appendingPathComponent(name).path
            let expected = Self.corpus[name].flatMap { $0.map { "\(path): \($0)" } }
            #expect(Self.readError(path: path) == expected, "\(name)")
        }
    }

    @Test("gguf-ppl --kl-divergence over the issue-11 file and the corpus: exit 1, one line naming the file and field")
    func command() throws {
        let tmp = TemporaryDirectory("kld-cmd")
        let model = tmp.file("tiny.gguf")
        let conv = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                   "--outtype", "f32", "--outfile", model, "-q"])
        try #require(conv.error == nil)
        let dir = TestPaths.fixtures.appendingPathComponent("malformed/kld")
        for (name, message) in Self.corpus {
            guard let message else { continue }
            let path = dir.appendingPathComponent(name).path
            let r = runCommand(PerplexityCommand.run, ["-m", model, "-c", "128", "--kl-divergence-base", path, "--kl-divergence", "-q"])
            #expect(r.error?.exitCode == 1, "\(name)")
            #expect(r.error?.description == "\(path): \(message)", "\(name)")
            #expect(r.error?.description.contains("\n") == false)
        }
        // -c 1 and -c 2 score no position (their target ranges trapped before).
        let text = TestPaths.fixtures.appendingPathComponent("text/sample.txt").path
        for c in ["1", "2"] {
            let r = runCommand(PerplexityCommand.run, ["-m", model, "-f", text, "-c", c, "-q"])
            #expect(r.error?.exitCode == 1)
            #expect(r.error?.description == "a context of \(c) scores no token (positions n_ctx/2 ..< n_ctx-1 are scored); use -c 3 or more")
        }
    }

    @Test("gguf-quantize --imatrix over Fixtures/malformed/imatrix: exit 1, the reader's error naming the file")
    func quantizeImatrixCorpus() throws {
        let tmp = TemporaryDirectory("imatrix-cmd")
        let model = tmp.file("tiny.gguf")
        let conv = runCommand(ConvertCommand.run, [TestPaths.fixtures.appendingPathComponent("tiny-bpe-llama").path,
                                                   "--outtype", "f32", "--outfile", model, "-q"])
        try #require(conv.error == nil)
        let dir = TestPaths.fixtures.appendingPathComponent("malformed/imatrix")
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name != "old-format.dat" {
            let path = dir.appendingPathComponent(name).path
            let r = runCommand(QuantizeCommand.run, ["--imatrix", path, model, tmp.file("out.gguf"), "Q4_0", "-q"])
            #expect(r.error?.exitCode == 1, "\(name)")
            #expect(r.error?.description.hasPrefix(path + ": ") == true, "\(name): \(r.error?.description ?? "accepted")")
            // A file with the GGUF magic is read as a GGUF imatrix (b10572's default format): its error names
            // what the GGUF imatrix lacks; the legacy reader's errors name the byte offset.
            let isGGUF = (try? Data(contentsOf: URL(fileURLWithPath: path)).prefix(4)) == Data("GGUF".utf8)
            let expected = isGGUF ? "GGUF imatrix" : "offset"
            #expect(r.error?.description.contains(expected) == true, "\(name): \(r.error?.description ?? "accepted")")
            #expect(!FileManager.default.fileExists(atPath: tmp.file("out.gguf")), "\(name)")
        }
    }
}
