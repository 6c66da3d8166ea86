#!/usr/bin/env bash
# Speed and peak memory of gguf-quantize against llama-quantize on the same F32 GGUF, same threads,
# in one run: per type, the median wall time of RUNS alternating runs (ours first on odd runs,
# llama.cpp first on even ones), the median user+system CPU time, the peak RSS, the ratio
# llama/ours of the wall medians, and whether the two outputs are byte-identical.
#
#   tools/bench-quantize.sh [-m MODEL.gguf] [--types T1,T2,...] [--imatrix FILE] [--threads N] [--runs N]
#
# MODEL defaults to SmolLM2-135M F32 (converted from the model cache with hf2gguf), TYPES to Q4_K_M,
# THREADS to 2, RUNS to 3. Both tools get the same --imatrix file (the IQ1/IQ2 types need one; make it
# with gguf-imatrix, whose GGUF format llama-quantize reads). llama-quantize: $LLAMA_QUANTIZE, else
# the one on PATH; without it only our figures print. Figures come from /usr/bin/time -v.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
model="" types=Q4_K_M threads=2 runs=3 imatrix=""
while [ $# -gt 0 ]; do
    case $1 in
        -m|--model) model=$2; shift 2 ;;
        --types) types=$2; shift 2 ;;
        --imatrix) imatrix=$2; shift 2 ;;
        --threads|-t) threads=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "bench-quantize: unknown argument $1" >&2; exit 64 ;;
    esac
done
[ -z "$imatrix" ] || [ -f "$imatrix" ] || { echo "bench-quantize: no imatrix $imatrix" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$here" && swift build -c release --product hf2gguf >/dev/null && swift build -c release --product gguf-quantize >/dev/null)
bin="$here/.build/release"
if [ -z "$model" ]; then
    model="$tmp/smollm2-f32.gguf"
    "$bin/hf2gguf" "$models/SmolLM2-135M-Instruct-hf" --outtype f32 --outfile "$model" -q
fi
[ -f "$model" ] || { echo "bench-quantize: no model $model" >&2; exit 1; }
llama=${LLAMA_QUANTIZE:-$(command -v llama-quantize || true)}
imat=()
[ -z "$imatrix" ] || imat=(--imatrix "$imatrix")

# run TOOL TYPE -> "wall cpu rss" on stdout (seconds, seconds, kB)
run() {
    local out=$tmp/$1.gguf
    rm -f "$out"
    if [ "$1" = ours ]; then
        /usr/bin/time -v "$bin/gguf-quantize" "${imat[@]}" "$model" "$out" "$2" "$threads" -q --force >"$tmp/run.log" 2>"$tmp/time.log" \
            || { cat "$tmp/run.log" "$tmp/time.log" >&2; return 1; }
    else
        /usr/bin/time -v "$llama" "${imat[@]}" "$model" "$out" "$2" "$threads" >"$tmp/run.log" 2>"$tmp/time.log" \
            || { cat "$tmp/run.log" "$tmp/time.log" >&2; return 1; }
    fi
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = (n == 3) ? p[1] * 3600 + p[2] * 60 + p[3] : p[1] * 60 + p[2] }
                /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { r = $2 }
                END { printf "%.3f %.3f %d\n", w, u + s, r }' "$tmp/time.log"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "model $(basename "$model"), $threads threads, ${imatrix:+imatrix $(basename "$imatrix"), }median of $runs alternating runs (whole process)"
echo
echo "| type | gguf-quantize wall (s) | CPU (s) | RSS (MB) | llama-quantize wall (s) | CPU (s) | RSS (MB) | speed-up (wall) | bytes |"
echo "|---|---|---|---|---|---|---|---|---|"
IFS=, read -ra list <<< "$types"
for t in "${list[@]}"; do
    ow=() oc=() orss=0 lw=() lc=() lrss=0
    for i in $(seq "$runs"); do
        order="ours llama"
        [ $((i % 2)) -eq 0 ] && order="llama ours"
        for tool in $order; do
            [ "$tool" = llama ] && [ -z "$llama" ] && continue
            read -r w c r < <(run "$tool" "$t") || true
            [ -n "${r:-}" ] || { echo "bench-quantize: $tool failed on $t" >&2; exit 1; }
            if [ "$tool" = ours ]; then ow+=("$w"); oc+=("$c"); [ "$r" -gt "$orss" ] && orss=$r
            else lw+=("$w"); lc+=("$c"); [ "$r" -gt "$lrss" ] && lrss=$r; fi
        done
    done
    omw=$(median "${ow[@]}") omc=$(median "${oc[@]}")
    if [ -n "$llama" ]; then
        lmw=$(median "${lw[@]}") lmc=$(median "${lc[@]}")
        same=DIFFER
        cmp -s "$tmp/ours.gguf" "$tmp/llama.gguf" && same=identical
        printf '| %s | %.2f | %.2f | %.0f | %.2f | %.2f | %.0f | %.2f× | %s |\n' "$t" "$omw" "$omc" "$(echo "$orss/1024" | bc -l)" \
            "$lmw" "$lmc" "$(echo "$lrss/1024" | bc -l)" "$(echo "$lmw/$omw" | bc -l)" "$same"
    else
        printf '| %s | %.2f | %.2f | %.0f | – | – | – | – | – |\n' "$t" "$omw" "$omc" "$(echo "$orss/1024" | bc -l)"
    fi
done
