import GGUF

// llama.cpp's pre-tokenizer fingerprint (convert_hf_to_gguf.py `get_vocab_base_pre`).

extension HFTokenizer {
    /// The test string of convert_hf_to_gguf.py b4748 `get_vocab_base_pre`, byte for byte:
    /// 350 Unicode scalars, 431 UTF-8 bytes (test data copied from the script).
    public static let chktxt: String =
        "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\u{1F680} (normal) \u{1F636}\u{200D}\u{1F32B}"
        + "\u{FE0F} (multiple emojis concatenated) \u{2705} \u{1F999}\u{1F999} 3 33 333 3333 33333 333333 3"
        + "333333 33333333 3.3 3..3 3...3 \u{1780}\u{17B6}\u{1793}\u{17CB}\u{178F}\u{17C2}\u{1796}\u{17B7}"
        + "\u{179F}\u{17C1}\u{179F}\u{17A2}\u{17B6}\u{1785}\u{1F601} ?\u{6211}\u{60F3}\u{5728}apple\u{5DE5}"
        + "\u{4F5C}1314151\u{5929}\u{FF5E} ------======= \u{43D}\u{435}\u{449}\u{43E} \u{43D}\u{430} "
        + "\u{411}\u{44A}\u{43B}\u{433}\u{430}\u{440}\u{441}\u{43A}\u{438} ''''''```````\"\"\"\"......!!!!!"
        + "!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea"
        + "? We'Ve a'lL"
    /// llama.cpp's `chkhsh`: the sha256 hex digest of Python's `str(ids)` for
    /// `encode(chktxt)` with special tokens (e.g. "[1, 2, 3]", including any BOS).
    public func chkhsh() -> String { HFTokenizer.chkhsh(ids: encode(HFTokenizer.chktxt, addSpecialTokens: true)) }

    /// The sha256 of Python's list repr of `ids` ("[1, 2, 3]"; "[]" when empty).
    public static func chkhsh(ids: [Int]) -> String {
        SHA256.hex(pythonListRepr(ids).utf8)
    }

    /// Python's `str(list_of_ints)`.
    public static func pythonListRepr(_ ids: [Int]) -> String {
        "[" + ids.map(String.init).joined(separator: ", ") + "]"
    }
}
