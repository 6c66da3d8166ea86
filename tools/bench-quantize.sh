#!/usr/bin/env bash
# Speed and peak memory of gguf-quantize against llama-quantize on the same F32 GGUF, same threads.
#
#   tools/bench-quantize.sh [MODEL.gguf] [TYPE] [THREADS]
#
# MODEL defaults to SmolLM2-135M F32 (converted from the model cache with hf2gguf), TYPE to Q4_K_M,
# THREADS to 2. llama-quantize runs when it is on PATH (or LLAMA_QUANTIZE points at it); both outputs
# are then compared byte for byte. Each tool runs RUNS times (default 3); figures from /usr/bin/time -v.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
type=${2:-Q4_K_M}
threads=${3:-2}
runs=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$here" && swift build -c release --product hf2gguf >/dev/null && swift build -c release --product gguf-quantize >/dev/null)
bin="$here/.build/release"
model=${1:-}
if [ -z "$model" ]; then
    model="$tmp/smollm2-f32.gguf"
    "$bin/hf2gguf" "$models/SmolLM2-135M-Instruct-hf" --outtype f32 --outfile "$model" -q
fi

measure() {  # label, output, command...
    local label=$1; shift
    local best_wall="" best_rss=""
    for _ in $(seq "$runs"); do
        /usr/bin/time -v "$@" >"$tmp/out.log" 2>"$tmp/time.log" || { cat "$tmp/out.log" "$tmp/time.log" >&2; return 1; }
        local wall rss
        wall=$(grep 'Elapsed (wall clock)' "$tmp/time.log" | awk '{print $NF}' | awk -F: '{print ($1*60)+$2}')
        rss=$(grep 'Maximum resident set size' "$tmp/time.log" | awk '{print $NF}')
        if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc -l)" = 1 ]; then best_wall=$wall; fi
        if [ -z "$best_rss" ] || [ "$rss" -gt "$best_rss" ]; then best_rss=$rss; fi
    done
    printf '%-22s best wall %6.2f s of %d   peak RSS %7.1f MB\n' "$label" "$best_wall" "$runs" "$(echo "$best_rss/1024" | bc -l)"
}

echo "model: $model -> $type, $threads threads"
measure "gguf-quantize" "$bin/gguf-quantize" "$model" "$tmp/ours.gguf" "$type" "$threads" -q --force
llama=${LLAMA_QUANTIZE:-$(command -v llama-quantize || true)}
if [ -n "$llama" ]; then
    measure "llama-quantize" "$llama" "$model" "$tmp/ref.gguf" "$type" "$threads"
    if cmp -s "$tmp/ours.gguf" "$tmp/ref.gguf"; then echo "outputs: byte-identical"; else echo "outputs: DIFFER"; fi
else
    echo "llama-quantize: not on PATH; reference figure for SmolLM2 F32 -> Q4_K_M, 2 threads, on this machine kind: 2.1 s, 576 MB"
fi
