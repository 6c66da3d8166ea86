// libFuzzer target: tokenizer.json. The input is parsed as JSON and, when that works, loaded as
// an HFTokenizer; a loaded tokenizer must encode and decode a few short texts without trapping,
// and every id of the plain encoding (no post-processor) must name a token.
import HFModel

let texts = ["Hello world", " 12 345\n\tx", "ǅé\u{301}日本語 ünï <s></s>", "", "aaaaaaaaaaaaaaaaaaaaaaaa!"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizerJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value: JSONValue
    do {
        value = try JSONParser.parse(UnsafeRawBufferPointer(start: data, count: size), file: "tokenizer.json")
    } catch {
        check(error.file == "tokenizer.json", "error without the file name: \(error)")
        return 0
    }
    let tok: HFTokenizer
    do {
        tok = try HFTokenizer(json: value, path: "tokenizer.json")
    } catch {
        check(error.file == "tokenizer.json", "error without the file name: \(error)")
        _ = error.description
        return 0
    }
    for t in texts {
        // Post-processors may add ids of their own, so only the plain encoding is checked.
        let plain = tok.encode(t, addSpecialTokens: false)
        for id in plain { check(tok.idToToken(id) != nil, "encode produced id \(id), which names no token") }
        let ids = tok.encode(t)
        _ = tok.preTokenize(t)
        _ = try? tok.decode(ids)
        _ = try? tok.decode(ids, skipSpecialTokens: true)
    }
    _ = try? tok.decode([0, 1, 2, -1, Int.max, Int.min])
    blackHole((tok.ggufMerges, tok.vocabCount, tok.maxTokenID, tok.addedTokens, tok.merges))
    return 0
}
