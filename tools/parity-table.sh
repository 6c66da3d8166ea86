#!/usr/bin/env bash
# Perplexity and KL divergence of every file type: gguf-ppl against llama-perplexity on the same
# quantized files, in one run (issue 13's table). The F32 base log-probabilities are written by each
# tool for itself; each quantized file is made once (by llama-quantize when it is given, so the
# files are the reference's own; else by gguf-quantize) and both tools measure that file.
#
#   tools/parity-table.sh [-m MODEL.gguf] [--types T1,T2,...] [--imatrix FILE] [--chunks N] [--ctx N]
#                         [--threads N] [--text FILE] [--check-bytes]
#
# MODEL: an F32 GGUF (default: SmolLM2-135M F32 converted from the model cache). TYPES: default every
# file type of llama-quantize b10572 that SmolLM2 can take. --imatrix: used for every type (the
# IQ1/IQ2 types need one). --check-bytes: also quantize with gguf-quantize and compare the bytes.
# llama.cpp: $LLAMA_PERPLEXITY and $LLAMA_QUANTIZE (the AVX2 build, GGML_NATIVE=OFF + AVX2/FMA/F16C,
# is the one whose order the engine follows). Flash attention off in both (-fa off).
# Columns: PPL(Q) and mean KLD of each tool, and the relative differences.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
shared=${SWIFT_GGUF_SHARED:-$here/../shared}
text=$shared/data/wikitext-2-raw/wiki.test.raw
model="" imatrix="" chunks=4 ctx=512 threads=2 check=0
types=Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q2_K_S,Q3_K_S,Q3_K_M,Q3_K_L,Q4_K_S,Q4_K_M,Q5_K_S,Q5_K_M,Q6_K,IQ4_NL,IQ4_XS,IQ3_XXS,IQ3_XS,IQ3_S,IQ3_M,IQ2_XXS,IQ2_XS,IQ2_S,IQ2_M,IQ1_S,IQ1_M,TQ1_0,TQ2_0,MXFP4_MOE,F16,BF16
while [ $# -gt 0 ]; do
    case $1 in
        -m|--model) model=$2; shift 2 ;;
        --types) types=$2; shift 2 ;;
        --imatrix) imatrix=$2; shift 2 ;;
        --chunks) chunks=$2; shift 2 ;;
        --ctx) ctx=$2; shift 2 ;;
        --threads|-t) threads=$2; shift 2 ;;
        --text) text=$2; shift 2 ;;
        --check-bytes) check=1; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "parity-table: unknown argument $1" >&2; exit 64 ;;
    esac
done
llama_ppl=${LLAMA_PERPLEXITY:-$(command -v llama-perplexity || true)}
llama_q=${LLAMA_QUANTIZE:-$(command -v llama-quantize || true)}
[ -n "$llama_ppl" ] || { echo "parity-table: needs llama-perplexity (LLAMA_PERPLEXITY)" >&2; exit 1; }
[ -f "$text" ] || { echo "parity-table: no text $text" >&2; exit 1; }
[ -z "$imatrix" ] || [ -f "$imatrix" ] || { echo "parity-table: no imatrix $imatrix" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$here" && for p in hf2gguf gguf-quantize gguf-ppl; do swift build -c release --product "$p" >/dev/null; done)
bin="$here/.build/release"
if [ -z "$model" ]; then
    model="$tmp/F32.gguf"
    "$bin/hf2gguf" "$models/SmolLM2-135M-Instruct-hf" --outtype f32 --outfile "$model" -q
fi
imat=()
[ -z "$imatrix" ] || imat=(--imatrix "$imatrix")
common=(-f "$text" -c "$ctx" --chunks "$chunks" -t "$threads" -fa off)

"$llama_ppl" -m "$model" "${common[@]}" --kl-divergence-base "$tmp/base-llama.kld" > "$tmp/base-l.log" 2>&1 \
    || { tail -20 "$tmp/base-l.log" >&2; exit 1; }
"$bin/gguf-ppl" -m "$model" "${common[@]}" --kl-divergence-base "$tmp/base-ours.kld" -q > "$tmp/base-o.log" 2>&1 \
    || { tail -20 "$tmp/base-o.log" >&2; exit 1; }
ppl() { grep -o 'Final estimate: PPL = [0-9.]*' "$1" | awk '{ print $NF }' | tail -1; }
stat() { grep -E "^$2[[:space:]]*:" "$1" | head -1 | awk -F: '{ print $2 }' | awk '{ print $1 }'; }
echo "$(basename "$model"), $(basename "$text"), $chunks chunks of $ctx, -fa off, $threads threads${imatrix:+, imatrix $(basename "$imatrix")}"
echo "F32: llama-perplexity $(ppl "$tmp/base-l.log"), gguf-ppl $(ppl "$tmp/base-o.log")"
echo
echo "| type | llama PPL(Q) | ours PPL(Q) | Δ PPL | llama mean KLD | ours mean KLD | Δ KLD |$([ $check = 1 ] && echo ' bytes |')"
echo "|---|---|---|---|---|---|---|$([ $check = 1 ] && echo '---|')"
IFS=, read -ra list <<< "$types"
worst=0
for t in "${list[@]}"; do
    q=$tmp/$t.gguf
    if [ -n "$llama_q" ]; then
        "$llama_q" "${imat[@]}" "$model" "$q" "$t" "$threads" > "$tmp/q.log" 2>&1 || { echo "| $t | llama-quantize failed: $(tail -1 "$tmp/q.log") |"; continue; }
    else
        "$bin/gguf-quantize" "${imat[@]}" "$model" "$q" "$t" "$threads" -q --force > "$tmp/q.log" 2>&1 || { echo "| $t | gguf-quantize failed: $(tail -1 "$tmp/q.log") |"; continue; }
    fi
    bytes=""
    if [ $check = 1 ]; then
        "$bin/gguf-quantize" "${imat[@]}" "$model" "$tmp/ours-$t.gguf" "$t" "$threads" -q --force > "$tmp/q2.log" 2>&1 \
            && { cmp -s "$q" "$tmp/ours-$t.gguf" && bytes=" identical |" || bytes=" DIFFER |"; } || bytes=" ours failed |"
        rm -f "$tmp/ours-$t.gguf"
    fi
    "$llama_ppl" -m "$q" "${common[@]}" --kl-divergence-base "$tmp/base-llama.kld" --kl-divergence > "$tmp/l.log" 2>&1 || true
    "$bin/gguf-ppl" -m "$q" "${common[@]}" --kl-divergence-base "$tmp/base-ours.kld" --kl-divergence > "$tmp/o.log" 2>&1 || true
    lp=$(stat "$tmp/l.log" "Mean PPL\(Q\)") op=$(stat "$tmp/o.log" "Mean PPL\(Q\)")
    lk=$(stat "$tmp/l.log" "Mean    KLD") ok=$(stat "$tmp/o.log" "Mean    KLD")
    if [ -z "$lp" ] || [ -z "$op" ] || [ -z "$lk" ] || [ -z "$ok" ]; then
        echo "| $t | run failed: llama \"$(tail -1 "$tmp/l.log")\", ours \"$(tail -1 "$tmp/o.log")\" |"
        worst=1; rm -f "$q"; continue
    fi
    dp=$(awk -v a="$lp" -v b="$op" 'BEGIN { printf "%+.4f %%", (b - a) / a * 100 }')
    dk=$(awk -v a="$lk" -v b="$ok" 'BEGIN { printf "%+.4f %%", (a == 0) ? 0 : (b - a) / a * 100 }')
    echo "| $t | $lp | $op | $dp | $lk | $ok | $dk |$bytes"
    rm -f "$q"
done
exit $worst
