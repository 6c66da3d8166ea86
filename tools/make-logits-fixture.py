#!/usr/bin/env python3
"""Reference logits for the forward-pass tests, computed independently of the Swift code.

A float64 numpy forward pass of a Hugging Face llama / qwen2 / qwen3 checkpoint (safetensors read by
hand, numpy only), written as JSON under Fixtures/logits/:

    python3 tools/make-logits-fixture.py MODEL_DIR OUT.json [--tokens 1,2,3,...]

Two sets of logits are stored for a fixed token sequence (positions 0..n-1, no BOS handling):
  exact    - the plain float64 forward pass (HF semantics: rotate_half RoPE, GQA, SwiGLU, RMSNorm);
  f16kv    - the same, except that the values llama.cpp's CPU backend rounds to f16 are rounded here
             too: K and V as stored in the f16 KV cache, Q before the KQ product, and the softmax
             probabilities before the KQV product (ggml converts them to f16, the vec_dot type of
             the f16 cache).
Only `columns` of the vocabulary are stored (every logit when the vocabulary is small), plus each
row's argmax and log-sum-exp over the full vocabulary.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

DEFAULT_TOKENS = [1, 17, 42, 99, 3, 250, 7, 123, 64, 5, 300, 11, 77, 150, 2, 31]


def read_safetensors(model_dir):
    """name -> float64 array, from model.safetensors or the shards of model.safetensors.index.json."""
    files = []
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for name in files:
        with open(os.path.join(model_dir, name), "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        base = 8 + n
        for key, info in header.items():
            if key == "__metadata__":
                continue
            lo, hi = info["data_offsets"]
            raw = data[base + lo:base + hi]
            dt = info["dtype"]
            if dt == "BF16":
                u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
                arr = u.view(np.float32)
            elif dt == "F16":
                arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
            elif dt == "F32":
                arr = np.frombuffer(raw, dtype="<f4")
            else:
                raise SystemExit(f"{name}: tensor {key} has dtype {dt}, expected BF16, F16 or F32")
            out[key] = arr.astype(np.float64).reshape(info["shape"])
    return out


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def f16(x, on):
    return x.astype(np.float16).astype(np.float64) if on else x


def forward(cfg, w, tokens, round_f16):
    arch = cfg["model_type"]
    e = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or e // nh
    eps = cfg["rms_norm_eps"]
    theta = cfg.get("rope_theta", 10000.0)
    n = len(tokens)
    x = w["model.embed_tokens.weight"][tokens]
    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    ang = np.outer(np.arange(n, dtype=np.float64), inv_freq)
    cos = np.concatenate([np.cos(ang), np.cos(ang)], axis=1)[:, None, :]
    sin = np.concatenate([np.sin(ang), np.sin(ang)], axis=1)[:, None, :]

    def rope(t):
        half = hd // 2
        rot = np.concatenate([-t[..., half:], t[..., :half]], axis=-1)
        return t * cos + rot * sin

    mask = np.triu(np.full((n, n), -np.inf), k=1)
    for il in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{il}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = h @ w[p + "self_attn.q_proj.weight"].T
        k = h @ w[p + "self_attn.k_proj.weight"].T
        v = h @ w[p + "self_attn.v_proj.weight"].T
        if p + "self_attn.q_proj.bias" in w:
            q = q + w[p + "self_attn.q_proj.bias"]
            k = k + w[p + "self_attn.k_proj.bias"]
            v = v + w[p + "self_attn.v_proj.bias"]
        q = q.reshape(n, nh, hd)
        k = k.reshape(n, nkv, hd)
        v = v.reshape(n, nkv, hd)
        if arch == "qwen3":
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q = f16(rope(q), round_f16)
        k = f16(rope(k), round_f16)
        v = f16(v, round_f16)
        out = np.zeros((n, nh, hd))
        for hh in range(nh):
            kv = hh // (nh // nkv)
            s = (q[:, hh, :] @ k[:, kv, :].T) / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s = f16(s / s.sum(axis=1, keepdims=True), round_f16)
            out[:, hh, :] = s @ v[:, kv, :]
        x = x + out.reshape(n, nh * hd) @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = h @ w[p + "mlp.gate_proj.weight"].T
        u = h @ w[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
    h = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return h @ head.T


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("out")
    ap.add_argument("--tokens", default=",".join(map(str, DEFAULT_TOKENS)))
    ap.add_argument("--columns", type=int, default=64, help="vocabulary columns to store (all if the vocabulary is smaller)")
    args = ap.parse_args()
    with open(os.path.join(args.model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg["model_type"] not in ("llama", "mistral", "qwen2", "qwen3"):
        raise SystemExit(f"model_type {cfg['model_type']} is not supported")
    tokens = [int(t) for t in args.tokens.split(",")]
    w = read_safetensors(args.model_dir)
    exact = forward(cfg, w, tokens, False)
    rounded = forward(cfg, w, tokens, True)
    nv = exact.shape[1]
    if nv <= args.columns:
        cols = list(range(nv))
    else:
        step = nv // args.columns
        cols = [i * step + (i * 7) % step for i in range(args.columns)]

    def lse(a):
        m = a.max(axis=1)
        return (m + np.log(np.exp(a - m[:, None]).sum(axis=1))).tolist()

    doc = {
        "model": os.path.basename(os.path.normpath(args.model_dir)),
        "generator": "tools/make-logits-fixture.py (float64 numpy forward pass)",
        "architecture": cfg["model_type"],
        "tokens": tokens,
        "vocabulary": nv,
        "columns": cols,
        "exact": [[float("%.9g" % v) for v in row[cols]] for row in exact],
        "f16kv": [[float("%.9g" % v) for v in row[cols]] for row in rounded],
        "argmax_f16kv": [int(i) for i in rounded.argmax(axis=1)],
        "logsumexp_f16kv": [float("%.9g" % v) for v in lse(rounded)],
        "max_abs_exact_minus_f16kv": float("%.3g" % np.abs(exact - rounded).max()),
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=0)
        f.write("\n")
    print(f"{args.out}: {len(tokens)} tokens, {len(cols)} of {nv} columns, "
          f"|exact - f16kv| max {doc['max_abs_exact_minus_f16kv']}", file=sys.stderr)


if __name__ == "__main__":
    main()
