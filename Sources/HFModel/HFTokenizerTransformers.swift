/// What a transformers fast-tokenizer class changes on top of tokenizer.json (transformers 4.49,
/// the version of the llama.cpp b4748 era): default special tokens, and whether it rebuilds the
/// post-processor from `add_bos_token` / `add_eos_token` (`update_post_processor`).
struct TransformersClassProfile {
    var name: String
    var defaults: [String: String] = [:]
    /// (add_bos default, add_eos default) for classes with `update_post_processor`.
    var bosEosTemplate: (bos: Bool, eos: Bool)? = nil
    /// LlamaTokenizerFast and CodeLlamaTokenizerFast rebuild from tokenizer.model when
    /// `add_prefix_space` is set.
    var slowWhenAddPrefixSpace = false

    static func named(_ name: String) -> TransformersClassProfile {
        let eot = "<|endoftext|>"
        switch name {
        case "GPT2TokenizerFast":
            return .init(name: name, defaults: ["unk": eot, "bos": eot, "eos": eot])
        case "Qwen2TokenizerFast":
            return .init(name: name, defaults: ["unk": eot, "eos": eot, "pad": eot])
        case "LlamaTokenizerFast", "CodeLlamaTokenizerFast":
            return .init(name: name, defaults: ["unk": "<unk>", "bos": "<s>", "eos": "</s>"],
                         bosEosTemplate: (true, false), slowWhenAddPrefixSpace: true)
        case "GemmaTokenizerFast":
            return .init(name: name, defaults: ["unk": "<unk>", "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"],
                         bosEosTemplate: (true, false))
        case "GPTNeoXTokenizerFast":
            return .init(name: name, defaults: ["unk": eot, "bos": eot, "eos": eot], bosEosTemplate: (false, false))
        case "CohereTokenizerFast":
            return .init(name: name, defaults: ["unk": "<UNK>", "bos": "<BOS_TOKEN>", "eos": "<|END_OF_TURN_TOKEN|>"],
                         bosEosTemplate: (true, false))
        default:
            return .init(name: name)
        }
    }

    /// AutoTokenizer's class choice: `tokenizer_class` of tokenizer_config.json, else of
    /// config.json, else the class registered for config.json's `model_type`.
    static func resolve(_ tc: TokenizerConfig?, _ config: HFJSONFile?) throws(HFModelError) -> TransformersClassProfile {
        var name = try tc?.tokenizerClass()
        if name == nil { name = try config?.string("tokenizer_class") }
        if name == nil, let mt = try config?.string("model_type") { name = modelTypeClasses[mt] }
        guard var n = name else { return .named("PreTrainedTokenizerFast") }
        if !n.hasSuffix("Fast") { n += "Fast" }
        return .named(n)
    }

    /// transformers 4.49 TOKENIZER_MAPPING_NAMES entries whose fast class changes behaviour.
    static let modelTypeClasses: [String: String] = {
        var m: [String: String] = [:]
        for t in ["aria", "chameleon", "colpali", "diffllama", "idefics", "idefics2", "idefics3", "jamba", "jetmoe",
                  "llama", "llava", "llava_next", "llava_next_video", "llava_onevision", "mistral", "mixtral", "mllama",
                  "paligemma", "persimmon", "phi3", "phimoe", "video_llava", "vipllava", "zamba", "zamba2"] {
            m[t] = "LlamaTokenizerFast"
        }
        for t in ["blip-2", "dbrx", "emu3", "gpt2", "gpt_bigcode", "gpt_neo", "gptj", "instructblip",
                  "instructblipvideo", "opt", "starcoder2"] {
            m[t] = "GPT2TokenizerFast"
        }
        for t in ["falcon_mamba", "gpt_neox", "mamba", "mamba2", "mpt", "olmo", "olmo2", "olmoe", "rwkv", "stablelm"] {
            m[t] = "GPTNeoXTokenizerFast"
        }
        for t in ["qwen2", "qwen2_5_vl", "qwen2_audio", "qwen2_moe", "qwen2_vl"] { m[t] = "Qwen2TokenizerFast" }
        for t in ["gemma", "gemma2", "recurrent_gemma"] { m[t] = "GemmaTokenizerFast" }
        for t in ["cohere", "cohere2"] { m[t] = "CohereTokenizerFast" }
        m["code_llama"] = "CodeLlamaTokenizerFast"
        return m
    }()
}

extension HFTokenizer {
    static let specialTokenTypes = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]

    /// The tokenizer transformers' `AutoTokenizer.from_pretrained(directory)` builds (4.49 fast
    /// tokenizers), which is what convert_hf_to_gguf.py hashes. On top of tokenizer.json it applies:
    /// 1. the class picked from `tokenizer_class` (tokenizer_config.json, then config.json) or from
    ///    config.json's `model_type`, and that class's default special tokens;
    /// 2. `add_prefix_space` from tokenizer_config.json (default false) replacing a top-level
    ///    ByteLevel pre-tokenizer's value;
    /// 3. tokens of `added_tokens_decoder` whose flags differ from tokenizer.json, and special
    ///    tokens (`bos_token`, ..., `additional_special_tokens`) not yet added, as special tokens;
    /// 4. for Llama, CodeLlama, Gemma, GPT-NeoX and Cohere classes, a `[bos] $A [eos]` post-processor
    ///    from `add_bos_token` / `add_eos_token`;
    /// 5. `split_special_tokens` and `clean_up_tokenization_spaces`.
    /// Truncation and padding settings are ignored, as `encode` without arguments ignores them.
    /// - Throws: as `init(path:)`; `.unsupported` when transformers would rebuild the tokenizer
    ///   from tokenizer.model (Llama classes with `add_prefix_space` set).
    public static func autoTokenizer(directory: String) throws(HFModelError) -> HFTokenizer {
        let file = HFModelFiles.path(directory, HFModelFiles.tokenizer)
        let value = try JSONParser.parseFile(file)
        guard let o = value.object else {
            throw HFModelError(.invalid, file: file, "top-level value is \(value.typeDescription), expected an object")
        }
        var parts = try Parts(o, file: file)
        let tc = try TokenizerConfig.load(directory: directory)
        let config = try HFJSONFile.loadIfPresent(HFModelFiles.path(directory, HFModelFiles.config))
        let profile = try TransformersClassProfile.resolve(tc, config)

        let addPrefixSpace = try tc?.addPrefixSpace()
        if profile.slowWhenAddPrefixSpace && addPrefixSpace != nil {
            throw HFModelError(.unsupported, file: tc?.path ?? file,
                               "\(profile.name) with add_prefix_space set is rebuilt from tokenizer.model by transformers; not supported")
        }
        if case .byteLevel(let current, let useRegex) = parts.preTokenizer, current != (addPrefixSpace ?? false) {
            parts.preTokenizer = .byteLevel(addPrefixSpace: addPrefixSpace ?? false, useRegex: useRegex)
        }
        var tokens = try addedTokens(o, model: parts.model, file: file)
        let specials = try specialTokens(tc, directory: directory, profile: profile)
        let specialContents = Set(specials.all.map { ExactKey($0.content) })
        for var t in try tc?.addedTokensDecoder() ?? [] {
            t.special = t.special || specialContents.contains(ExactKey(t.content))
            addToken(t, to: &tokens, model: parts.model)
        }
        for var t in specials.all where !tokens.contains(where: { sameText($0.content, t.content) }) {
            t.special = true
            addToken(t, to: &tokens, model: parts.model)
        }
        if let (bosDefault, eosDefault) = profile.bosEosTemplate {
            parts.postProcessor = try bosEosProcessor(tc, specials.byType, tokens: tokens, model: parts.model,
                                                      defaults: (bosDefault, eosDefault), file: tc?.path ?? file)
        }
        return try HFTokenizer(parts: parts, added: tokens,
                               encodeSpecialTokens: try tc?.json.bool("split_special_tokens") ?? false,
                               cleanUp: try tc?.json.bool("clean_up_tokenization_spaces") ?? false,
                               transformersClass: profile.name)
    }

    /// `tokenizers.add_tokens` for one token: same content → take the new flags and keep the id;
    /// otherwise the id of that content in the model vocabulary, else the next free id.
    private static func addToken(_ t: HFAddedToken, to tokens: inout [HFAddedToken], model: BPEModel) {
        guard !t.content.isEmpty else { return }
        if let k = tokens.firstIndex(where: { sameText($0.content, t.content) }) {
            let id = tokens[k].id
            tokens[k] = t
            tokens[k].id = id
            return
        }
        var n = t
        if let id = model.id(t.content) {
            n.id = id
        } else {
            let size = model.count
            let maxID = tokens.map(\.id).max()
            n.id = maxID.map { ($0 >= size || size == 0) ? $0 + 1 : size } ?? size
        }
        tokens.append(n)
    }

    /// The special tokens transformers initialises the class with: tokenizer_config.json values
    /// (string or `{"content": ...}`; special_tokens_map.json overrides them in the legacy layout
    /// without `added_tokens_decoder`), then the class defaults for types not mentioned.
    private static func specialTokens(_ tc: TokenizerConfig?, directory: String, profile: TransformersClassProfile)
        throws(HFModelError) -> (byType: [String: String], all: [HFAddedToken]) {
        var values: [String: JSONValue] = [:]
        for m in tc?.json.object.members ?? [] { values[m.key] = m.value }
        if tc?.json["added_tokens_decoder"] == nil, let map = try HFModelFiles.specialTokensMap(directory: directory) {
            for m in map.object.members { values[m.key] = m.value }
        }
        var byType: [String: String] = [:]
        var all: [HFAddedToken] = []
        func token(_ v: JSONValue, _ what: String) throws(HFModelError) -> HFAddedToken? {
            if let s = v.string { return HFAddedToken(id: -1, content: s, normalized: false, special: true) }
            if v.object != nil {
                return try HFAddedToken.parse(v, id: -1, file: tc?.path ?? directory, what: what)
            }
            return nil
        }
        for type in specialTokenTypes {
            let key = "\(type)_token"
            let v = values[key] ?? profile.defaults[type].map { JSONValue.string($0) }
            guard let v, let t = try token(v, key) else { continue }
            byType[type] = t.content
            all.append(t)
        }
        for (i, v) in (values["additional_special_tokens"]?.array ?? []).enumerated() {
            if let t = try token(v, "additional_special_tokens[\(i)]") { all.append(t) }
        }
        return (byType, all)
    }

    /// transformers' `update_post_processor`: `[bos] $A [eos]` per add_bos_token / add_eos_token.
    private static func bosEosProcessor(_ tc: TokenizerConfig?, _ specials: [String: String], tokens: [HFAddedToken],
                                        model: BPEModel, defaults: (Bool, Bool),
                                        file: String) throws(HFModelError) -> TokenizerPostProcessor {
        let addBos = tc?.addSpecialToken("bos") ?? defaults.0
        let addEos = tc?.addSpecialToken("eos") ?? defaults.1
        func id(_ type: String) throws(HFModelError) -> Int {
            guard let content = specials[type] else {
                throw HFModelError(.invalid, file: file, "add_\(type)_token = True but \(type)_token = None")
            }
            guard let id = tokens.first(where: { sameText($0.content, content) })?.id ?? model.id(content) else {
                throw HFModelError(.invalid, file: file, "\(type)_token '\(content)' is not in the vocabulary")
            }
            return id
        }
        return .bosEos(bos: addBos ? try id("bos") : nil, eos: addEos ? try id("eos") : nil)
    }
}
