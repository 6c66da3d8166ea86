#!/usr/bin/env python3
"""Writes fuzz seeds and the hand-made part of Fixtures/malformed/ (Python standard library only).

    make-corpus.py seeds gguf|safetensors|index|kld|imatrix DIR   # valid inputs for tools/fuzz/run.sh
    make-corpus.py malformed [DIR]                    # Fixtures/malformed/ (default) and its README

Every malformed file is described in the table MALFORMED below; the README is generated from it.
Minimized fuzzer finds are listed there too, with their bytes, so the folder can be rebuilt
exactly. The tests in Tests/*/Corpus*.swift assert the error each file produces.
"""
import json
import os
import struct
import sys

# ---------------------------------------------------------------- GGUF building blocks

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
       U64: "<Q", I64: "<q", F64: "<d"}
# ggml types: id -> (block size, bytes per block)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34), 12: (256, 144), 14: (256, 210), 30: (1, 2)}


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


def val(t, v):
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        return out + b"".join(val(et, x) for x in items)
    return struct.pack(FMT[t], v)


def kv(key, t, v):
    return s(key) + struct.pack("<I", t) + val(t, v)


def tinfo(name, shape, typ, offset):
    return s(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<q", d) for d in shape) + \
        struct.pack("<IQ", typ, offset)


def header(n_tensors, n_kv, version=3, magic=b"GGUF"):
    return magic + struct.pack("<IQQ", version, n_tensors, n_kv)


def pad(b, align=32):
    return b + b"\0" * ((-len(b)) % align)


def nbytes(shape, typ):
    block, size = GGML[typ]
    n = 1
    for d in shape[1:]:
        n *= d
    return shape[0] // block * size * n


def gguf(kvs, tensors, data=None, align=32, version=3):
    """A complete file: kvs [(key, type, value)], tensors [(name, shape, type)]; offsets computed."""
    out = header(len(tensors), len(kvs), version) + b"".join(kv(*x) for x in kvs)
    off, infos, blobs = 0, [], []
    for name, shape, typ in tensors:
        infos.append(tinfo(name, shape, typ, off))
        n = nbytes(shape, typ)
        blobs.append(pad(bytes((i * 7 + 3) & 0xFF for i in range(n)), align))
        off += len(blobs[-1])
    out = pad(out + b"".join(infos), align)
    return out + (data if data is not None else b"".join(blobs))


def small_model():
    kvs = [("general.architecture", STR, "llama"), ("general.name", STR, "fuzz seed"),
           ("llama.block_count", U32, 1), ("llama.context_length", U64, 128),
           ("llama.rope.freq_base", F32, 10000.0), ("general.file_type", U32, 1),
           ("x.i8", I8, -3), ("x.u8", U8, 200), ("x.i16", I16, -300), ("x.u16", U16, 60000),
           ("x.i32", I32, -70000), ("x.i64", I64, -5), ("x.f64", F64, 0.25), ("x.bool", BOOL, 1),
           ("tokenizer.ggml.tokens", ARR, (STR, ["<unk>", "<s>", "</s>", "a", "b", "ab"])),
           ("tokenizer.ggml.scores", ARR, (F32, [0.0, 0.0, 0.0, -1.0, -2.0, -3.0])),
           ("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3, 1, 1, 1])),
           ("x.u64s", ARR, (U64, [1, 2])), ("x.bools", ARR, (BOOL, [0, 1]))]
    tensors = [("token_embd.weight", [32, 6], 1), ("output_norm.weight", [32], 0),
               ("blk.0.attn_q.weight", [32, 32], 8), ("blk.0.ffn_down.weight", [256, 2], 12)]
    return gguf(kvs, tensors)


def byte_chars():
    """GPT-2's byte-to-character table."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def vocab_gpt2(pre="gpt-2"):
    toks = byte_chars() + ["he", "ll", "hell", "hello", "\u0120w", "\u0120wor", "<|endoftext|>", "<|im_start|>"]
    types = [1] * (len(toks) - 2) + [3, 3]
    merges = ["h e", "l l", "he ll", "hell o", "\u0120 w", "\u0120w o"]
    return gguf([("general.architecture", STR, "llama"), ("tokenizer.ggml.model", STR, "gpt2"),
                 ("tokenizer.ggml.pre", STR, pre), ("tokenizer.ggml.tokens", ARR, (STR, toks)),
                 ("tokenizer.ggml.token_type", ARR, (I32, types)), ("tokenizer.ggml.merges", ARR, (STR, merges)),
                 ("tokenizer.ggml.bos_token_id", U32, len(toks) - 2), ("tokenizer.ggml.eos_token_id", U32, len(toks) - 2),
                 ("tokenizer.ggml.add_bos_token", BOOL, 1)], [])


def vocab_spm():
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + ["\u2581", "\u2581h", "el", "lo", "\u2581hello", "h", "e", "l", "o"]
    types = [2, 3, 3] + [6] * 256 + [1] * 9
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0]
    return gguf([("general.architecture", STR, "llama"), ("tokenizer.ggml.model", STR, "llama"),
                 ("tokenizer.ggml.tokens", ARR, (STR, toks)), ("tokenizer.ggml.scores", ARR, (F32, scores)),
                 ("tokenizer.ggml.token_type", ARR, (I32, types)), ("tokenizer.ggml.bos_token_id", U32, 1),
                 ("tokenizer.ggml.eos_token_id", U32, 2), ("tokenizer.ggml.unknown_token_id", U32, 0)], [])


def seeds_gguf(d):
    files = {
        "vocab-gpt2.gguf": vocab_gpt2(),
        "vocab-llama-bpe.gguf": vocab_gpt2("llama-bpe"),
        "vocab-qwen2.gguf": vocab_gpt2("qwen2"),
        "vocab-deepseek-coder.gguf": vocab_gpt2("deepseek-coder"),
        "vocab-falcon.gguf": vocab_gpt2("falcon"),
        "vocab-starcoder.gguf": vocab_gpt2("starcoder"),
        "vocab-smollm.gguf": vocab_gpt2("smollm"),
        "vocab-spm.gguf": vocab_spm(),
        "small-model.gguf": small_model(),
        "empty.gguf": gguf([], []),
        "v2.gguf": gguf([("general.architecture", STR, "llama")], [("t", [4], 0)], version=2),
        "aligned64.gguf": gguf([("general.alignment", U32, 64)], [("a", [3], 0), ("b", [5, 2], 30)], align=64),
        "q6k.gguf": gguf([], [("q", [256], 14), ("bf", [8, 1, 1, 1], 30)]),
    }
    for name, b in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


# ---------------------------------------------------------------- safetensors building blocks

def safetensors(entries, data, metadata=None, raw_header=None):
    """entries: {name: (dtype, shape, [begin, end])}."""
    if raw_header is None:
        h = {k: {"dtype": d, "shape": sh, "data_offsets": off} for k, (d, sh, off) in entries.items()}
        if metadata is not None:
            h = {"__metadata__": metadata, **h}
        raw_header = json.dumps(h, separators=(",", ":")).encode()
    raw_header += b" " * ((-len(raw_header)) % 8)
    return struct.pack("<Q", len(raw_header)) + raw_header + data


def seeds_safetensors(d):
    files = {
        "mixed.safetensors": safetensors({"a": ("F32", [2, 2], [0, 16]), "b": ("BF16", [3], [16, 22]),
                                          "c": ("I64", [1], [24, 32]), "e": ("F16", [0], [32, 32])},
                                         bytes(range(32)), metadata={"format": "pt"}),
        "empty.safetensors": safetensors({}, b""),
    }
    for name, b in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


def seeds_index(d):
    ok = {"metadata": {"total_size": 16}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                         "b": "model-00002-of-00002.safetensors"}}
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(ok, f, indent=2)


# ---------------------------------------------------------------- KL-divergence base files

def kld(n_ctx, n_vocab, n_chunk, tokens=None, body=None):
    """llama-perplexity's --kl-divergence-base file: '_logits_', n_ctx u32, n_vocab i32, n_chunk i32,
    n_chunk*n_ctx i32 tokens, then per chunk (n_ctx - 1 - n_ctx//2) records of 2*((n_vocab+1)//2)+4 u16."""
    head = b"_logits_" + struct.pack("<Iii", n_ctx, n_vocab, n_chunk)
    if tokens is None:
        tokens = [(7 * i + 1) % n_vocab for i in range(n_ctx * n_chunk)]
    if body is None:
        slots = 2 * ((n_vocab + 1) // 2) + 4
        rec = []
        for r in range(n_chunk * (n_ctx - 1 - n_ctx // 2)):
            lp = [(r * 977 + j * 131) % 65536 for j in range(n_vocab)] + [0] * (slots - 4 - n_vocab)
            rec.append(struct.pack("<ff", 16.0 / 65535, -17.5 - r) + struct.pack(f"<{slots - 4}H", *lp))
        body = b"".join(rec)
    return head + struct.pack(f"<{len(tokens)}i", *tokens) + body


def seeds_kld(d):
    files = {"c4-v3-x2.kld": kld(4, 3, 2), "c5-v8-x1.kld": kld(5, 8, 1), "c8-v10-x3.kld": kld(8, 10, 3),
             "c16-v33-x2.kld": kld(16, 33, 2)}
    for name, b in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


# ---------------------------------------------------------------- legacy imatrix files

def imatrix(entries, chunks=None, dataset=b"", raw_entries=None):
    """llama-imatrix's legacy .dat: n_entries, then per entry len, name, ncall, nval, nval f32;
    optionally the chunk count and the dataset name (i32 length + bytes). entries: [(name, ncall, values)]."""
    out = struct.pack("<i", len(entries) if raw_entries is None else raw_entries)
    for name, ncall, values in entries:
        nb = name.encode() if isinstance(name, str) else name
        out += struct.pack("<i", len(nb)) + nb + struct.pack("<ii", ncall, len(values))
        out += struct.pack(f"<{len(values)}f", *values)
    if chunks is not None:
        out += struct.pack("<ii", chunks, len(dataset)) + dataset
    return out


def seeds_imatrix(d):
    two = [("blk.0.attn_q.weight", 2, [1.0, 2.0, 3.0, 4.0]), ("blk.0.ffn_down.weight", 1, [0.5] * 8)]
    files = {"two.dat": imatrix(two, 2, b"wiki.calib.raw"), "old-format.dat": imatrix(two),
             "one.dat": imatrix([("output.weight", 0, [0.0])], 0, b""),
             "empty-name.dat": imatrix([("", 3, [1.0, 1.0])], 7, b"d")}
    for name, b in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


# ---------------------------------------------------------------- the malformed corpus

def tok_json(**changes):
    """A small valid byte-level BPE tokenizer.json, with top-level or model keys replaced."""
    vocab = {c: i for i, c in enumerate(["<|endoftext|>", "a", "b", "c", "ab", "abc", "\u0120", "\u0120a"])}
    t = {"version": "1.0", "truncation": None, "padding": None,
         "added_tokens": [{"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                           "rstrip": False, "normalized": False, "special": True}],
         "normalizer": None,
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
         "post_processor": None, "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                   "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                   "vocab": vocab, "merges": ["a b", "ab c", "\u0120 a"]}}
    for k, v in changes.items():
        if k.startswith("model_"):
            t["model"][k[6:]] = v
        else:
            t[k] = v
    return json.dumps(t, ensure_ascii=False).encode()


def nest_templates(depth):
    t = {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}] * 2,
         "pair": [], "special_tokens": {}}
    for _ in range(depth - 1):
        t = {"type": "Sequence", "processors": [t, {"type": "TemplateProcessing",
                                                    "single": [{"Sequence": {"id": "A", "type_id": 0}}] * 2,
                                                    "pair": [], "special_tokens": {}}]}
    return t


def config_json(**changes):
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 320, "hidden_size": 256,
         "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
         "tie_word_embeddings": True, "bos_token_id": 317, "eos_token_id": 317, "torch_dtype": "bfloat16"}
    c.update(changes)
    return json.dumps(c, indent=2).encode()


def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, wire, payload):
    tag = pb_varint((num << 3) | wire)
    if wire == 2:
        return tag + pb_varint(len(payload)) + payload
    return tag + payload


def spm_piece(text, score=0.0, typ=None):
    b = pb_field(1, 2, text.encode() if isinstance(text, str) else text) + pb_field(2, 5, struct.pack("<f", score))
    if typ is not None:
        b += pb_field(3, 0, pb_varint(typ))
    return pb_field(1, 2, b)


def spm_model():
    return spm_piece("<unk>", 0, 2) + spm_piece("<s>", 0, 3) + spm_piece("</s>", 0, 3) + spm_piece("\u2581a", -1.0)


def gguf_kv_file(key, t, v, tail=b""):
    return header(0, 1) + kv(key, t, v) + tail


def one_tensor(shape, typ, offset=0, data=None, name="t"):
    b = pad(header(1, 0) + tinfo(name, shape, typ, offset))
    return b + (data if data is not None else b"\0" * nbytes(shape, typ))


def malformed():
    """(folder, file name, bytes, what it exercises)."""
    m = small_model()
    G, S, X, T, C, K, P = "gguf", "safetensors", "index", "tokenizer-json", "config-json", "tokenizer-config", "spm"
    L, I = "kld", "imatrix"
    k_ok = kld(4, 3, 2)          # 84 bytes: 20 header, 32 tokens, 2 chunks of one 16-byte record
    k_head = len(k_ok) - 32 - 32
    i_one = [("blk.0.attn_q.weight", 2, [1.0, 2.0, 3.0, 4.0])]
    i_ok = imatrix(i_one, 2, b"d.txt")
    i_entries = len(imatrix(i_one))
    two = pad(header(2, 0) + tinfo("a", [8], 0, 0) + tinfo("b", [8], 0, 0)) + b"\0" * 64
    mis = pad(header(2, 0) + tinfo("a", [4], 0, 0) + tinfo("b", [4], 0, 16)) + b"\0" * 64
    nan = gguf([("general.architecture", STR, "llama"), ("llama.block_count", U32, 1)],
               [("blk.0.attn_q.weight", [32, 2], 0)],
               data=struct.pack("<64f", 1.0, float("nan"), float("inf"), float("-inf"), *([0.5] * 60)))
    st_ok = {"a": ("F32", [2], [0, 8])}
    out = [
        (G, "empty.gguf", b"", "a zero-byte file"),
        (G, "bad-magic.gguf", header(0, 0, magic=b"GGML"), "the magic is not GGUF"),
        (G, "version-1.gguf", header(0, 0, version=1), "GGUF v1 (no longer read)"),
        (G, "big-endian.gguf", header(0, 0, version=0x03000000), "a big-endian (byte-swapped) version"),
        (G, "truncated-magic.gguf", b"GG", "file ends inside the magic"),
        (G, "truncated-header.gguf", header(0, 0)[:14], "file ends inside the tensor count"),
        (G, "truncated-kv-count.gguf", header(0, 0)[:20], "file ends inside the key-value count"),
        (G, "truncated-kv-key-length.gguf", header(0, 1) + b"\x05\0\0", "file ends inside a key's length"),
        (G, "truncated-kv-key.gguf", header(0, 1) + struct.pack("<Q", 20) + b"general.arch", "file ends inside a key"),
        (G, "truncated-kv-type.gguf", header(0, 1) + s("general.name") + b"\x08\0", "file ends inside a value type"),
        (G, "truncated-kv-value.gguf", gguf_kv_file("x.count", U64, 7)[:-3], "file ends inside a UINT64 value"),
        (G, "truncated-kv-string.gguf", gguf_kv_file("general.name", STR, "a model name")[:-4], "file ends inside a string value"),
        (G, "truncated-array.gguf", gguf_kv_file("x.ids", ARR, (U32, list(range(10))))[:-8], "file ends inside a UINT32 array"),
        (G, "truncated-array-strings.gguf", gguf_kv_file("tokenizer.ggml.tokens", ARR, (STR, ["a", "bb", "ccc"]))[:-2],
         "file ends inside the third string of a string array"),
        (G, "truncated-tensor-name.gguf", (header(1, 0) + tinfo("blk.0.attn_q.weight", [4], 0, 0))[:38], "file ends inside a tensor name"),
        (G, "truncated-tensor-dims.gguf", (header(1, 0) + tinfo("t", [4, 4], 0, 0))[:49], "file ends inside a tensor's dimensions"),
        (G, "truncated-tensor-type.gguf", (header(1, 0) + tinfo("t", [4], 0, 0))[:47], "file ends inside a tensor's type"),
        (G, "truncated-tensor-offset.gguf", (header(1, 0) + tinfo("t", [4], 0, 0))[:53], "file ends inside a tensor's offset"),
        (G, "truncated-padding.gguf", header(1, 0) + tinfo("t", [4], 0, 0), "file ends before the aligned data section"),
        (G, "truncated-data.gguf", m[:-100], "the last tensor's data is cut short"),
        (G, "huge-tensor-count.gguf", header(1 << 40, 0), "a tensor count far beyond the file size"),
        (G, "huge-kv-count.gguf", header(0, (1 << 63) - 1), "a key-value count far beyond the file size"),
        (G, "huge-string-length.gguf", header(0, 1) + struct.pack("<Q", 1 << 40) + b"abcd", "a key length of 1 TiB"),
        (G, "huge-array-length.gguf", header(0, 1) + s("x.a") + struct.pack("<IIQ", ARR, U8, 1 << 40),
         "an array of 2^40 elements (over the 2^30 cap)"),
        (G, "array-longer-than-file.gguf", header(0, 1) + s("x.a") + struct.pack("<IIQ", ARR, U64, 1 << 29) + b"\0" * 16,
         "an array count under the cap but larger than the bytes left"),
        (G, "overlapping-tensors.gguf", two, "two tensors at the same data offset"),
        (G, "misaligned-offset.gguf", mis, "a tensor offset that is not the padded running size"),
        (G, "offset-past-eof.gguf", one_tensor([4], 0, offset=1 << 40), "a tensor offset far past the end of the file"),
        (G, "offset-beyond-int.gguf", one_tensor([4], 0, offset=(1 << 64) - 16), "a tensor offset above Int.max"),
        (G, "tensor-past-eof.gguf", one_tensor([1024], 0, data=b"\0" * 64), "a tensor whose bytes run past the end of the file"),
        (G, "partial-block.gguf", one_tensor([33, 2], 2, data=b"\0" * 64), "Q4_0 tensor with ne[0]=33, not a multiple of 32"),
        (G, "unknown-value-type.gguf", header(0, 1) + s("x.k") + struct.pack("<I", 13) + b"\0" * 8, "value type 13"),
        (G, "unknown-tensor-type.gguf", pad(header(1, 0) + tinfo("t", [4], 99, 0)) + b"\0" * 32,
         "ggml type 99"),
        (G, "removed-tensor-type.gguf", pad(header(1, 0) + tinfo("t", [32], 4, 0)) + b"\0" * 32, "ggml type 4 (Q4_2, removed)"),
        (G, "nested-array.gguf", header(0, 1) + s("x.a") + struct.pack("<IIQ", ARR, ARR, 1) + struct.pack("<IQ", U8, 0),
         "an array of arrays"),
        (G, "duplicate-key.gguf", header(0, 2) + kv("general.name", STR, "a") + kv("general.name", STR, "b"), "a key written twice"),
        (G, "duplicate-tensor.gguf", pad(header(2, 0) + tinfo("w", [8], 0, 0) + tinfo("w", [8], 0, 32)) + b"\0" * 64,
         "a tensor name written twice"),
        (G, "empty-key.gguf", header(0, 1) + kv("", U8, 1), "a zero-length key"),
        (G, "non-utf8-key.gguf", header(0, 1) + s(b"gen\xc3\x28ral") + struct.pack("<IB", U8, 1), "a key that is not UTF-8"),
        (G, "non-utf8-value.gguf", gguf_kv_file("general.name", STR, b"caf\xe9"), "a string value in Latin-1"),
        (G, "non-utf8-array-string.gguf", gguf_kv_file("tokenizer.ggml.tokens", ARR, (STR, ["ok", b"\xff\xfe"])),
         "a string array element that is not UTF-8"),
        (G, "non-utf8-tensor-name.gguf", pad(header(1, 0) + tinfo(b"w\xed\xa0\x80", [4], 0, 0)) + b"\0" * 16,
         "a tensor name holding a UTF-16 surrogate encoded in UTF-8"),
        (G, "too-many-dims.gguf", pad(header(1, 0) + tinfo("t", [1, 1, 1, 1, 1], 0, 0)), "five dimensions"),
        (G, "negative-dim.gguf", pad(header(1, 0) + tinfo("t", [4, -2], 0, 0)), "a negative dimension"),
        (G, "element-overflow.gguf", pad(header(1, 0) + tinfo("t", [1 << 32, 1 << 32], 0, 0)), "ne[0]*ne[1] overflows 64 bits"),
        (G, "byte-size-overflow.gguf", pad(header(1, 0) + tinfo("t", [1 << 61, 2], 1, 0)), "the element count fits, the byte size does not"),
        (G, "name-too-long.gguf", pad(header(1, 0) + tinfo("n" * 64, [4], 0, 0)) + b"\0" * 16, "a 64-byte tensor name (ggml allows 63)"),
        (G, "bad-alignment.gguf", gguf([("general.alignment", U32, 48)], []), "general.alignment 48, not a power of two"),
        (G, "alignment-wrong-type.gguf", gguf([("general.alignment", U64, 32)], []), "general.alignment stored as UINT64"),
        (G, "canonical-twins.gguf", gguf([("x.caf\u00e9", U32, 1), ("x.cafe\u0301", U32, 2)],
                                        [("w.\u00e9", [8], 0), ("w.e\u0301", [8], 0)]),
         "VALID: keys and tensor names that differ in bytes but are canonically equivalent (ggml compares bytes)"),
        (G, "nan-inf-weights.gguf", nan, "VALID: F32 weights holding NaN and ±Inf (readers accept; gguf-quantize must refuse)"),

        (S, "short.safetensors", b"\x10\0\0", "three bytes: no room for the header length"),
        (S, "header-past-eof.safetensors", struct.pack("<Q", 4096) + b'{"a":1}', "header length runs past the end of the file"),
        (S, "header-too-large.safetensors", struct.pack("<Q", 200_000_000) + b"{}", "header length over the 100 MB cap"),
        (S, "header-not-json.safetensors", safetensors({}, b"", raw_header=b"\x80PK\x03\x04 not json"), "a header that is not JSON"),
        (S, "header-not-object.safetensors", safetensors({}, b"", raw_header=b"[1,2,3]"), "a header that is a JSON list"),
        (S, "negative-offset.safetensors", safetensors({"a": ("F32", [2], [-8, 0])}, b"\0" * 8), "data_offsets begin below 0"),
        (S, "reversed-offsets.safetensors", safetensors({"a": ("F32", [2], [8, 0])}, b"\0" * 8), "data_offsets end before begin"),
        (S, "offsets-past-end.safetensors", safetensors({"a": ("F32", [4], [0, 16])}, b"\0" * 8), "data_offsets past the data"),
        (S, "overlapping.safetensors", safetensors({"a": ("F32", [2], [0, 8]), "b": ("F32", [2], [4, 12])}, b"\0" * 12),
         "two tensors sharing bytes"),
        (S, "wrong-size.safetensors", safetensors({"a": ("F32", [3], [0, 8])}, b"\0" * 8), "3 F32 elements in 8 bytes"),
        (S, "duplicate-tensor.safetensors", safetensors({}, b"\0" * 8, raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                                                   b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'),
         "a tensor name written twice"),
        (S, "negative-shape.safetensors", safetensors({"a": ("F32", [-2], [0, 8])}, b"\0" * 8), "a negative dimension"),
        (S, "shape-overflow.safetensors", safetensors({"a": ("F32", [1 << 40, 1 << 40], [0, 8])}, b"\0" * 8), "element count overflows"),
        (S, "missing-dtype.safetensors", safetensors({}, b"\0" * 8, raw_header=b'{"a":{"shape":[2],"data_offsets":[0,8]}}'),
         "an entry without dtype"),
        (S, "non-utf8-header.safetensors", safetensors({}, b"", raw_header=b'{"\xff":1}'), "a header that is not UTF-8"),

        (X, "parent-shard.index.json", json.dumps({"weight_map": {"model.embed_tokens.weight": "../model.safetensors"}}).encode(),
         "a shard name that leaves the folder (../)"),
        (X, "absolute-shard.index.json", json.dumps({"weight_map": {"model.embed_tokens.weight": "/etc/passwd"}}).encode(),
         "an absolute shard path"),
        (X, "backslash-shard.index.json", json.dumps({"weight_map": {"model.embed_tokens.weight": "..\\model.safetensors"}}).encode(),
         "a Windows-style path in a shard name"),
        (X, "missing-shard.index.json", json.dumps({"weight_map": {"model.embed_tokens.weight": "model-00002-of-00002.safetensors"}}).encode(),
         "a shard that is not in the folder"),
        (X, "weight-map-not-object.index.json", json.dumps({"weight_map": ["model.safetensors"]}).encode(), "weight_map is a list"),
        (X, "shard-not-string.index.json", json.dumps({"weight_map": {"model.embed_tokens.weight": 1}}).encode(), "a shard given as a number"),
        (X, "unknown-tensor.index.json", json.dumps({"weight_map": {"model.no_such.weight": "model.safetensors"}}).encode(),
         "the index names a tensor no file holds"),

        (T, "truncated.json", tok_json()[:200], "tokenizer.json cut short"),
        (T, "top-level-list.json", b"[1, 2, 3]\n", "a JSON list instead of an object"),
        (T, "no-model.json", tok_json(model=None), "no 'model' object"),
        (T, "unigram-model.json", tok_json(model={"type": "Unigram", "vocab": [["a", 0.0]]}), "a Unigram model (only BPE is read)"),
        (T, "merge-not-in-vocab.json", tok_json(model_merges=["a b", "x y"]), "a merge naming tokens missing from the vocabulary"),
        (T, "negative-id.json", tok_json(model_vocab={"a": -1}), "a vocabulary id below 0"),
        (T, "huge-id.json", tok_json(model_vocab={"a": 0, "b": 1, "ab": 3000000000}, model_merges=["a b"]),
         "a vocabulary id above Int32.max used by a merge (trapped in the merge table before the fix)"),
        (T, "template-repeats-sequence.json",
         tok_json(post_processor=nest_templates(40)),
         "40 nested TemplateProcessing steps that each repeat $A (2^40 ids per token before the fix)"),
        (T, "bad-regex.json", tok_json(pre_tokenizer={"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated", "invert": False}),
         "a Split regex that does not compile"),
        (T, "bom.json", b"\xef\xbb\xbf" + tok_json(), "a UTF-8 byte order mark"),
        (T, "latin1.json", tok_json().replace(b'"a"', b'"\xe9"', 1), "a string in Latin-1"),
        (T, "deep-nesting.json", b"[" * 600 + b"]" * 600, "600 nested lists (the cap is 512)"),
        (T, "added-token-no-content.json", tok_json(added_tokens=[{"id": 0, "special": True}]), "an added token without content"),

        (C, "truncated.json", config_json()[:60], "config.json cut short"),
        (C, "architectures-string.json", config_json(architectures="LlamaForCausalLM"), "'architectures' is a string"),
        (C, "no-architectures.json", config_json(architectures=None), "'architectures' is null"),
        (C, "hidden-size-string.json", config_json(hidden_size="256"), "hidden_size is a string"),
        (C, "hidden-size-float.json", config_json(hidden_size=256.5), "hidden_size is not an integer"),
        (C, "hidden-size-huge.json", config_json().replace(b'"hidden_size": 256', b'"hidden_size": 123456789012345678901234567890'),
         "hidden_size beyond 64 bits"),
        (C, "non-utf8.json", config_json().replace(b'"llama"', b'"ll\xe1ma"'), "a string that is not UTF-8"),

        (K, "truncated.json", b'{"add_bos_token": true, "bos_token": "<|endo', "tokenizer_config.json cut short"),
        (K, "added-tokens-decoder-key.json", json.dumps({"added_tokens_decoder": {"x": {"content": "<s>"}}}).encode(),
         "an added_tokens_decoder key that is not a token id"),
        (K, "tokenizer-class-number.json", json.dumps({"tokenizer_class": 7}).encode(), "tokenizer_class is a number"),
        (K, "added-token-flag-string.json", json.dumps({"added_tokens_decoder": {"0": {"content": "<s>", "special": "yes"}}}).encode(),
         "a flag of an added token given as a string"),

        (P, "truncated-varint.model", spm_model() + b"\x0a\xff", "file ends inside a length varint"),
        (P, "length-past-end.model", spm_model() + b"\x0a\x40abc", "a piece whose length runs past the end"),
        (P, "pieces-wrong-wire.model", b"\x08\x01" + spm_model(), "field 1 (pieces) as a varint"),
        (P, "bad-piece-type.model", spm_model() + spm_piece("x", 0, 9), "a piece of type 9"),
        (P, "group-field.model", spm_model() + b"\x4b", "an unknown field 9 sent as a group (wire type 3)"),
        (P, "non-utf8-piece.model", spm_model() + spm_piece(b"\xc0\xaf"), "a piece that is overlong UTF-8"),
        (P, "long-varint.model", b"\x20" + b"\xff" * 11, "an unknown varint field 4 whose value runs over 10 bytes"),

        (L, "issue-11.kld", b"_logits_" + struct.pack("<Iii", 1 << 24, (1 << 30) + 122, 512),
         "the 20-byte header of issue 11: n_ctx 2^24, n_vocab 2^30+122, n_chunk 512 (the size sum overflowed: a trap before the fix)"),
        (L, "empty.kld", b"", "a zero-byte file"),
        (L, "truncated-magic.kld", b"_logi", "file ends inside the magic"),
        (L, "bad-magic.kld", b"_LOGITS_" + k_ok[8:], "the magic is not _logits_"),
        (L, "gguf.kld", header(0, 0), "a GGUF file"),
        (L, "truncated-header.kld", k_ok[:14], "file ends inside n_vocab"),
        (L, "ctx-zero.kld", kld(0, 3, 2, tokens=[], body=b""), "n_ctx 0"),
        (L, "ctx-two.kld", kld(2, 3, 2, body=b""), "n_ctx 2 (no scored position per chunk)"),
        (L, "ctx-huge.kld", b"_logits_" + struct.pack("<Iii", 0xFFFFFFFF, 3, 2), "n_ctx 2^32-1"),
        (L, "ctx-too-long.kld", b"_logits_" + struct.pack("<Iii", 1 << 20, 3, 1) + b"\0" * 64, "n_ctx 2^20: one chunk is larger than the file"),
        (L, "vocab-zero.kld", b"_logits_" + struct.pack("<Iii", 4, 0, 2), "n_vocab 0"),
        (L, "vocab-negative.kld", b"_logits_" + struct.pack("<Iii", 4, -3, 2), "n_vocab below 0"),
        (L, "vocab-huge.kld", b"_logits_" + struct.pack("<Iii", 4, 0x7FFFFFFF, 2) + b"\0" * 64, "n_vocab 2^31-1: one record is larger than the file"),
        (L, "chunks-zero.kld", kld(4, 3, 0), "n_chunk 0"),
        (L, "chunks-negative.kld", b"_logits_" + struct.pack("<Iii", 4, 3, -1), "n_chunk below 0"),
        (L, "chunks-huge.kld", kld(4, 3, 2)[:16] + struct.pack("<i", 0x7FFFFFFF) + k_ok[20:], "n_chunk 2^31-1 in a file holding two chunks"),
        (L, "truncated-tokens.kld", k_ok[:30], "file ends inside the tokens"),
        (L, "truncated-records.kld", k_ok[:-1], "the last chunk's records are one byte short"),
        (L, "token-negative.kld", kld(4, 3, 2, tokens=[1, 2, 0, -1, 0, 1, 2, 0]), "a token id below 0"),
        (L, "token-past-vocab.kld", kld(4, 3, 2, tokens=[1, 2, 0, 1, 0, 1, 3, 0]), "a token id equal to n_vocab"),
        (L, "trailing-bytes.kld", k_ok + b"\0" * 7, "VALID: bytes after the last chunk (llama-perplexity ignores them too)"),

        (I, "empty.dat", b"", "a zero-byte file"),
        (I, "gguf.dat", header(0, 0), "a GGUF file"),
        (I, "truncated-count.dat", b"\x01\x00", "file ends inside the entry count"),
        (I, "zero-entries.dat", struct.pack("<i", 0) + b"\0" * 16, "an entry count of 0"),
        (I, "negative-entries.dat", struct.pack("<i", -1) + b"\0" * 16, "an entry count below 0"),
        (I, "huge-entries.dat", imatrix(i_one, raw_entries=0x7FFFFFFF), "an entry count of 2^31-1"),
        (I, "negative-name-length.dat", struct.pack("<ii", 1, -5) + b"\0" * 16, "a name length below 0"),
        (I, "huge-name-length.dat", struct.pack("<ii", 1, 0x7FFFFFFF) + b"\0" * 16, "a name length of 2^31-1"),
        (I, "name-past-end.dat", struct.pack("<ii", 1, 30) + b"blk.0.attn_q.weight" + b"\0" * 4, "a name that runs past the end"),
        (I, "non-utf8-name.dat", imatrix([(b"blk.\xc0\xaf", 1, [1.0])]), "a name that is overlong UTF-8"),
        (I, "truncated-ncall.dat", i_ok[:29], "file ends inside the call count"),
        (I, "negative-ncall.dat", imatrix([("a", -3, [1.0])]), "a call count below 0"),
        (I, "zero-nval.dat", imatrix([("a", 1, [])]) + b"\0" * 8, "a value count of 0"),
        (I, "negative-nval.dat", struct.pack("<ii", 1, 1) + b"a" + struct.pack("<ii", 1, -4) + b"\0" * 16, "a value count below 0"),
        (I, "huge-nval.dat", struct.pack("<ii", 1, 1) + b"a" + struct.pack("<ii", 1, 0x40000000) + b"\0" * 16, "a value count of 2^30 (4 GiB of values)"),
        (I, "values-past-end.dat", i_ok[:40], "the values run past the end"),
        (I, "nan-value.dat", imatrix([("a", 1, [1.0, float("nan")])]), "a NaN value"),
        (I, "inf-value.dat", imatrix([("a", 1, [float("inf")])]), "an infinite value"),
        (I, "duplicate-name.dat", imatrix([("a", 1, [1.0]), ("a", 1, [2.0])]), "an entry name written twice"),
        (I, "truncated-chunks.dat", i_ok[:i_entries + 3], "file ends inside the chunk count"),
        (I, "negative-chunks.dat", imatrix(i_one, -2, b"d.txt"), "a chunk count below 0"),
        (I, "truncated-dataset-length.dat", i_ok[:i_entries + 6], "file ends inside the dataset name length"),
        (I, "negative-dataset-length.dat", imatrix(i_one)[:] + struct.pack("<ii", 2, -1), "a dataset name length below 0"),
        (I, "dataset-past-end.dat", i_ok[:-1], "the dataset name runs past the end"),
        (I, "old-format.dat", imatrix(i_one), "VALID: no chunk count or dataset (files before b3000)"),
    ]
    return out


def write_malformed(root):
    rows = malformed()
    names = set()
    for folder, name, data, _ in rows:
        assert (folder, name) not in names, name
        names.add((folder, name))
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        with open(os.path.join(root, folder, name), "wb") as f:
            f.write(data)
    lines = ["# Malformed inputs", "",
             "Small hostile files for the readers. Each one is checked by a test that asserts the exact error",
             "(Tests/GGUFTests/CorpusTests.swift, Tests/HFModelTests/CorpusTests.swift) and by",
             "Tests/CommandsTests/CorpusCommandTests.swift, which runs `gguf-dump` and `hf2gguf` over them;",
             "the kld/ and imatrix/ files by Tests/CommandsTests/KLDBaseFileTests.swift and",
             "Tests/QuantsTests/ImportanceMatrixTests.swift.",
             "Generated by `python3 tools/fuzz/make-corpus.py malformed` (standard library only); the",
             "`found/` files are minimized fuzzer finds (tools/fuzz/run.sh), kept as they were found.", "",
             "| folder | file | bytes | what it exercises |", "|---|---|---|---|"]
    for folder, name, data, what in rows:
        lines.append(f"| {folder} | {name} | {len(data)} | {what} |")
    found = os.path.join(root, "found")
    if os.path.isdir(found):
        notes = {}
        notes_file = os.path.join(found, "NOTES.tsv")
        if os.path.exists(notes_file):
            for line in open(notes_file, encoding="utf-8"):
                if "\t" in line:
                    k, v = line.rstrip("\n").split("\t", 1)
                    notes[k] = v
        for name in sorted(os.listdir(found)):
            if name == "NOTES.tsv":
                continue
            size = os.path.getsize(os.path.join(found, name))
            lines.append(f"| found | {name} | {size} | {notes.get(name, 'fuzzer find')} |")
    with open(os.path.join(root, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(rows)} files written to {root}")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "seeds":
        os.makedirs(sys.argv[3], exist_ok=True)
        {"gguf": seeds_gguf, "safetensors": seeds_safetensors, "index": seeds_index, "kld": seeds_kld,
         "imatrix": seeds_imatrix}[sys.argv[2]](sys.argv[3])
    elif len(sys.argv) >= 2 and sys.argv[1] == "malformed":
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        write_malformed(sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "Fixtures", "malformed"))
    else:
        print(__doc__)
        sys.exit(64)
