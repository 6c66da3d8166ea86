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
            guard FileManager.default.createFile(atPath: path, contents: nil),
                  let h = FileHandle(forWritingAtPath: path) else {
                throw EvaluationError(file: path, "cannot open for writing")
            }
            handle = h
            var header = Data(magic)
            for v in [Int32(contextLength), Int32(vocabulary), Int32(chunks)] {
                withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) }
            }
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

    /// A base file opened for reading: header and tokens parsed and checked, records streamed per chunk.
    final class Reader {
        let path: String
        let contextLength: Int
        let vocabulary: Int
        let chunks: Int
        let tokens: [Int32]
        private let handle: FileHandle
        private var offset: Int

        init(path: String) throws(EvaluationError) {
            self.path = path
            guard let h = FileHandle(forReadingAtPath: path) else {
                throw EvaluationError(file: path, "cannot open for reading")
            }
            handle = h
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let head = (try? h.read(upToCount: 20)) ?? Data()
            guard head.count == 20, Array(head.prefix(8)) == magic else {
                throw EvaluationError(file: path, "does not look like a file of log-probabilities (no '_logits_' magic)")
            }
            func i32(_ d: Data, _ at: Int) -> Int32 {
                d.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: Int32.self)) }
            }
            contextLength = Int(UInt32(bitPattern: i32(head, 8)))
            vocabulary = Int(i32(head, 12))
            chunks = Int(i32(head, 16))
            guard contextLength >= 2, contextLength <= 1 << 24, vocabulary > 0, chunks > 0 else {
                throw EvaluationError(file: path, "header has n_ctx \(contextLength), n_vocab \(vocabulary), "
                                      + "n_chunk \(chunks); expected positive values")
            }
            let (count, o1) = contextLength.multipliedReportingOverflow(by: chunks)
            let recordBytes = (contextLength - 1 - contextLength / 2) * TokenScoring.recordLength(vocabulary: vocabulary) * 2
            let (records, o2) = recordBytes.multipliedReportingOverflow(by: chunks)
            guard !o1, !o2, 20 + count * 4 + records <= size else {
                throw EvaluationError(file: path, "file of \(size) bytes is too short for \(chunks) chunks of "
                                      + "\(contextLength) tokens and their log-probs")
            }
            let tok = (try? h.read(upToCount: count * 4)) ?? Data()
            guard tok.count == count * 4 else {
                throw EvaluationError(file: path, "failed reading \(count) evaluation tokens")
            }
            tokens = (0..<count).map { i32(tok, 4 * $0) }
            offset = 20 + count * 4
        }

        deinit { try? handle.close() }

        var recordsPerChunk: Int { contextLength - 1 - contextLength / 2 }
        var recordLength: Int { TokenScoring.recordLength(vocabulary: vocabulary) }

        /// The next chunk's records, `recordsPerChunk × recordLength` u16.
        func nextChunk(into buf: inout [UInt16]) throws(EvaluationError) {
            let n = recordsPerChunk * recordLength
            let d = (try? handle.read(upToCount: 2 * n)) ?? Data()
            guard d.count == 2 * n else {
                throw EvaluationError(file: path, "failed reading log-probs at offset \(offset)")
            }
            if buf.count != n { buf = [UInt16](repeating: 0, count: n) }
            d.withUnsafeBytes { raw in
                buf.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
            }
            #if !_endian(little)
            for i in 0..<n { buf[i] = UInt16(littleEndian: buf[i]) }
            #endif
            offset += 2 * n
        }
    }
}
