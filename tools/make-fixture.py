#!/usr/bin/env python3
"""Write the bundled test model `Fixtures/tiny-bpe-llama/` (numpy and regex only; deterministic).

A LlamaForCausalLM with 2 layers, hidden 256 (so K-quant blocks fit), 4 heads / 2 KV heads,
intermediate 256, tied embeddings, and a 320-token byte-level BPE vocabulary trained here on
`Fixtures/text/sample.txt` (GPT-2 pre-tokenizer). Weights are seeded random values rounded to bfloat16;
a few input channels are boosted 8x so quantizers meet outliers.

    python3 tools/make-fixture.py            # rewrites Fixtures/tiny-bpe-llama/
"""
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import regex

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Fixtures" / "tiny-bpe-llama"
TEXT = ROOT / "Fixtures" / "text" / "sample.txt"
HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 256, 256, 2, 4, 2, 64
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
N_MERGES = 320 - 256 - len(SPECIALS)
GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def train_bpe(text):
    table = bytes_to_unicode()
    words = Counter("".join(table[b] for b in w.encode()) for w in regex.findall(GPT2_SPLIT, text))
    seqs = {w: list(w) for w in words}
    merges = []
    for _ in range(N_MERGES):
        pairs = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for w in words:
            s, out, i = seqs[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    vocab = {}
    for b in range(256):
        vocab.setdefault(table[b], len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return vocab, merges


def to_bf16(x):
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()


def main():
    text = TEXT.read_text(encoding="utf-8")
    vocab, merges = train_bpe(text)
    n_vocab = len(vocab) + len(SPECIALS)
    added = []
    for s in SPECIALS:
        added.append({"id": len(vocab) + len(added), "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": n_vocab,
        "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "hidden_act": "silu",
        "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": True, "bos_token_id": n_vocab - 3, "eos_token_id": n_vocab - 3,
        "torch_dtype": "bfloat16",
    }
    tok_config = {"add_bos_token": True, "add_eos_token": False, "bos_token": SPECIALS[0], "eos_token": SPECIALS[0],
                  "model_max_length": 512, "tokenizer_class": "GPT2Tokenizer", "clean_up_tokenization_spaces": False,
                  "chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"}
    rng = np.random.RandomState(20261122)
    tensors = []

    def matrix(name, rows, cols):
        w = rng.standard_normal((rows, cols)).astype(np.float32) * 0.05
        w[:, rng.randint(0, cols, size=max(1, cols // 64))] *= 8.0
        tensors.append((name, (rows, cols), to_bf16(w)))

    def norm(name, n):
        tensors.append((name, (n,), to_bf16(1.0 + 0.1 * rng.standard_normal(n).astype(np.float32))))

    matrix("model.embed_tokens.weight", n_vocab, HIDDEN)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        norm(p + "input_layernorm.weight", HIDDEN)
        matrix(p + "self_attn.q_proj.weight", HEADS * HEAD_DIM, HIDDEN)
        matrix(p + "self_attn.k_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        matrix(p + "self_attn.v_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        matrix(p + "self_attn.o_proj.weight", HIDDEN, HEADS * HEAD_DIM)
        norm(p + "post_attention_layernorm.weight", HIDDEN)
        matrix(p + "mlp.gate_proj.weight", FFN, HIDDEN)
        matrix(p + "mlp.up_proj.weight", FFN, HIDDEN)
        matrix(p + "mlp.down_proj.weight", HIDDEN, FFN)
    norm("model.norm.weight", HIDDEN)

    OUT.mkdir(parents=True, exist_ok=True)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, data in sorted(tensors):
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(OUT / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for _, _, data in sorted(tensors):
            f.write(data)
    (OUT / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (OUT / "tokenizer.json").write_text(json.dumps(tokenizer, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (OUT / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2) + "\n")
    (OUT / "README.md").write_text("---\nlicense: mit\nlanguage:\n- en\n---\n\n# tiny-bpe-llama\n\n"
                                   "Random-weight test model written by `tools/make-fixture.py` (not a trained model).\n")
    print(f"{OUT}: {len(tensors)} tensors, vocab {n_vocab}, {offset} bytes of weights")


if __name__ == "__main__":
    main()
