#!/usr/bin/env python3
"""Write a large synthetic Hugging Face checkpoint for memory and speed tests (never committed).

    python3 tools/make-synthetic-checkpoint.py OUT_DIR [--layers 32] [--hidden 4096] [--ffn 11008]
                                               [--shard-gb 5] [--dtype bf16|f16|f32]

A LlamaForCausalLM (defaults: 32 layers, hidden 4096, ffn 11008, about 6.5 billion parameters,
13 GB in BF16) with sharded safetensors + model.safetensors.index.json, the tokenizer of the bundled
Fixtures/tiny-bpe-llama, and pseudo-random weights (a 16 MB random pool reused at shifting offsets,
so writing is disk-bound rather than RNG-bound). Only numpy is needed.
"""
import argparse
import json
import shutil
import struct
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER_DIR = ROOT / "Fixtures" / "tiny-bpe-llama"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--ffn", type=int, default=11008)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--shard-gb", type=float, default=5.0)
    ap.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16")
    a = ap.parse_args()

    tok_cfg = json.loads((TOKENIZER_DIR / "config.json").read_text())
    vocab = tok_cfg["vocab_size"]
    hd = a.hidden // a.heads
    names = [("model.embed_tokens.weight", (vocab, a.hidden))]
    for i in range(a.layers):
        p = f"model.layers.{i}."
        names += [(p + "input_layernorm.weight", (a.hidden,)),
                  (p + "self_attn.q_proj.weight", (a.heads * hd, a.hidden)),
                  (p + "self_attn.k_proj.weight", (a.kv_heads * hd, a.hidden)),
                  (p + "self_attn.v_proj.weight", (a.kv_heads * hd, a.hidden)),
                  (p + "self_attn.o_proj.weight", (a.hidden, a.heads * hd)),
                  (p + "post_attention_layernorm.weight", (a.hidden,)),
                  (p + "mlp.gate_proj.weight", (a.ffn, a.hidden)),
                  (p + "mlp.up_proj.weight", (a.ffn, a.hidden)),
                  (p + "mlp.down_proj.weight", (a.hidden, a.ffn))]
    names += [("model.norm.weight", (a.hidden,)), ("lm_head.weight", (vocab, a.hidden))]

    esize = {"bf16": 2, "f16": 2, "f32": 4}[a.dtype]
    st_dtype = {"bf16": "BF16", "f16": "F16", "f32": "F32"}[a.dtype]
    rng = np.random.RandomState(7)
    pool = (rng.standard_normal(1 << 22).astype(np.float32) * 0.02)
    if a.dtype == "bf16":
        bits = pool.view(np.uint32).astype(np.uint64)
        pool_bytes = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
    elif a.dtype == "f16":
        pool_bytes = pool.astype("<f2").tobytes()
    else:
        pool_bytes = pool.astype("<f4").tobytes()

    shard_limit = int(a.shard_gb * 1e9)
    shards, cur, size = [], [], 0
    for n, s in names:
        nbytes = int(np.prod(s)) * esize
        if cur and size + nbytes > shard_limit:
            shards.append(cur)
            cur, size = [], 0
        cur.append((n, s, nbytes))
        size += nbytes
    shards.append(cur)

    a.out.mkdir(parents=True, exist_ok=True)
    weight_map, total, offset_seed = {}, 0, 0
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        header, off = {"__metadata__": {"format": "pt"}}, 0
        for n, s, nb in sorted(shard):
            header[n] = {"dtype": st_dtype, "shape": list(s), "data_offsets": [off, off + nb]}
            off += nb
        blob = json.dumps(header, separators=(",", ":")).encode()
        blob += b" " * (-len(blob) % 8)
        with open(a.out / fname, "wb") as f:
            f.write(struct.pack("<Q", len(blob)))
            f.write(blob)
            for n, s, nb in sorted(shard):
                left = nb
                while left > 0:
                    start = (offset_seed * 2 * 4099) % (len(pool_bytes) // 2) * 2
                    chunk = pool_bytes[start:] + pool_bytes[:start]
                    take = min(left, len(chunk))
                    f.write(chunk[:take])
                    left -= take
                    offset_seed += 1
                if n.endswith("layernorm.weight") or n == "model.norm.weight":
                    pass
                weight_map[n] = fname
                total += nb
        print(f"wrote {fname} ({off / 1e9:.2f} GB)", flush=True)
    (a.out / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, indent=2) + "\n")
    config = dict(tok_cfg)
    config.update({"hidden_size": a.hidden, "intermediate_size": a.ffn, "num_hidden_layers": a.layers,
                   "num_attention_heads": a.heads, "num_key_value_heads": a.kv_heads, "tie_word_embeddings": False,
                   "max_position_embeddings": 4096, "torch_dtype": {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[a.dtype]})
    (a.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(TOKENIZER_DIR / f, a.out / f)
    print(f"{a.out}: {len(names)} tensors, {total / 1e9:.2f} GB in {len(shards)} shards")


if __name__ == "__main__":
    main()
