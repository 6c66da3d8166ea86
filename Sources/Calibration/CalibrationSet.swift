import Foundation
import Inference

/// The calibration batch of AutoAWQ / llm-awq `get_calib_dataset` (spec §6.2), taken from a text
/// file instead of a dataset: each line is stripped, tokenized with the special tokens the
/// vocabulary adds (BOS for Llama-style vocabularies, like the HF tokenizer's default), empty
/// lines and lines longer than one block are skipped, the first `samples` kept lines are
/// concatenated, and the stream is cut into whole blocks of `sequenceLength` tokens (the
/// remainder is dropped).
public struct CalibrationSet: Sendable, Equatable {
    /// `blockCount` blocks of `sequenceLength` tokens each, back to back.
    public let tokens: [Int32]
    public let sequenceLength: Int
    /// Lines kept (at most `samples`).
    public let lineCount: Int
    /// Tokens of the kept lines before cutting into blocks.
    public let streamLength: Int

    public var blockCount: Int { tokens.count / sequenceLength }

    /// Tokens of block `i`.
    public func block(_ i: Int) -> ArraySlice<Int32> { tokens[(i * sequenceLength)..<((i + 1) * sequenceLength)] }

    /// Builds the batch from already tokenized lines (in order).
    /// - Throws: `AWQError(.calibrationText)` when the kept lines do not fill one block; the
    ///   message gives the tokens found and needed. `source` names the text in messages.
    public init(lines: [[Int32]], samples: Int, sequenceLength: Int, source: String) throws(AWQError) {
        guard samples >= 1, sequenceLength >= 1 else {
            throw AWQError(.invalid, "calibration needs at least one sample and a positive block length "
                           + "(got \(samples) samples of \(sequenceLength) tokens)")
        }
        var stream: [Int32] = []
        var kept = 0
        var tooLong = 0
        for ids in lines {
            if kept == samples { break }
            if ids.isEmpty { continue }
            if ids.count > sequenceLength { tooLong += 1; continue }
            stream.append(contentsOf: ids)
            kept += 1
        }
        let blocks = stream.count / sequenceLength
        guard blocks >= 1 else {
            var why = "\(source): \(kept) usable line(s) give \(stream.count) tokens; one calibration block needs "
                + "\(sequenceLength) tokens (--awq-seqlen \(sequenceLength))"
            if tooLong > 0 { why += "; \(tooLong) line(s) longer than \(sequenceLength) tokens were skipped" }
            if kept == samples { why += "; raise --awq-samples (now \(samples)) or lower --awq-seqlen" }
            throw AWQError(.calibrationText, why)
        }
        tokens = Array(stream[0..<(blocks * sequenceLength)])
        self.sequenceLength = sequenceLength
        lineCount = kept
        streamLength = stream.count
    }

    /// Reads, strips and tokenizes the lines of a UTF-8 text file, then builds the batch.
    /// - Throws: `AWQError(.calibrationText)` when the file cannot be read or is too short.
    public init(textFile path: String, vocabulary: GGUFVocabulary, samples: Int, sequenceLength: Int) throws(AWQError) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw AWQError(.calibrationText, "\(path): calibration text not found")
        }
        guard !isDir.boolValue else { throw AWQError(.calibrationText, "\(path): is a directory, expected a calibration text file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AWQError(.calibrationText, "\(path): cannot read the calibration text")
        }
        var lines: [[Int32]] = []
        var kept = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if kept == samples { break }
            let line = Self.strip(String(decoding: raw, as: UTF8.self))
            if line.isEmpty { continue }
            let ids = vocabulary.tokenize(line, addSpecial: true, parseSpecial: false)
            if !ids.isEmpty && ids.count <= sequenceLength { kept += 1 }
            lines.append(ids)
        }
        try self.init(lines: lines, samples: samples, sequenceLength: sequenceLength, source: path)
    }

    /// Python's `str.strip()`: removes leading and trailing whitespace (Unicode White_Space and
    /// the ASCII separators U+001C…U+001F, which Python also treats as whitespace).
    static func strip(_ s: String) -> String {
        func space(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || (0x1C...0x1F).contains(u.value) }
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !space($0) }),
              let last = scalars.lastIndex(where: { !space($0) }) else { return "" }
        return String(scalars[first...last])
    }
}
