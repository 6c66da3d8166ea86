#!/usr/bin/env bash
# Speed of gguf-ppl against llama-perplexity: SmolLM2-135M F32, Q8_0 and Q4_K_M over wiki.test.raw,
# -c 512 --chunks N (default 20), same threads (default 2). Prints both tools' final estimates and
# tokens/s side by side; llama-perplexity runs when it is on PATH (or LLAMA_PERPLEXITY points at it).
#
#   tools/bench-ppl.sh [CHUNKS] [THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
shared=${SWIFT_GGUF_SHARED:-$here/../shared}
text=$shared/data/wikitext-2-raw/wiki.test.raw
chunks=${1:-20}
threads=${2:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$here" && for p in hf2gguf gguf-quantize gguf-ppl; do swift build -c release --product $p >/dev/null; done)
bin="$here/.build/release"
"$bin/hf2gguf" "$models/SmolLM2-135M-Instruct-hf" --outtype f32 --outfile "$tmp/f32.gguf" -q
"$bin/hf2gguf" "$models/SmolLM2-135M-Instruct-hf" --outtype q8_0 --outfile "$tmp/q8_0.gguf" -q
"$bin/gguf-quantize" "$tmp/f32.gguf" "$tmp/Q4_K_M.gguf" Q4_K_M "$threads" -q >/dev/null
llama=${LLAMA_PERPLEXITY:-$(command -v llama-perplexity || true)}

printf '%-8s %-18s %12s %10s %10s\n' type tool "final PPL" "wall s" "tokens/s"
for t in f32 q8_0 Q4_K_M; do
    start=$(date +%s.%N)
    "$bin/gguf-ppl" -m "$tmp/$t.gguf" -f "$text" -c 512 --chunks "$chunks" -t "$threads" -q >"$tmp/ours.out" 2>"$tmp/ours.err"
    end=$(date +%s.%N)
    ppl=$(grep -o 'Final estimate: PPL = [0-9.]*' "$tmp/ours.err" | awk '{print $NF}')
    wall=$(echo "$end - $start" | bc -l)
    printf '%-8s %-18s %12s %10.2f %10.1f\n' "$t" gguf-ppl "$ppl" "$wall" "$(echo "$chunks * 512 / $wall" | bc -l)"
    if [ -n "$llama" ]; then
        start=$(date +%s.%N)
        "$llama" -m "$tmp/$t.gguf" -f "$text" -c 512 --chunks "$chunks" -t "$threads" >"$tmp/ref.log" 2>&1
        end=$(date +%s.%N)
        ppl=$(grep -o 'Final estimate: PPL = [0-9.]*' "$tmp/ref.log" | awk '{print $NF}')
        wall=$(echo "$end - $start" | bc -l)
        printf '%-8s %-18s %12s %10.2f %10.1f\n' "$t" llama-perplexity "$ppl" "$wall" "$(echo "$chunks * 512 / $wall" | bc -l)"
    fi
done
[ -n "$llama" ] || echo "llama-perplexity: not on PATH; reference (b4748, this machine kind, 20 chunks, 2 threads): F32 28.6251 at 156 tokens/s, Q8_0 28.7210 at 84.5, Q4_K_M 30.3597 at 71.8"
