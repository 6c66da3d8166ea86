import HFModel

/// llama.cpp's pre-tokenizer fingerprint of a model folder (see `PreTokenizerRules`): the
/// tokenizer as transformers' `AutoTokenizer` builds it, run on `chktxt`.
enum PreTokenizerHash {
    static func chkhsh(directory: String) throws(HFModelError) -> String {
        try HFTokenizer.autoTokenizer(directory: directory).chkhsh()
    }
}
