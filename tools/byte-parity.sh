#!/usr/bin/env bash
# Byte parity of gguf-quantize with llama-quantize: every file type, on each model given, without and
# (when an imatrix is given for that model) with an importance matrix. Both tools quantize the same
# input; a row says `identical` (cmp), `DIFFER`, or, when llama-quantize refuses, whether ours refuses
# too (its last line is quoted). Quantization only, no perplexity (tools/parity-table.sh does that).
#
#   tools/byte-parity.sh [--types T1,T2,...] [--threads N] MODEL.gguf[:IMATRIX] ...
#
# MODEL: an F32/F16/BF16 GGUF; IMATRIX: a GGUF or .dat importance matrix for it (the types that need
# one, IQ2_XXS/IQ2_XS/IQ1_S and the mixes built on them, are refused without it by both tools).
# llama.cpp: $LLAMA_QUANTIZE (any build: quantized bytes do not depend on it). Exit status 1 when a
# row differs or only one tool refuses.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
threads=2
types=Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q2_K_S,Q3_K_S,Q3_K_M,Q3_K_L,Q4_K_S,Q4_K_M,Q5_K_S,Q5_K_M,Q6_K,IQ4_NL,IQ4_XS,IQ3_XXS,IQ3_XS,IQ3_S,IQ3_M,IQ2_XXS,IQ2_XS,IQ2_S,IQ2_M,IQ1_S,IQ1_M,TQ1_0,TQ2_0,Q1_0,Q2_0,MXFP4_MOE,F16,BF16
inputs=()
while [ $# -gt 0 ]; do
    case $1 in
        --types) types=$2; shift 2 ;;
        --threads|-t) threads=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "byte-parity: unknown option $1" >&2; exit 64 ;;
        *) inputs+=("$1"); shift ;;
    esac
done
[ ${#inputs[@]} -gt 0 ] || { echo "byte-parity: no model given (see --help)" >&2; exit 64; }
llama_q=${LLAMA_QUANTIZE:-$(command -v llama-quantize || true)}
[ -n "$llama_q" ] || { echo "byte-parity: needs llama-quantize (LLAMA_QUANTIZE)" >&2; exit 1; }
(cd "$here" && swift build -c release --product gguf-quantize >/dev/null)
ours="$here/.build/release/gguf-quantize"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

IFS=, read -ra list <<< "$types"
bad=0 same=0 refused=0
echo "| model | imatrix | type | result |"
echo "|---|---|---|---|"
for input in "${inputs[@]}"; do
    model=${input%%:*} imatrix=""
    [ "$model" = "$input" ] || imatrix=${input#*:}
    [ -f "$model" ] || { echo "byte-parity: no model $model" >&2; exit 1; }
    [ -z "$imatrix" ] || [ -f "$imatrix" ] || { echo "byte-parity: no imatrix $imatrix" >&2; exit 1; }
    runs=("")
    [ -z "$imatrix" ] || runs+=("$imatrix")
    for im in "${runs[@]}"; do
        imat=()
        [ -z "$im" ] || imat=(--imatrix "$im")
        for t in "${list[@]}"; do
            l=$tmp/l.gguf o=$tmp/o.gguf
            rm -f "$l" "$o"
            lrc=0 orc=0
            "$llama_q" "${imat[@]}" "$model" "$l" "$t" "$threads" > "$tmp/l.log" 2>&1 || lrc=$?
            "$ours" "${imat[@]}" "$model" "$o" "$t" "$threads" -q --force > "$tmp/o.log" 2>&1 || orc=$?
            if [ $lrc -eq 0 ] && [ $orc -eq 0 ]; then
                if cmp -s "$l" "$o"; then r=identical; same=$((same + 1)); else r=DIFFER; bad=1; fi
            elif [ $lrc -ne 0 ] && [ $orc -ne 0 ]; then
                r="both refuse; ours: $(grep -m1 -i 'error' "$tmp/o.log" || tail -1 "$tmp/o.log")"
                [ ! -e "$o" ] || { r="$r (but ours left a file)"; bad=1; }
                refused=$((refused + 1))
            elif [ $lrc -ne 0 ]; then
                r="only llama-quantize refuses: $(grep -m1 -iE 'error|failed' "$tmp/l.log" || tail -1 "$tmp/l.log")"; bad=1
            else
                r="only ours refuses: $(tail -1 "$tmp/o.log")"; bad=1
            fi
            label=none
            [ -z "$im" ] || label=$(basename "$im")
            echo "| $(basename "$model") | $label | $t | ${r//|/\\|} |"
        done
    done
done
echo
echo "$same identical, $refused refused by both$([ $bad = 0 ] && echo ', no differences' || echo ', DIFFERENCES above')"
exit $bad
