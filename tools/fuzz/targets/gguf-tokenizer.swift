// libFuzzer target: the GGUF tokenizer loader (Sources/Inference/Vocab, llama.cpp's llama-vocab).
// The input is a whole GGUF file: when it parses, its metadata goes to GGUFVocabulary; a loaded
// vocabulary must tokenize a few short texts (with and without special-token parsing) into ids
// that exist, and turn every id back into a piece.
// run.sh builds this target only when Sources/Inference/Vocab exists, compiling that folder alone
// as the module Inference (-D HAVE_GGUF_TOKENIZER).
import GGUF
#if HAVE_GGUF_TOKENIZER
import Inference
#endif

let texts = ["Hello world", " 12 345\n\tx", "ǅé\u{301}日本語 ünï <s></s><|endoftext|>", "", "   aaaa!!"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUFTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let parsed = try? GGUFParser.parse(bytes, file: "fuzz.gguf") else { return 0 }
    #if HAVE_GGUF_TOKENIZER
    let vocab: GGUFVocabulary
    do {
        vocab = try GGUFVocabulary(metadata: parsed.metadata, file: "fuzz.gguf")
    } catch {
        _ = error.description
        return 0
    }
    let n = vocab.tokens.count
    for t in texts {
        for (addSpecial, parseSpecial) in [(false, false), (true, true)] {
            let ids = vocab.tokenize(t, addSpecial: addSpecial, parseSpecial: parseSpecial)
            for id in ids {
                check(id >= 0 && Int(id) < n, "tokenize produced id \(id) for a vocabulary of \(n)")
                blackHole(vocab.piece(for: id, special: true))
            }
        }
    }
    for id in [0, 1, n - 1, n, -1] { if id >= 0 && id < n { blackHole(vocab.piece(for: Int32(id), special: false)) } }
    #else
    blackHole(parsed.metadata.count)
    #endif
    return 0
}
