// libFuzzer target: tokenizer.model (sentencepiece ModelProto) through our protobuf reader.
import HFModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSentencePiece(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let m = try SentencePieceModel(bytes: UnsafeRawBufferPointer(start: data, count: size), file: "tokenizer.model")
        check(m.pieces.count <= size, "more pieces than bytes")
        blackHole((m.pieces.map(\.piece.utf8.count).reduce(0, +), m.trainerSpec, m.normalizerSpec, m.denormalizerSpec))
    } catch {
        check(error.file == "tokenizer.model", "error without the file name: \(error)")
        check(error.message.contains("at offset"), "error without an offset: \(error)")
    }
    return 0
}
