#!/usr/bin/env bash
# Conversion parity with llama.cpp's convert_hf_to_gguf.py, in one sweep: every Hugging Face folder given,
# every outtype, both converters on the same input, `cmp` of the two files (and, where they differ, the first
# differing byte offset and both sizes). Prints a Markdown table and a summary line.
#
#   CONVERT_HF_TO_GGUF=.../convert_hf_to_gguf.py LLAMA_PYTHON=.../python \
#     tools/convert-parity.sh [--outtypes f32,f16,bf16,q8_0,auto] MODEL_DIR...
#
# MODEL_DIR: Hugging Face folders (config.json, safetensors, tokenizer files). The python needs torch,
# transformers, sentencepiece and numpy (llama.cpp's requirements-convert_hf_to_gguf.txt); the gguf package
# is taken from the gguf-py folder beside the script when there is one. SWIFT_GGUF_BIN: a folder with a
# release hf2gguf to use instead of building it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
outtypes=f32,f16,bf16,q8_0,auto
dirs=()
while [ $# -gt 0 ]; do
    case $1 in
        --outtypes) outtypes=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "convert-parity: unknown option $1" >&2; exit 64 ;;
        *) dirs+=("$1"); shift ;;
    esac
done
[ ${#dirs[@]} -gt 0 ] || { echo "convert-parity: no model folder given" >&2; exit 64; }
convert=${CONVERT_HF_TO_GGUF:-}
[ -n "$convert" ] && [ -f "$convert" ] || { echo "convert-parity: set CONVERT_HF_TO_GGUF to convert_hf_to_gguf.py" >&2; exit 1; }
py=${LLAMA_PYTHON:-python3}
gguf_py=$(dirname "$convert")/gguf-py
if [ -d "$gguf_py" ]; then export PYTHONPATH="$gguf_py${PYTHONPATH:+:$PYTHONPATH}"; fi
if [ -n "${SWIFT_GGUF_BIN:-}" ]; then
    bin=$SWIFT_GGUF_BIN
else
    (cd "$here" && swift build -c release --product hf2gguf >/dev/null)
    bin=$here/.build/release
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "| model | outtype | hf2gguf s | convert_hf_to_gguf.py s | result |"
echo "|---|---|---|---|---|"
same=0 differ=0 refused=0 onesided=0
IFS=, read -r -a types <<< "$outtypes"
for dir in "${dirs[@]}"; do
    name=$(basename "$dir")
    for t in "${types[@]}"; do
        ours=$tmp/ours.gguf ref=$tmp/ref.gguf
        rm -f "$ours" "$ref"
        s0=$(date +%s.%N)
        if "$bin/hf2gguf" "$dir" --outtype "$t" --outfile "$ours" -q >"$tmp/ours.log" 2>&1; then oo=1; else oo=0; fi
        s1=$(date +%s.%N)
        if "$py" "$convert" "$dir" --outtype "$t" --outfile "$ref" >"$tmp/ref.log" 2>&1; then ro=1; else ro=0; fi
        s2=$(date +%s.%N)
        ot=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')
        rt=$(awk -v a="$s1" -v b="$s2" 'BEGIN { printf "%.2f", b - a }')
        if [ $oo = 1 ] && [ $ro = 1 ]; then
            if cmp -s "$ours" "$ref"; then
                result="identical ($(stat -c %s "$ours") bytes)"; same=$((same + 1))
            else
                at=$(cmp "$ours" "$ref" 2>/dev/null | awk '{print $5}' | tr -d ,) || true
                result="DIFFER at byte ${at:-?} (ours $(stat -c %s "$ours"), theirs $(stat -c %s "$ref") bytes)"
                differ=$((differ + 1))
            fi
        elif [ $oo = 0 ] && [ $ro = 0 ]; then
            result="both refuse"; refused=$((refused + 1))
        elif [ $oo = 0 ]; then
            result="ONLY OURS REFUSES: $(tail -1 "$tmp/ours.log")"; onesided=$((onesided + 1))
        else
            result="ONLY THEIRS REFUSES: $(tail -1 "$tmp/ref.log")"; onesided=$((onesided + 1))
        fi
        echo "| $name | $t | $ot | $rt | $result |"
    done
done
echo
echo "rows: $((same + differ + refused + onesided)); identical $same, differ $differ, both refuse $refused, one side refuses $onesided"
[ $differ = 0 ] && [ $onesided = 0 ]
