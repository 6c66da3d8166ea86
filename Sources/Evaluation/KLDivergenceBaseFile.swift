import Foundation

/// An error of the perplexity or KL-divergence run: bad input, or a base file that does not fit.
public struct EvaluationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    public let message: String

    public init(file: String = "", _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { file.isEmpty ? message : "\(file): \(message)" }
}

/// llama-perplexity's `--kl-divergence-base` file (perplexity.cpp `perplexity`, `kl_divergence`):
/// `"_logits_"`, n_ctx (u32), n_vocab (i32), n_chunk (i32), `n_chunk·n_ctx` i32 tokens, then for
/// every chunk `n_ctx - 1 - n_ctx/2` records of `2·((n_vocab+1)/2) + 4` little-endian u16.
enum KLDivergenceBaseFile {
    static let magic = Array("_logits_".utf8)

    /// Streams a base file out; the header and tokens go first, the records as chunks finish.
    final class Writer {
        let path: String
        private let handle: FileHandle

        init(path: String, contextLength: Int, vocabulary: Int, chunks: Int, tokens: ArraySlice<Int32>) throws(EvaluationError) {
            self.path = path
            var header = Data(magic)
            for (name, v) in [("n_ctx", contextLength), ("n_vocab", vocabulary), ("n_chunk", chunks)] {
                guard let x = Int32(exactly: v), x > 0 else {
                    throw EvaluationError(file: path, "\(name) = \(v) does not fit the file's header (a positive int32)")
                }
                withUnsafeBytes(of: x.littleEndian) { header.append(contentsOf: $0) }
            }
            guard FileManager.default.createFile(atPath: path, contents: nil),
                  let h = FileHandle(forWritingAtPath: path) else {
                throw EvaluationError(file: path, "cannot open for writing")
            }
            handle = h
            for t in tokens { withUnsafeBytes(of: t.littleEndian) { header.append(contentsOf: $0) } }
            try write(header)
        }

        func write(records: UnsafeBufferPointer<UInt16>) throws(EvaluationError) {
            #if _endian(little)
            try write(Data(buffer: records))
            #else
            var d = Data(capacity: records.count * 2)
            for v in records { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            try write(d)
            #endif
        }

        private func write(_ d: Data) throws(EvaluationError) {
            do { try handle.write(contentsOf: d) } catch {
                throw EvaluationError(file: path, "write failed: \(error.localizedDescription)")
            }
        }

        func close() throws(EvaluationError) {
            do { try handle.close() } catch {
                throw EvaluationError(file: path, "close failed: \(error.localizedDescription)")
            }
        }
    }

    /// The layout a base file's header describes, every size checked (without overflow) against
    /// the length of the file before anything is allocated or read.
    struct Layout: Equatable {
        static let headerSize = 20
        /// n_ctx: u32 at offset 8 (llama-perplexity writes an int).
        let contextLength: Int
        /// n_vocab: i32 at offset 12.
        let vocabulary: Int
        /// n_chunk: i32 at offset 16.
        let chunks: Int
        /// u16 slots of one record (`2·((n_vocab+1)/2) + 4`).
        let recordLength: Int
        /// Bytes of one chunk's records.
        let chunkBytes: Int
        /// Where the records of the first chunk start (after the `n_chunk·n_ctx` i32 tokens).
        let recordsOffset: Int
        /// The size of the file the header describes.
        let totalBytes: Int

        var recordsPerChunk: Int { contextLength - 1 - contextLength / 2 }
        var tokenCount: Int { contextLength * chunks }

        /// The largest n_ctx accepted (far beyond any model; the file size is the real bound).
        static let maxContextLength = 1 << 24

        /// Parses the header from the first bytes of the file (`head`, fewer than 20 when the
        /// file is that short) and checks what it describes against `fileSize`.
        init(head: [UInt8], fileSize: Int, path: String) throws(EvaluationError) {
            let magic = KLDivergenceBaseFile.magic
            let shown = head.prefix(8)
            guard shown.elementsEqual(magic.prefix(shown.count)) else {
                throw EvaluationError(file: path, "offset 0: magic is \(Self.quoted(shown)), expected '_logits_' "
                                      + "(not a file of log-probabilities saved by --kl-divergence-base)")
            }
            guard head.count >= Self.headerSize, fileSize >= Self.headerSize else {
                let field = head.count < 8 ? "the '_logits_' magic" : head.count < 12 ? "header field n_ctx"
                    : head.count < 16 ? "header field n_vocab" : "header field n_chunk"
                throw EvaluationError(file: path, "\(field) is cut off: the file has only \(min(head.count, fileSize)) bytes, "
                                      + "expected at least \(Self.headerSize) (magic, n_ctx, n_vocab, n_chunk)")
            }
            func field(_ at: Int) -> UInt32 {
                UInt32(head[at]) | UInt32(head[at + 1]) << 8 | UInt32(head[at + 2]) << 16 | UInt32(head[at + 3]) << 24
            }
            let nCtx = Int(field(8))
            let nVocab = Int(Int32(bitPattern: field(12)))
            let nChunk = Int(Int32(bitPattern: field(16)))
            func bad(_ name: String, _ value: Int, _ at: Int, _ why: String) -> EvaluationError {
                EvaluationError(file: path, "header field \(name) = \(value) (offset \(at)): \(why)")
            }
            guard nCtx >= 3, nCtx <= Self.maxContextLength else {
                throw bad("n_ctx", nCtx, 8, "expected 3 ... \(Self.maxContextLength) (at least one scored position per chunk)")
            }
            guard nVocab >= 1 else { throw bad("n_vocab", nVocab, 12, "expected a positive vocabulary size") }
            guard nChunk >= 1 else { throw bad("n_chunk", nChunk, 16, "expected a positive chunk count") }
            let short = "the file has only \(fileSize) bytes"
            // Smallest unit first: one record (n_vocab), one chunk (n_ctx), all chunks (n_chunk).
            let slots = 2 * ((nVocab + 1) / 2) + 4                  // n_vocab < 2^31: no overflow
            let recordBytes = 2 * slots
            guard Self.headerSize + recordBytes <= fileSize else {
                throw bad("n_vocab", nVocab, 12, "one log-prob record takes \(recordBytes) bytes; \(short), "
                          + "expected at least \(Self.headerSize + recordBytes)")
            }
            let records = nCtx - 1 - nCtx / 2
            let (recs, o1) = records.multipliedReportingOverflow(by: recordBytes)
            let (perChunk, o2) = recs.addingReportingOverflow(4 * nCtx)
            let (oneChunk, o3) = perChunk.addingReportingOverflow(Self.headerSize)
            guard !o1, !o2, !o3, oneChunk <= fileSize else {
                let need = o1 || o2 || o3 ? "more than \(Int.max)" : "\(oneChunk)"
                throw bad("n_ctx", nCtx, 8, "one chunk of \(nCtx) tokens and \(records) records of \(recordBytes) bytes "
                          + "(n_vocab \(nVocab)) needs \(need) bytes with the header; \(short)")
            }
            let (all, o4) = perChunk.multipliedReportingOverflow(by: nChunk)
            let (total, o5) = all.addingReportingOverflow(Self.headerSize)
            guard !o4, !o5, total <= fileSize else {
                let need = o4 || o5 ? "more than \(Int.max) bytes" : "\(total) bytes"
                throw bad("n_chunk", nChunk, 16, "\(nChunk) chunks of \(perChunk) bytes (n_ctx \(nCtx), n_vocab \(nVocab)) "
                          + "need \(need) in all; \(short) (truncated?)")
            }
            contextLength = nCtx
            vocabulary = nVocab
            chunks = nChunk
            recordLength = slots
            chunkBytes = recs
            recordsOffset = Self.headerSize + 4 * nCtx * nChunk      // ≤ total: no overflow
            totalBytes = total
        }

        /// Up to 8 bytes as a quoted string with escapes, for the magic error.
        static func quoted(_ b: some Sequence<UInt8>) -> String {
            var s = "'"
            for c in b {
                if c >= 0x20 && c < 0x7f && c != 0x27 && c != 0x5c { s.append(Character(Unicode.Scalar(c))) }
                else { s += "\\x" + (c < 16 ? "0" : "") + String(c, radix: 16) }
            }
            return s + "'"
        }
    }

    /// A base file opened for reading: header and tokens parsed and checked, records streamed per chunk.
    final class Reader {
        let path: String
        let layout: Layout
        let tokens: [Int32]
        private let handle: FileHandle
        private var offset: Int
        private var chunksRead = 0

        var contextLength: Int { layout.contextLength }
        var vocabulary: Int { layout.vocabulary }
        var chunks: Int { layout.chunks }
        var recordsPerChunk: Int { layout.recordsPerChunk }
        var recordLength: Int { layout.recordLength }
        /// The byte offset of the next chunk's records.
        var nextOffset: Int { offset }

        init(path: String) throws(EvaluationError) {
            self.path = path
            guard let h = FileHandle(forReadingAtPath: path) else {
                throw EvaluationError(file: path, "cannot open for reading")
            }
            handle = h
            let size: Int
            do {
                let end = try h.seekToEnd()
                try h.seek(toOffset: 0)
                guard end <= UInt64(Int.max) else { throw EvaluationError(file: path, "file size \(end) is out of range") }
                size = Int(end)
            } catch let e as EvaluationError {
                throw e
            } catch {
                throw EvaluationError(file: path, "cannot determine the file size: \(error.localizedDescription)")
            }
            let head = try Self.read(h, Layout.headerSize, path: path, at: 0, what: "the header")
            layout = try Layout(head: [UInt8](head), fileSize: size, path: path)
            let count = layout.tokenCount
            let tok = try Self.read(h, 4 * count, path: path, at: Layout.headerSize, what: "the \(count) evaluation tokens")
            guard tok.count == 4 * count else {
                throw EvaluationError(file: path, "the file ends at offset \(Layout.headerSize + tok.count) while reading "
                                      + "\(count) evaluation tokens (expected \(4 * count) bytes from offset \(Layout.headerSize))")
            }
            var t = [Int32](repeating: 0, count: count)
            let nVocab = layout.vocabulary, nCtx = layout.contextLength
            var bad: (Int, Int32)?
            tok.withUnsafeBytes { raw in
                for i in 0..<count {
                    let v = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                    if bad == nil && (v < 0 || Int(v) >= nVocab) { bad = (i, v) }
                    t[i] = v
                }
            }
            if let (i, v) = bad {
                throw EvaluationError(file: path, "token \(i % nCtx) of chunk \(i / nCtx) (offset \(Layout.headerSize + 4 * i)) "
                                      + "is \(v), expected 0 ..< n_vocab \(nVocab)")
            }
            tokens = t
            offset = layout.recordsOffset
        }

        deinit { try? handle.close() }

        /// Reads up to `n` bytes (fewer only at the end of the file).
        private static func read(_ h: FileHandle, _ n: Int, path: String, at: Int, what: String) throws(EvaluationError) -> Data {
            do {
                return try h.read(upToCount: n) ?? Data()
            } catch {
                throw EvaluationError(file: path, "read failed at offset \(at) (\(what)): \(error.localizedDescription)")
            }
        }

        /// The next chunk's records, `recordsPerChunk × recordLength` u16.
        func nextChunk(into buf: inout [UInt16]) throws(EvaluationError) {
            guard chunksRead < layout.chunks else {
                throw EvaluationError(file: path, "all \(layout.chunks) chunks (n_chunk) were already read")
            }
            let n = layout.chunkBytes / 2
            let d = try Self.read(handle, layout.chunkBytes, path: path, at: offset, what: "the log-probs of chunk \(chunksRead)")
            guard d.count == layout.chunkBytes else {
                throw EvaluationError(file: path, "the file ends at offset \(offset + d.count) in the log-probs of chunk "
                                      + "\(chunksRead) (expected \(layout.chunkBytes) bytes from offset \(offset))")
            }
            if buf.count != n { buf = [UInt16](repeating: 0, count: n) }
            d.withUnsafeBytes { raw in
                buf.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
            }
            #if !_endian(little)
            for i in 0..<n { buf[i] = UInt16(littleEndian: buf[i]) }
            #endif
            offset += layout.chunkBytes
            chunksRead += 1
        }
    }
}
