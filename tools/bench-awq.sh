#!/usr/bin/env bash
# Time of AWQ calibration (gguf-quantize --awq with the default settings) on SmolLM2-135M-Instruct F32.
#
#   tools/bench-awq.sh [-m MODEL] [TYPE] [extra gguf-quantize flags...]
#
# TYPE defaults to Q4_K_M. MODEL (default SmolLM2-135M-Instruct from the model cache, tools/prepare-models.sh)
# is a Hugging Face folder, converted to F32 with our hf2gguf, or a GGUF: an F32/F16/BF16 file is used as it
# is, a quantized one is first expanded to F32 (gguf-quantize --allow-requantize ... F32; for timing only); the calibration text is ../shared/data/wikitext-2-raw/wiki.calib.raw (override with AWQ_CALIB).
# Prints the calibration line, the per-layer progress, and wall time / peak RSS from /usr/bin/time -v for the
# plain quantization and the AWQ run, and, for comparison, of one importance-matrix pass
# (gguf-imatrix --chunks 26, about the tokens AWQ calibrates on by default) over the same text,
# with the user CPU time of each and the AWQ/imatrix ratios. With AWQ_EVAL=1 it also prints PPL and mean KLD against F32 on
# wiki.eval.raw (-c 512, 20 chunks) for both outputs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
model=$models/SmolLM2-135M-Instruct-hf
data=${SWIFT_GGUF_SHARED:-$here/../shared}/data/wikitext-2-raw
calib=${AWQ_CALIB:-$data/wiki.calib.raw}
if [ "${1:-}" = -m ]; then model=$2; shift 2; fi
type=${1:-Q4_K_M}
shift || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -e "$model" ] || { echo "no $model (run tools/prepare-models.sh)" >&2; exit 1; }
[ -f "$calib" ] || { echo "no calibration text $calib" >&2; exit 1; }
(cd "$here" && swift build -c release >/dev/null)
bin="$here/.build/release"
if [ -d "$model" ]; then
    "$bin/hf2gguf" "$model" --outtype f32 --outfile "$tmp/f32.gguf" -q
elif "$bin/gguf-dump" "$model" 2>/dev/null | grep -qE 'general\.file_type.*(= *(0|1|32)\b|ALL_F32|MOSTLY_F16|MOSTLY_BF16)'; then
    ln -s "$(cd "$(dirname "$model")" && pwd)/$(basename "$model")" "$tmp/f32.gguf"
else
    "$bin/gguf-quantize" --allow-requantize "$model" "$tmp/f32.gguf" F32 2 >/dev/null 2>&1
fi

measure() {  # label, command...
    local label=$1; shift
    /usr/bin/time -v "$@" >"$tmp/out.log" 2>"$tmp/time.log" || { cat "$tmp/out.log" "$tmp/time.log" >&2; return 1; }
    grep -E '^awq' "$tmp/time.log" | sed 's/^/  /' || true
    local wall rss user
    wall=$(grep 'Elapsed (wall clock)' "$tmp/time.log" | awk '{print $NF}')
    rss=$(grep 'Maximum resident set size' "$tmp/time.log" | awk '{print $NF}')
    user=$(grep 'User time (seconds)' "$tmp/time.log" | awk '{print $NF}')
    printf '%-34s wall %8s   peak RSS %8.1f MB   user CPU %8s s\n' "$label" "$wall" "$(echo "$rss/1024" | bc -l)" "$user"
    last_wall=$(echo "$wall" | awk -F: '{s=0; for (i=1;i<=NF;i++) s=s*60+$i; print s}')
    last_user=$user
}

echo "model: $(basename "$model") F32, type $type, calibration $calib, $(nproc) cores"
measure "gguf-quantize $type" "$bin/gguf-quantize" "$tmp/f32.gguf" "$tmp/plain.gguf" "$type" "$@"
measure "gguf-quantize $type --awq (defaults)" "$bin/gguf-quantize" "$tmp/f32.gguf" "$tmp/awq.gguf" "$type" --awq "$calib" "$@"
awq_wall=$last_wall awq_user=$last_user
measure "gguf-imatrix --chunks 26 (same text)" "$bin/gguf-imatrix" -m "$tmp/f32.gguf" -f "$calib" --chunks 26 \
    -o "$tmp/imatrix.gguf" --force -q
printf 'AWQ / imatrix: wall %.2fx   user CPU %.2fx\n' "$(echo "$awq_wall/$last_wall" | bc -l)" "$(echo "$awq_user/$last_user" | bc -l)"

if [ "${AWQ_EVAL:-0}" = 1 ]; then
    "$bin/gguf-ppl" -m "$tmp/f32.gguf" -f "$data/wiki.eval.raw" -c 512 --chunks 20 --kl-divergence-base "$tmp/base.bin" -q \
        2>&1 | grep 'Final estimate' | sed 's/^/F32      /'
    for m in plain awq; do
        "$bin/gguf-ppl" -m "$tmp/$m.gguf" --kl-divergence --kl-divergence-base "$tmp/base.bin" --chunks 20 -q 2>&1 \
            | grep -E '^Mean (PPL\(Q\) |   KLD)' | sed "s/^/$m    /"
    done
fi
