#!/usr/bin/env bash
# Speed of gguf-ppl against llama-perplexity on the same files, in one run: whole-process wall time,
# the median of RUNS alternating runs per tool (ours first on odd runs, llama.cpp first on even ones,
# after one unmeasured run of each),
# tokens/s = chunks × ctx / median wall time, the ratio ours/llama.cpp, and both final estimates.
#
#   tools/bench-ppl.sh [-m MODEL] [--types T1,T2,...] [--chunks N] [--ctx N] [--threads N] [--runs N]
#
# MODEL: a Hugging Face folder (converted to F32 with hf2gguf) or a GGUF (used as the source of every
# type; a quantized GGUF is requantized with --allow-requantize, as llama-quantize would need, and the
# type named SOURCE runs the file itself). Default: SmolLM2-135M-Instruct from the model cache,
# types F32,Q8_0,Q4_0,Q4_K_M,Q6_K, 8 chunks of 512, 2 threads, 3 runs.
# llama-perplexity: $LLAMA_PERPLEXITY, else the one on PATH; without it only our figures print.
# The issue-15 reference is b10572 built for this CPU (GGML_NATIVE=OFF, AVX512 + VBMI + VNNI + BF16 on,
# AMX off); flash attention is on by default in both tools (llama.cpp's "auto" on the CPU).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
shared=${SWIFT_GGUF_SHARED:-$here/../shared}
text=$shared/data/wikitext-2-raw/wiki.test.raw
model=$models/SmolLM2-135M-Instruct-hf
types=F32,Q8_0,Q4_0,Q4_K_M,Q6_K
chunks=8 ctx=512 threads=2 runs=3
while [ $# -gt 0 ]; do
    case $1 in
        -m|--model) model=$2; shift 2 ;;
        --types) types=$2; shift 2 ;;
        --chunks) chunks=$2; shift 2 ;;
        --ctx) ctx=$2; shift 2 ;;
        --threads|-t) threads=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "bench-ppl: unknown argument $1" >&2; exit 64 ;;
    esac
done
[ -e "$model" ] || { echo "bench-ppl: no model $model (run tools/prepare-models.sh)" >&2; exit 1; }
[ -f "$text" ] || { echo "bench-ppl: no text $text" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$here" && swift build -c release >/dev/null)
bin="$here/.build/release"
if [ -d "$model" ]; then
    "$bin/hf2gguf" "$model" --outtype f32 --outfile "$tmp/F32.gguf" -q
    src="$tmp/F32.gguf"
else
    src=$model
fi
llama=${LLAMA_PERPLEXITY:-$(command -v llama-perplexity || true)}

tool_ours() { "$bin/gguf-ppl" -m "$1" -f "$text" -c "$ctx" --chunks "$chunks" -t "$threads" -q > "$tmp/o.out" 2> "$tmp/o.err"; }
tool_llama() { "$llama" -m "$1" -f "$text" -c "$ctx" --chunks "$chunks" -t "$threads" > "$tmp/l.out" 2>&1; }
timed() {  # tool file -> seconds on stdout
    local s e
    s=$(date +%s.%N); "tool_$1" "$2"; e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
final() { grep -o 'Final estimate: PPL = [0-9.]* +/- [0-9.]*' "$1" | sed 's/Final estimate: PPL = //'; }

echo "model $(basename "$model"), $chunks chunks of $ctx, $threads threads, median of $runs alternating runs (wall time of the whole process)"
echo "llama-perplexity: ${llama:-not found (set LLAMA_PERPLEXITY)}"
printf '%-8s %10s %10s %10s %10s %8s  %-22s %-22s\n' type "size MiB" "ours s" "ours t/s" "llama t/s" ratio "gguf-ppl PPL" "llama-perplexity PPL"
for t in ${types//,/ }; do
    f="$tmp/$t.gguf"
    if [ "$t" = SOURCE ]; then
        f=$src
    elif [ "$t" = F32 ] && [ "$src" = "$tmp/F32.gguf" ]; then
        f=$src
    else
        "$bin/gguf-quantize" -q --allow-requantize "$src" "$f" "$t" "$threads" > /dev/null
    fi
    # Written files flushed and one unmeasured run of each tool first (page cache warm, no writeback).
    sync
    tool_ours "$f"
    if [ -n "$llama" ]; then tool_llama "$f"; fi
    ours=() ref=()
    for i in $(seq 1 "$runs"); do
        if [ -n "$llama" ] && [ $((i % 2)) = 0 ]; then ref+=("$(timed llama "$f")"); fi
        ours+=("$(timed ours "$f")")
        if [ -n "$llama" ] && [ $((i % 2)) = 1 ]; then ref+=("$(timed llama "$f")"); fi
    done
    mo=$(median "${ours[@]}")
    to=$(awk -v w="$mo" -v n=$((chunks * ctx)) 'BEGIN { printf "%.1f", n / w }')
    size=$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.1f", b / 1048576 }')
    if [ -n "$llama" ]; then
        mr=$(median "${ref[@]}")
        tr=$(awk -v w="$mr" -v n=$((chunks * ctx)) 'BEGIN { printf "%.1f", n / w }')
        ratio=$(awk -v a="$mr" -v b="$mo" 'BEGIN { printf "%.2f×", a / b }')
        printf '%-8s %10s %10s %10s %10s %8s  %-22s %-22s\n' "$t" "$size" "$mo" "$to" "$tr" "$ratio" "$(final "$tmp/o.err")" "$(final "$tmp/l.out")"
    else
        printf '%-8s %10s %10s %10s %10s %8s  %-22s\n' "$t" "$size" "$mo" "$to" - - "$(final "$tmp/o.err")"
    fi
done
