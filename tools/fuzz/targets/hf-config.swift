// libFuzzer target: config.json and tokenizer_config.json. The input is written as both files of
// a folder that also holds the tiny fixture's tokenizer.json; then everything that reads them
// runs: the ModelConfig and TokenizerConfig accessors, transformers' AutoTokenizer emulation, and
// (when built with the Convert module, -D WITH_CONVERT) hf2gguf's planning against the fixture's
// real weights, which is where config values decide shapes, loop counts and allocations.
import HFModel
#if WITH_CONVERT
import Convert
#endif
#if canImport(Glibc)
import Glibc
#endif

let folder = scratchFolder + "/model"
let fixture: String = {
    guard let root = getenv("SWIFT_GGUF_ROOT") else { fatalError("set SWIFT_GGUF_ROOT to the repository root") }
    return String(cString: root) + "/Fixtures/tiny-bpe-llama"
}()

func readWholeFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    check(fd >= 0, "cannot open \(path)")
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        check(n >= 0, "cannot read \(path)")
        if n == 0 { return out }
        out += buf[0..<n]
    }
}

let setUp: Void = {
    mkdir(folder, 0o700)
    writeFile(folder + "/tokenizer.json", readWholeFile(fixture + "/tokenizer.json"))
    atexit {
        for f in ["tokenizer.json", "config.json", "tokenizer_config.json"] { unlink(folder + "/" + f) }
        rmdir(folder)
    }
}()

#if WITH_CONVERT
let weights: SafetensorsModel = {
    do { return try SafetensorsModel(files: [fixture + "/model.safetensors"]) } catch { fatalError("\(error)") }
}()
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHFConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = setUp
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    writeFile(folder + "/config.json", bytes)
    writeFile(folder + "/tokenizer_config.json", bytes)
    accessors()
    if let tok = try? HFTokenizer.autoTokenizer(directory: folder) {
        blackHole((tok.encode("Hello <|im_start|> world"), tok.transformersClass))
    }
    #if WITH_CONVERT
    for vocabOnly in [true, false] {
        var o = ConvertOptions()
        o.vocabOnly = vocabOnly
        o.outFile = scratchFolder + "/out.gguf"
        do {
            let plan = try Converter.plan(directory: folder, options: o, model: vocabOnly ? nil : weights)
            blackHole((plan.metadata.count, plan.tensors.count, plan.outputBytes))
        } catch {
            _ = error.description
        }
    }
    #endif
    return 0
}

/// Every typed accessor of the two files, with the keys the converter asks for.
func accessors() {
    guard let file = try? HFJSONFile(path: folder + "/config.json") else { return }
    let config = ModelConfig(json: file)
    _ = try? config.architectures()
    _ = try? config.modelType()
    if let r = try? config.ropeScaling() { _ = try? config.ropeType(of: r) }
    if let r = try? config.ropeParameters() { _ = try? config.ropeType(of: r) }
    for k in ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "intermediate_size", "max_position_embeddings", "head_dim"] {
        _ = try? config.int(k)
        _ = try? file.requireInt(k)
    }
    _ = try? config.double("rms_norm_eps", "rope_theta")
    _ = try? config.bool("tie_word_embeddings")
    let tc = TokenizerConfig(json: file)
    _ = try? tc.addedTokensDecoder()
    _ = try? tc.tokenizerClass()
    _ = try? tc.addPrefixSpace()
    _ = tc.chatTemplate
    for t in ["bos", "eos", "unk", "pad"] { _ = tc.addSpecialToken(t); _ = tc.specialTokenContent(t) }
}
