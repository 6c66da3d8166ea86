// `llama_tokenize`: special tokens first, then BPE or SentencePiece over each raw piece, with
// BOS / EOS when `addSpecial` and the vocabulary asks for them.

extension GGUFVocabulary {
    /// Tokenizes UTF-8 text like `llama_tokenize(vocab, text, len, ..., addSpecial, parseSpecial)`.
    /// - Parameters:
    ///   - addSpecial: add BOS (and EOS) when the vocabulary's `addBOS` (`addEOS`) is set.
    ///   - parseSpecial: also cut control tokens (such as `<|im_start|>`) out of the text;
    ///     user-defined tokens are always cut out.
    public func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        var t = text
        return t.withUTF8 { tokenize(bytes: $0, addSpecial: addSpecial, parseSpecial: parseSpecial) }
    }

    /// Tokenizes raw bytes (any bytes: malformed UTF-8 is handled as llama.cpp handles it).
    public func tokenize(bytes: [UInt8], addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        bytes.withUnsafeBufferPointer { tokenize(bytes: $0, addSpecial: addSpecial, parseSpecial: parseSpecial) }
    }

    /// - Parameter minimum: with a value, stop once at least this many tokens are out: the result is
    ///   then the first tokens of the full tokenization (the same ids; BPE stops after a whole word,
    ///   SentencePiece after a whole piece of text), or all of them when the text has fewer.
    ///   Perplexity over the first chunks of a long text needs only those chunks' tokens.
    public func tokenize(bytes text: UnsafeBufferPointer<UInt8>, addSpecial: Bool, parseSpecial: Bool,
                         minimum: Int? = nil) -> [Int32] {
        let stop = minimum ?? Int.max
        var out: [Int32] = []
        out.reserveCapacity(Swift.min(text.count / 3, stop) + 2)
        let fragments = specialIndex.partition(text, parseSpecial: parseSpecial)
        if addSpecial && addBOS, let bos = special.bos { out.append(bos) }
        switch model {
        case .spm:
            guard let spm else { break }
            var previousWasSpecial = true
            for f in fragments where out.count < stop {
                switch f {
                case .token(let id):
                    out.append(id)
                    previousWasSpecial = true
                case .text(let start, let count):
                    let escaped = Self.escapeSpaces(UnsafeBufferPointer(rebasing: text[start..<(start + count)]),
                                                    prefixSpace: addSpacePrefix && previousWasSpecial)
                    escaped.withUnsafeBufferPointer { spm.encode($0, &out) }
                    previousWasSpecial = false
                }
            }
        case .bpe:
            guard let bpe else { break }
            var session = BPESession()
            for f in fragments where out.count < stop {
                switch f {
                case .token(let id):
                    out.append(id)
                case .text(let start, let count):
                    session.encode(UnsafeBufferPointer(rebasing: text[start..<(start + count)]), bpe, steps, &out, stop: stop)
                }
            }
        }
        if out.count >= stop { return out }
        if addSpecial && addEOS, let eos = special.eos { out.append(eos) }
        return out
    }

    /// Optional leading space, then every space as U+2581 (`llama_escape_whitespace`).
    static func escapeSpaces(_ text: UnsafeBufferPointer<UInt8>, prefixSpace: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 4 + 3)
        if prefixSpace { out.append(contentsOf: [0xE2, 0x96, 0x81]) }
        for b in text {
            if b == 0x20 { out.append(contentsOf: [0xE2, 0x96, 0x81]) } else { out.append(b) }
        }
        return out
    }
}

/// State for BPE over the raw pieces of one call: codepoints, flags, words and a word cache.
struct BPESession {
    var cps: [UInt32] = []
    var flags: [UInt16] = []
    var normalized: [UInt8] = []
    var work = BPEWorkspace()
    var cache = WordCache()

    /// Splits a raw piece into words (`unicode_regex_split`) and appends their tokens, stopping after
    /// the word that brings `out` to `stop` tokens (the split is of the whole piece either way).
    mutating func encode(_ text: UnsafeBufferPointer<UInt8>, _ bpe: BPEData, _ steps: [SplitStep],
                         _ out: inout [Int32], stop: Int = .max) {
        // At most one codepoint per byte, and as many normalized bytes unless the text has
        // malformed sequences (each then three bytes of U+FFFD): sized once, not grown by doubling.
        cps.removeAll(keepingCapacity: true)
        cps.reserveCapacity(text.count)
        LlamaUnicode.decode(text, into: &cps)
        flags.removeAll(keepingCapacity: true)
        flags.reserveCapacity(cps.count)
        normalized.removeAll(keepingCapacity: true)
        normalized.reserveCapacity(text.count)
        for c in cps {
            flags.append(LlamaUnicode.flags(c).bits)
            LlamaUnicode.encode(c, into: &normalized)
        }
        let words = cps.withUnsafeBufferPointer { c in
            flags.withUnsafeBufferPointer { f in PreTokenization.split(c, flags: f, steps: steps) }
        }
        cps.withUnsafeBufferPointer { c in
            normalized.withUnsafeBufferPointer { norm in
                var cp = 0, a = 0
                for len in words where out.count < stop {
                    var b = a
                    for i in cp..<(cp + len) { b += LlamaUnicode.encodedLength(c[i]) }
                    cp += len
                    let word = UnsafeBufferPointer(rebasing: norm[a..<b])
                    a = b
                    if cache.append(word, to: &out) { continue }
                    let before = out.count
                    bpe.encodeWord(word, &work, &out)
                    cache.insert(word, out[before...])
                }
            }
        }
    }
}
