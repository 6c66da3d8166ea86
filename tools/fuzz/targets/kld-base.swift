// libFuzzer target: llama-perplexity's --kl-divergence-base file. The input is a whole file,
// written to the scratch folder and read with KLDivergenceBaseFile.Reader as gguf-ppl
// --kl-divergence does: header, tokens, then every chunk's records. A successful read promises:
// the layout the header describes fits the input, every token is below n_vocab, every chunk
// reads, no chunk is read past n_chunk, and the Writer gives back the same bytes. Errors must
// name the file. Built from Sources/Evaluation/{KLDivergenceBaseFile,TokenScoring}.swift only
// (they need Foundation alone), compiled into the target.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKLDBase(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let path = scratchFolder + "/in.kld"
    writeFile(path, bytes)
    let reader: KLDivergenceBaseFile.Reader
    do {
        reader = try KLDivergenceBaseFile.Reader(path: path)
    } catch {
        check(error.file == path && error.description.hasPrefix(path + ": "), "error without the file name: \(error)")
        if getenv("FUZZ_PRINT") != nil { print(error) }
        return 0
    }
    let l = reader.layout
    check(l.contextLength >= 3 && l.vocabulary >= 1 && l.chunks >= 1, "accepted header \(l)")
    check(l.totalBytes <= size, "layout of \(l.totalBytes) bytes accepted for \(size) bytes")
    check(reader.tokens.count == l.contextLength * l.chunks, "token count")
    check(reader.tokens.allSatisfy { $0 >= 0 && Int($0) < l.vocabulary }, "a token outside n_vocab")
    var buf: [UInt16] = []
    var all: [[UInt16]] = []
    for c in 0..<l.chunks {
        do { try reader.nextChunk(into: &buf) } catch {
            check(false, "chunk \(c) of a file whose size was checked: \(error)")
        }
        check(buf.count == reader.recordsPerChunk * reader.recordLength, "chunk \(c) has \(buf.count) slots")
        all.append(buf)
    }
    check(reader.nextOffset == l.totalBytes, "read up to \(reader.nextOffset), layout ends at \(l.totalBytes)")
    do {
        try reader.nextChunk(into: &buf)
        check(false, "a chunk past n_chunk was read")
    } catch {
        check(error.file == path, "error without the file name: \(error)")
    }
    // Round trip: the writer produces the bytes the reader consumed.
    let copy = scratchFolder + "/copy.kld"
    do {
        let w = try KLDivergenceBaseFile.Writer(path: copy, contextLength: l.contextLength, vocabulary: l.vocabulary,
                                                chunks: l.chunks, tokens: reader.tokens[...])
        for c in all { try c.withUnsafeBufferPointer { b throws(EvaluationError) in try w.write(records: b) } }
        try w.close()
    } catch {
        check(false, "writing the copy failed: \(error)")
    }
    let back = FileManager.default.contents(atPath: copy) ?? Data()
    check(back.count == l.totalBytes && back.elementsEqual(bytes.prefix(l.totalBytes)), "the copy differs from the input")
    unlink(copy)
    return 0
}
