#!/usr/bin/env python3
"""Writes a large synthetic Qwen3-MoE checkpoint (one bf16 tensor per expert, several shards) for
checking that hf2gguf's memory stays flat while it stacks experts:

    tools/make-synthetic-moe.py OUT_DIR [--experts 64] [--layers 6] [--hidden 512] [--expert-ffn 1024]
    tools/bench-convert.sh OUT_DIR bf16      # peak RSS (and, with CONVERT_HF_TO_GGUF, b10572's figures and cmp)

Streams every tensor to disk (constant memory; no numpy). The defaults give 1.1 GiB in 3 shards, the
experts of a layer split across shards. Measured (debug hf2gguf, 2 cores): --outtype bf16 peak RSS 82 MB
(b10572: 627 MB), output byte-identical to b10572's with the tiny-qwen3moe tokenizer."""
import argparse, json, os, random, shutil, struct

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--experts", type=int, default=64)
ap.add_argument("--layers", type=int, default=6)
ap.add_argument("--hidden", type=int, default=512)
ap.add_argument("--expert-ffn", type=int, default=1024)
ap.add_argument("--shards", type=int, default=3)
ap.add_argument("--tokenizer-dir", help="copy tokenizer.json and tokenizer_config.json from here "
                "(default: Fixtures/tiny-bpe-llama, whose pre-tokenizer b10572 does not know; "
                "use the model cache's tiny-qwen3moe with --vocab 49152 to compare with b10572)")
ap.add_argument("--vocab", type=int, default=320)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
here = os.path.dirname(os.path.abspath(__file__))
tok = a.tokenizer_dir or os.path.join(here, "..", "Fixtures", "tiny-bpe-llama")
for f in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copy(os.path.join(tok, f), a.out)
V, H, F, E, L = a.vocab, a.hidden, a.expert_ffn, a.experts, a.layers
heads, kv, hd = 4, 2, a.hidden // 4
json.dump({"architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "vocab_size": V,
           "hidden_size": H, "intermediate_size": 2 * F, "moe_intermediate_size": F, "num_hidden_layers": L,
           "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": hd, "num_experts": E,
           "num_experts_per_tok": 8 if E >= 8 else E, "norm_topk_prob": True, "max_position_embeddings": 4096,
           "rms_norm_eps": 1e-6, "rope_theta": 1e6, "tie_word_embeddings": False, "bos_token_id": 1 if V > 320 else 317,
           "eos_token_id": 2 if V > 320 else 317, "torch_dtype": "bfloat16"}, open(os.path.join(a.out, "config.json"), "w"))

tensors = [("lm_head.weight", [V, H]), ("model.embed_tokens.weight", [V, H]), ("model.norm.weight", [H])]
for l in range(L):
    p = f"model.layers.{l}."
    tensors += [(p + "input_layernorm.weight", [H]), (p + "post_attention_layernorm.weight", [H]),
                (p + "mlp.gate.weight", [E, H]), (p + "self_attn.q_proj.weight", [heads * hd, H]),
                (p + "self_attn.k_proj.weight", [kv * hd, H]), (p + "self_attn.v_proj.weight", [kv * hd, H]),
                (p + "self_attn.o_proj.weight", [H, heads * hd]), (p + "self_attn.q_norm.weight", [hd]),
                (p + "self_attn.k_norm.weight", [hd])]
    for x in range(E):
        tensors += [(p + f"mlp.experts.{x}.down_proj.weight", [H, F]), (p + f"mlp.experts.{x}.gate_proj.weight", [F, H]),
                    (p + f"mlp.experts.{x}.up_proj.weight", [F, H])]
tensors.sort()
# Shards by running size: experts of a layer end up split across files.
total = sum(2 * eval("*".join(map(str, s))) for _, s in tensors)
rng = random.Random(1)
pool = b"".join(struct.pack("<H", (struct.unpack("<I", struct.pack("<f", rng.gauss(0, 0.02)))[0] >> 16)) for _ in range(1 << 16))
shards, cur, size = [], [], 0
for t in tensors:
    cur.append(t)
    size += 2 * eval("*".join(map(str, t[1])))
    if size >= total / a.shards * (len(shards) + 1) and len(shards) < a.shards - 1:
        shards.append(cur); cur = []
shards.append(cur)
weight_map = {}
for i, group in enumerate(shards):
    name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for n, s in sorted(group):
        nb = 2 * eval("*".join(map(str, s)))
        header[n] = {"dtype": "BF16", "shape": s, "data_offsets": [off, off + nb]}
        off += nb
        weight_map[n] = name
    h = json.dumps(header).encode()
    with open(os.path.join(a.out, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        k = 0
        for n, s in sorted(group):
            left = 2 * eval("*".join(map(str, s)))
            while left > 0:
                step = min(left, len(pool) - 2)
                start = (k * 2 * 7919) % (len(pool) - step) & ~1
                f.write(pool[start:start + step]); left -= step; k += 1
json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
          open(os.path.join(a.out, "model.safetensors.index.json"), "w"))
print(f"{a.out}: {len(tensors)} tensors, {total / 2**30:.2f} GiB in {len(shards)} shards")
