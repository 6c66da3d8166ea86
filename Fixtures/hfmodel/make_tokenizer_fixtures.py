#!/usr/bin/env python3
"""Writes the small tokenizer.json fixtures of HFModelTests and their expected ids.

Needs `pip install tokenizers` (written with tokenizers 0.23.3). Run from this folder:
    python3 make_tokenizer_fixtures.py
Outputs:
    tokenizer-bytelevel.json   byte-level BPE (GPT-2 style), 420 tokens
    tokenizer-metaspace.json   SentencePiece-style BPE: Prepend/Replace "▁", byte fallback, <unk>
    tokenizer-suffix.json      BPE with continuing_subword_prefix "##" and end_of_word_suffix "</w>"
    tokenizer-variants.json    component variants (patches on those bases), test texts, and the
                               ids `tokenizers` gives for every variant and text
"""
import json

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

CORPUS = [
    "Hello world! It's a small corpus, we'll see how it goes. The quick brown fox jumps over the lazy dog.",
    "Numbers like 123, 2024 and 3.14 appear; so do emails like a@b.c and paths /usr/bin.",
    "Ünïcödé café naïve résumé. Привет мир. 東京 大阪. 안녕하세요. مرحبا",
    "They're here, I'm there, you've seen it, he'd go, she'll stay, it isn't.",
    "    indented code():\n        return x + y  # comment\n\tTabbed\tline\n",
    "emoji 🦙🚀 and more text text text about models, tokens, merges and vocabularies.",
] * 3

TEXTS = [
    "Hello world! It's 2024, we'll see.",
    "  two  spaces\tand\nnewlines \n\n",
    "Ünïcödé café 東京 12345 ½ ① ﬁ Ⅻ",
    "[X] and [x] [Y]  x[Z]  y a[W]b [W] <special>",
    "emoji 🦙🚀 'RE 's I'M DONE 'LL",
    " ",
    "",
]


def train(model, pre, normalizer, vocab_size, **kw):
    tok = Tokenizer(model)
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, **kw)
    tok.train_from_iterator(CORPUS, trainer)
    return json.loads(tok.to_str())


def bases():
    bl = train(models.BPE(), pre_tokenizers.ByteLevel(add_prefix_space=False), None, 420,
               initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>", "<s>", "</s>"])
    bl["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    bl["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}

    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    ms = train(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True), None,
               normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]), 420,
               special_tokens=["<unk>", "<s>", "</s>"] + byte_tokens, limit_alphabet=40)
    ms["added_tokens"] = [t for t in ms["added_tokens"] if t["content"] not in byte_tokens]
    ms["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}

    sf = train(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"),
               pre_tokenizers.Whitespace(), None, 300, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
               continuing_subword_prefix="##", end_of_word_suffix="</w>")
    sf["decoder"] = {"type": "BPEDecoder", "suffix": "</w>"}
    return {"bytelevel": bl, "metaspace": ms, "suffix": sf}


def bl(prefix=False, regex=True):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": True, "use_regex": regex}


def split(pattern, behavior="Isolated", invert=False, kind="Regex"):
    return {"type": "Split", "pattern": {kind: pattern}, "behavior": behavior, "invert": invert}


def seq(*items):
    return {"type": "Sequence", "pretokenizers": list(items)}


def nseq(*items):
    return {"type": "Sequence", "normalizers": list(items)}


LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
GPT4O = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
TEMPLATE = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}


def added(i, content, **flags):
    t = {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": True, "special": False}
    t.update(flags)
    return t


ADDED = [added(420, "[X]"), added(421, "[Y]", lstrip=True, normalized=False),
         added(422, "[Z]", rstrip=True, normalized=False), added(423, "[W]", single_word=True),
         added(424, "<special>", special=True, normalized=False)]

VARIANTS = [
    ("bytelevel", "bytelevel", {}),
    ("bytelevel-prefix-space", "bytelevel", {"pre_tokenizer": bl(prefix=True)}),
    ("bytelevel-no-regex", "bytelevel", {"pre_tokenizer": bl(regex=False)}),
    ("digits-individual", "bytelevel", {"pre_tokenizer": seq({"type": "Digits", "individual_digits": True}, bl())}),
    ("digits-contiguous", "bytelevel", {"pre_tokenizer": seq({"type": "Digits", "individual_digits": False}, bl())}),
    ("split-llama3", "bytelevel", {"pre_tokenizer": seq(split(LLAMA3), bl(regex=False))}),
    ("split-qwen2", "bytelevel", {"pre_tokenizer": seq(split(QWEN2), bl(regex=False))}),
    ("split-gpt4o", "bytelevel", {"pre_tokenizer": seq(split(GPT4O), bl(regex=False))}),
    ("split-removed", "bytelevel", {"pre_tokenizer": seq(split(r"\s+", "Removed"), bl(regex=False))}),
    ("split-merged-previous", "bytelevel", {"pre_tokenizer": seq(split(" ", "MergedWithPrevious", kind="String"), bl(regex=False))}),
    ("split-merged-next", "bytelevel", {"pre_tokenizer": seq(split(" ", "MergedWithNext", kind="String"), bl(regex=False))}),
    ("split-contiguous", "bytelevel", {"pre_tokenizer": seq(split(r"\p{P}", "Contiguous"), bl(regex=False))}),
    ("split-invert", "bytelevel", {"pre_tokenizer": seq(split(r"\p{L}+|\p{N}+", "Removed", invert=True), bl(regex=False))}),
    ("whitespace", "bytelevel", {"pre_tokenizer": seq({"type": "Whitespace"}, bl(regex=False))}),
    ("whitespace-split", "bytelevel", {"pre_tokenizer": seq({"type": "WhitespaceSplit"}, bl(regex=False))}),
    ("punctuation", "bytelevel", {"pre_tokenizer": seq({"type": "Punctuation", "behavior": "Isolated"}, bl())}),
    ("punctuation-merged", "bytelevel", {"pre_tokenizer": seq({"type": "Punctuation", "behavior": "MergedWithPrevious"}, bl())}),
    ("bert-pre-tokenizer", "bytelevel", {"pre_tokenizer": seq({"type": "BertPreTokenizer"}, bl(regex=False))}),
    ("char-delimiter", "bytelevel", {"pre_tokenizer": seq({"type": "CharDelimiterSplit", "delimiter": "e"}, bl(regex=False))}),
    ("nfkc-lowercase", "bytelevel", {"normalizer": nseq({"type": "NFKC"}, {"type": "Lowercase"})}),
    ("nfd-strip-accents", "bytelevel", {"normalizer": nseq({"type": "NFD"}, {"type": "StripAccents"})}),
    ("nfc", "bytelevel", {"normalizer": {"type": "NFC"}}),
    ("nfkd", "bytelevel", {"normalizer": {"type": "NFKD"}}),
    ("replace-strip", "bytelevel", {"normalizer": nseq(
        {"type": "Replace", "pattern": {"String": "  "}, "content": " "},
        {"type": "Replace", "pattern": {"Regex": r"\d"}, "content": "#"},
        {"type": "Strip", "strip_left": True, "strip_right": True})}),
    ("prepend", "bytelevel", {"normalizer": {"type": "Prepend", "prepend": "_"}}),
    ("bert-normalizer", "bytelevel", {"normalizer": {"type": "BertNormalizer", "clean_text": True,
                                                     "handle_chinese_chars": True, "strip_accents": None, "lowercase": True}}),
    ("bytelevel-normalizer", "bytelevel", {"normalizer": {"type": "ByteLevel"},
                                           "pre_tokenizer": split("Ġ", "MergedWithNext", kind="String")}),
    ("template", "bytelevel", {"post_processor": TEMPLATE}),
    ("roberta", "bytelevel", {"post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1],
                                                 "trim_offsets": True, "add_prefix_space": False}}),
    ("bert-processing", "bytelevel", {"post_processor": {"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1]}}),
    ("post-sequence", "bytelevel", {"post_processor": {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}, TEMPLATE]}}),
    ("added-tokens", "bytelevel", {"added_tokens": "+", "normalizer": {"type": "Lowercase"}}),
    ("ignore-merges", "bytelevel", {"model.ignore_merges": True}),
    ("merges-legacy-strings", "bytelevel", {"model.merges": "strings"}),
    ("metaspace-spm", "metaspace", {}),
    ("metaspace-always", "metaspace", {"normalizer": None, "pre_tokenizer": {
        "type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}}),
    ("metaspace-first", "metaspace", {"normalizer": None, "added_tokens": "+", "pre_tokenizer": {
        "type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}}),
    ("metaspace-never-nosplit", "metaspace", {"normalizer": None, "pre_tokenizer": {
        "type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": False}}),
    ("unk-no-fuse", "metaspace", {"model.fuse_unk": False, "model.byte_fallback": False}),
    ("unk-fuse", "metaspace", {"model.byte_fallback": False}),
    ("suffix-prefix", "suffix", {}),
]


def apply(base, patch):
    tj = json.loads(json.dumps(base))
    for k, v in patch.items():
        if k == "added_tokens":
            tj["added_tokens"] = tj["added_tokens"] + ADDED
        elif k == "model.merges":
            tj["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in tj["model"]["merges"]]
        elif k.startswith("model."):
            tj["model"][k[6:]] = v
        else:
            tj[k] = v
    return tj


def main():
    b = bases()
    for name, tj in b.items():
        with open(f"tokenizer-{name}.json", "w", encoding="utf-8") as f:
            json.dump(tj, f, ensure_ascii=False)
    out = {"texts": TEXTS, "added_tokens": ADDED, "variants": []}
    for name, base, patch in VARIANTS:
        tj = apply(b[base], patch)
        tok = Tokenizer.from_str(json.dumps(tj))
        ids = [tok.encode(t).ids for t in TEXTS]
        out["variants"].append({"name": name, "base": base, "patch": patch, "ids": ids})
    with open("tokenizer-variants.json", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main()
