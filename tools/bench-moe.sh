#!/usr/bin/env bash
# MoE speed against llama.cpp in one run, on a synthetic Qwen3-MoE checkpoint (tools/make-synthetic-moe.py,
# bf16, the tiny-qwen3moe tokenizer of the model cache so that b10572 converts it and wiki text tokenizes):
#
#   1. convert   hf2gguf               vs convert_hf_to_gguf.py   (--outtype bf16; byte compare)
#   2. quantize  gguf-quantize         vs llama-quantize          (the bf16 GGUF -> Q4_K_M; byte compare)
#   3. perplexity gguf-ppl             vs llama-perplexity        (the Q4_K_M file; tokens/s)
#
#   tools/bench-moe.sh [--experts N] [--layers N] [--hidden N] [--expert-ffn N] [--ctx N] [--chunks N]
#                      [--threads N] [--keep DIR]
#
# Defaults: 8 experts, 4 layers, hidden 1024, expert ffn 1024, -c 128 --chunks 4, 2 threads.
# Each step prints wall time and CPU time (user + system, from /usr/bin/time) per tool and the ratio
# ours/llama.cpp of both (on a loaded machine the CPU times are the steadier figure). Targets (issue 12):
# convert <= 0.2x time, quantize <= 0.5x time, perplexity >= 1.5x tokens/s.
# llama.cpp tools: $LLAMA_CPP_BIN/llama-quantize and $LLAMA_CPP_BIN/llama-perplexity, else PATH; the
# converter: $CONVERT_HF_TO_GGUF (convert_hf_to_gguf.py) run by $LLAMA_PYTHON (default python3, needs
# torch + transformers). A missing tool's column prints "-". SWIFT_GGUF_BIN: a folder with release builds of
# hf2gguf, gguf-quantize and gguf-ppl to use instead of building them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
shared=${SWIFT_GGUF_SHARED:-$here/../shared}
text=$shared/data/wikitext-2-raw/wiki.test.raw
experts=8 layers=4 hidden=1024 ffn=1024 ctx=128 chunks=4 threads=2 keep=""
while [ $# -gt 0 ]; do
    case $1 in
        --experts) experts=$2; shift 2 ;;
        --layers) layers=$2; shift 2 ;;
        --hidden) hidden=$2; shift 2 ;;
        --expert-ffn) ffn=$2; shift 2 ;;
        --ctx|-c) ctx=$2; shift 2 ;;
        --chunks) chunks=$2; shift 2 ;;
        --threads|-t) threads=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "bench-moe: unknown argument $1" >&2; exit 64 ;;
    esac
done
tokdir=$models/tiny-qwen3moe
[ -f "$tokdir/tokenizer.json" ] || { echo "bench-moe: no tokenizer in $tokdir (run tools/prepare-models.sh)" >&2; exit 1; }
[ -f "$text" ] || { echo "bench-moe: no text $text" >&2; exit 1; }
if [ -n "$keep" ]; then
    mkdir -p "$keep"; tmp=$(cd "$keep" && pwd)
else
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fi

if [ -n "${SWIFT_GGUF_BIN:-}" ]; then
    bin=$SWIFT_GGUF_BIN  # already built hf2gguf, gguf-quantize and gguf-ppl (release)
else
    (cd "$here" && for p in hf2gguf gguf-quantize gguf-ppl; do swift build -c release --product "$p" >/dev/null; done)
    bin="$here/.build/release"
fi
find_tool() {  # name -> path or empty
    if [ -n "${LLAMA_CPP_BIN:-}" ] && [ -x "$LLAMA_CPP_BIN/$1" ]; then echo "$LLAMA_CPP_BIN/$1"; else command -v "$1" || true; fi
}
lquant=$(find_tool llama-quantize)
lppl=$(find_tool llama-perplexity)
convert=${CONVERT_HF_TO_GGUF:-}

model=$tmp/moe-hf
python3 "$here/tools/make-synthetic-moe.py" "$model" --experts "$experts" --layers "$layers" --hidden "$hidden" \
    --expert-ffn "$ffn" --shards 2 --tokenizer-dir "$tokdir" --vocab 49152 >/dev/null

# run LABEL command... -> sets W (wall s) and C (user + sys s); the command's output in $tmp/LABEL.log
run() {
    local label=$1; shift
    /usr/bin/time -f '%e %U %S' -o "$tmp/$label.time" "$@" >"$tmp/$label.log" 2>&1 \
        || { echo "bench-moe: $label failed:" >&2; tail -5 "$tmp/$label.log" >&2; return 1; }
    read -r W u s < "$tmp/$label.time"
    C=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
same() { if cmp -s "$1" "$2"; then echo "byte-identical"; else echo "DIFFER"; fi; }
row() {  # step, ours wall, ours cpu, ref wall, ref cpu, note
    printf '%-11s %9s %9s %11s %11s %9s %9s  %s\n' "$1" "$2" "$3" "$4" "$5" "$([ "$4" = - ] && echo - || ratio "$2" "$4")" \
        "$([ "$5" = - ] && echo - || ratio "$3" "$5")" "$6"
}

size=$(du -sm "$model" | cut -f1)
echo "synthetic Qwen3-MoE: $experts experts ($(python3 -c "import json;print(json.load(open('$model/config.json'))['num_experts_per_tok'])") used), $layers layers, hidden $hidden, expert ffn $ffn, bf16, ${size} MB; $threads threads"
echo "llama.cpp: convert ${convert:-not set (CONVERT_HF_TO_GGUF)}; quantize ${lquant:-not found}; perplexity ${lppl:-not found}"
printf '%-11s %9s %9s %11s %11s %9s %9s  %s\n' step "ours s" "ours cpu" "llama s" "llama cpu" "wall ×" "cpu ×" ""

# 1. convert
run conv-ours "$bin/hf2gguf" "$model" --outtype bf16 --outfile "$tmp/ours-bf16.gguf" -q; ow=$W oc=$C
if [ -n "$convert" ]; then
    run conv-ref "${LLAMA_PYTHON:-python3}" "$convert" "$model" --outtype bf16 --outfile "$tmp/ref-bf16.gguf"
    row convert "$ow" "$oc" "$W" "$C" "outputs $(same "$tmp/ours-bf16.gguf" "$tmp/ref-bf16.gguf") (target <= 0.20x)"
else
    row convert "$ow" "$oc" - - ""
fi

# 2. quantize (both from our bf16 file)
run quant-ours "$bin/gguf-quantize" "$tmp/ours-bf16.gguf" "$tmp/ours-Q4_K_M.gguf" Q4_K_M "$threads" -q --force; ow=$W oc=$C
if [ -n "$lquant" ]; then
    run quant-ref "$lquant" "$tmp/ours-bf16.gguf" "$tmp/ref-Q4_K_M.gguf" Q4_K_M "$threads"
    row quantize "$ow" "$oc" "$W" "$C" "outputs $(same "$tmp/ours-Q4_K_M.gguf" "$tmp/ref-Q4_K_M.gguf") (target <= 0.50x)"
else
    row quantize "$ow" "$oc" - - ""
fi

# 3. perplexity (on llama-quantize's file when there is one, else ours), on the first 2000 lines of
# wiki.test.raw (llama-perplexity tokenizes the whole file first, over 10 s here, which would swamp
# the evaluation of a few chunks; the chunks read are the same).
q4=$tmp/ours-Q4_K_M.gguf
[ -n "$lquant" ] && q4=$tmp/ref-Q4_K_M.gguf
head -n 2000 "$text" > "$tmp/wiki-head.raw"
args=(-m "$q4" -f "$tmp/wiki-head.raw" -c "$ctx" --chunks "$chunks" -t "$threads")
final() { grep -o 'Final estimate: PPL = [0-9.]* +/- [0-9.]*' "$1" | sed 's/Final estimate: PPL = //'; }
# evaluation seconds: "N seconds per pass" (both tools print it; timed on the first pass) × passes
evals() {
    local spp nseq
    spp=$(grep -o '[0-9.]* seconds per pass' "$1" | head -1 | awk '{print $1}')
    nseq=$(grep -o 'n_seq=[0-9]*' "$1" | head -1 | cut -d= -f2)
    awk -v s="$spp" -v q="${nseq:-1}" -v c="$chunks" 'BEGIN { printf "%.3f", s * int((c + q - 1) / q) }'
}
tokens=$((ctx * chunks))
run ppl-ours "$bin/gguf-ppl" "${args[@]}"; ow=$W oc=$C oe=$(evals "$tmp/ppl-ours.log")
if [ -n "$lppl" ]; then
    run ppl-ref "$lppl" "${args[@]}"; re=$(evals "$tmp/ppl-ref.log")
    row perplexity "$ow" "$oc" "$W" "$C" "PPL ours $(final "$tmp/ppl-ours.log"), llama.cpp $(final "$tmp/ppl-ref.log")"
    awk -v n="$tokens" -v ow="$ow" -v oc="$oc" -v rw="$W" -v rc="$C" -v oe="$oe" -v re="$re" 'BEGIN {
        printf "tokens/s (%d tokens), whole process: ours %.1f wall, %.1f per cpu-s; llama.cpp %.1f wall, %.1f per cpu-s; ours/llama.cpp %.2fx wall, %.2fx cpu\n",
            n, n / ow, n / oc, n / rw, n / rc, rw / ow, rc / oc
        printf "tokens/s (%d tokens), evaluation (seconds per pass): ours %.1f (%.2f s), llama.cpp %.1f (%.2f s); ours/llama.cpp %.2fx (target >= 1.5x)\n",
            n, n / oe, oe, n / re, re, re / oe }'
else
    row perplexity "$ow" "$oc" - - "PPL ours $(final "$tmp/ppl-ours.log")"
    awk -v n="$tokens" -v ow="$ow" -v oe="$oe" 'BEGIN { printf "tokens/s (%d tokens): ours %.1f wall, %.1f evaluation\n", n, n / ow, n / oe }'
fi
echo "(wall and CPU times of the whole process; ratios ours/llama.cpp for convert and quantize, lower is better)"
