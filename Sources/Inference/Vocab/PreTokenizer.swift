// Splits text into the words BPE merges within, as llama.cpp's `unicode_regex_split` does for
// each pre-tokenizer type: a list of patterns applied in turn, each cutting every current piece
// into its matches and the gaps between them. No regex engine: each pattern is a hand-written
// matcher (CustomSplitters.swift, PatternSplitters.swift).

/// One pattern of a pre-tokenizer.
enum SplitStep: Sendable, Equatable {
    /// llama.cpp's hand-written GPT-2 splitter (`unicode_regex_split_custom_gpt2`).
    case gpt2
    /// llama.cpp's hand-written Llama 3 splitter (`unicode_regex_split_custom_llama3`).
    case llama3
    /// A pattern llama.cpp runs through std::regex.
    case pattern(PatternKind)
}

/// The std::regex patterns llama.cpp uses, by what they match.
enum PatternKind: Sendable, Equatable {
    /// `[\p{P}\$\+<=>\^~\|]+` (default) or the same plus a backtick (falcon).
    case punctuationRun(backtick: Bool)
    /// `\p{N}+`
    case numberRun
    /// `\p{N}`
    case singleNumber
    /// `\p{N}{1,3}`
    case numbersUpTo3
    /// `[0-9][0-9][0-9]`
    case asciiDigitTriple
    /// `[\r\n]`
    case lineBreak
    /// `\s?\p{L}+`
    case spaceLetters
    /// `\s?\p{P}+`
    case spacePunctuation
    /// `[一-龥ࠀ-一가-퟿]+`
    case cjkHangul
    /// `[一-龥぀-ゟ゠-ヿ]+`
    case cjkKana
    /// `\s?[A-Za-zµÀ-ÖØ-ö...]+` (deepseek-llm's letter list)
    case deepseekLetters
    /// `\s?[!-/:-~！-／：-～‘-‟　-。]+`
    case deepseekPunctuation
    /// `\s+$`
    case trailingSpace
    /// Qwen2's pattern: contractions, letters, single digits, punctuation, newlines, spaces.
    case qwen2
    /// DeepSeek V3's third pattern (letters with marks, punctuation with symbols, spaces).
    case deepseek3Words
    /// ` ?[^(\s|.,!?…。，、।۔،)]+`
    case poroWords
    /// Tekken's case-aware word pattern.
    case tekken
    /// `<sentinel:[0-9]+>`
    case chameleonSentinel
    /// `(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z`
    case chameleonImage
    /// `([\t\n]|    |  )`
    case chameleonSpaces
    /// `[\p{P}!-/:-@\[-`{-~]`
    case chameleonPunctuation
}

extension PreTokenizerType {
    /// The patterns llama.cpp applies, in order (`llm_tokenizer_bpe` constructor).
    var splitSteps: [SplitStep] {
        switch self {
        case .llama3, .dbrx, .smaug, .chatglm4:
            return [.llama3]
        case .deepseekLLM:
            return [.pattern(.lineBreak), .pattern(.deepseekLetters), .pattern(.deepseekPunctuation),
                    .pattern(.trailingSpace), .pattern(.cjkHangul), .pattern(.numberRun)]
        case .deepseek3LLM:
            return [.pattern(.numbersUpTo3), .pattern(.cjkKana), .pattern(.deepseek3Words)]
        case .deepseekCoder:
            return [.pattern(.lineBreak), .pattern(.spaceLetters), .pattern(.spacePunctuation),
                    .pattern(.cjkHangul), .pattern(.singleNumber)]
        case .falcon:
            return [.pattern(.punctuationRun(backtick: true)), .gpt2, .pattern(.asciiDigitTriple)]
        case .starcoder, .refact, .commandR, .smollm, .codeshell, .exaone, .minerva:
            return [.pattern(.singleNumber), .gpt2]
        case .gpt2, .mpt, .olmo, .jais:
            return [.gpt2]
        case .stablelm2, .qwen2:
            return [.pattern(.qwen2)]
        case .poro, .bloom, .gpt3Finnish:
            return [.pattern(.poroWords)]
        case .viking:
            return [.pattern(.poroWords), .pattern(.singleNumber)]
        case .tekken:
            return [.pattern(.tekken)]
        case .chameleon:
            return [.pattern(.chameleonSentinel), .pattern(.chameleonImage), .pattern(.chameleonSpaces),
                    .pattern(.singleNumber), .pattern(.chameleonPunctuation), .gpt2]
        case .default:
            return [.pattern(.punctuationRun(backtick: false)), .gpt2, .pattern(.numberRun),
                    .pattern(.asciiDigitTriple)]
        }
    }
}

/// Splitting state over one piece `[ini, end)` of a codepoint array; words are appended to `out`
/// as lengths in codepoints (llama.cpp's `bpe_offsets`).
struct Splitter {
    let cps: UnsafePointer<UInt32>
    let flagBits: UnsafePointer<UInt16>
    var ini = 0
    var end = 0
    var prevEnd = 0
    var out: [Int] = []

    static let outOfRange: UInt32 = 0xFFFF_FFFF

    @inline(__always) func cpt(_ p: Int) -> UInt32 { p < end ? cps[p] : Self.outOfRange }
    @inline(__always) func flags(_ p: Int) -> CodepointFlags {
        p < end ? CodepointFlags(bits: flagBits[p]) : .none
    }

    /// Ends the current word at `e` (llama.cpp's `_add_token`); returns its length.
    @discardableResult @inline(__always)
    mutating func add(_ e: Int) -> Int {
        let len = e - prevEnd
        if len > 0 { out.append(len) }
        prevEnd = e
        return len
    }

    mutating func run(_ step: SplitStep) {
        switch step {
        case .gpt2: splitGPT2()
        case .llama3: splitLlama3()
        case .pattern(let kind): splitPattern(kind)
        }
    }

    /// std::regex_iterator over the piece: matches and the gaps between them become words.
    mutating func splitPattern(_ kind: PatternKind) {
        var pos = ini
        var gap = ini
        while pos < end {
            let e = match(kind, at: pos)
            if e > pos {
                if pos > gap { out.append(pos - gap) }
                out.append(e - pos)
                pos = e
                gap = e
            } else {
                pos += 1
            }
        }
        if gap < end { out.append(end - gap) }
    }
}

enum PreTokenization {
    /// Word lengths (in codepoints) for `cps`, whose llama.cpp flags are `flags`.
    static func split(_ cps: UnsafeBufferPointer<UInt32>, flags: UnsafeBufferPointer<UInt16>,
                      steps: [SplitStep]) -> [Int] {
        guard let cp = cps.baseAddress, let fl = flags.baseAddress, cps.count > 0 else { return [] }
        var lengths = [cps.count]
        for step in steps {
            var s = Splitter(cps: cp, flagBits: fl)
            s.out.reserveCapacity(lengths.count * 2)
            var start = 0
            for len in lengths {
                s.ini = start
                s.end = start + len
                s.prevEnd = start
                s.run(step)
                start += len
            }
            lengths = s.out
        }
        return lengths
    }
}
