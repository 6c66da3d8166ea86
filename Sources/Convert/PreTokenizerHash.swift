import HFModel

/// llama.cpp's pre-tokenizer fingerprint of a tokenizer.json (see `PreTokenizerRules`).
enum PreTokenizerHash {
    static func chkhsh(directory: String) throws -> String {
        throw ConvertError("tokenizer.json runner not wired yet")
    }
}
