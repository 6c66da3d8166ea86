#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of tools/fuzz/targets.
#
#   tools/fuzz/run.sh TARGET|all SECONDS [libFuzzer flags...]
#   tools/fuzz/run.sh list                     # the targets
#   tools/fuzz/run.sh build [TARGET|all]       # build only
#
# Each target is built with `swiftc -sanitize=fuzzer,address` from the module sources it needs
# (GGUF, HFModel, and Architectures + IntDot + Quants + Convert for hf-config; the kld-base and imatrix-dat targets compile
# their reader's few source files straight into the executable), into .build-fuzz/fuzz/ (FUZZ_BUILD
# overrides). A run first replays the seeds and the matching Fixtures/malformed/ files, then
# fuzzes for SECONDS with a working corpus kept in .build-fuzz/fuzz/corpus/TARGET. Findings are
# written to .build-fuzz/fuzz/artifacts/TARGET/. The script exits non-zero when any target
# crashes, leaks, times out (10 s per input), runs out of memory (2 GiB) or prints a sanitizer
# report. `all SECONDS` runs every target for SECONDS each, one after the other.
#
# Environment: FUZZ_BUILD (build folder), FUZZ_NICE=0 to run without `nice -n 19`.
# JSON targets use the token dictionary tools/fuzz/json.dict.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${FUZZ_BUILD:-$ROOT/.build-fuzz/fuzz}
T=$ROOT/tools/fuzz/targets
M=$ROOT/Fixtures/malformed
SHARED=${SWIFT_GGUF_SHARED:-$ROOT/../shared}
MODELS=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
FLAGS=(-O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 -enable-testing)

ALL_TARGETS=(gguf safetensors safetensors-index json tokenizer-json hf-config sentencepiece kld-base imatrix-dat)
# The GGUF tokenizer target needs Sources/Inference/Vocab (see targets/gguf-tokenizer.swift).
if [ -d "$ROOT/Sources/Inference/Vocab" ]; then ALL_TARGETS+=(gguf-tokenizer); fi

NICE=(nice -n 19)
[ "${FUZZ_NICE:-1}" = 0 ] && NICE=()

log() { printf '[fuzz] %s\n' "$*" >&2; }

# build_module NAME DEPENDENCY_OBJECTS... -- SOURCES...
build_module() {
    local name=$1; shift
    local deps=() srcs=()
    while [ "$1" != "--" ]; do deps+=("$1"); shift; done
    shift
    srcs=("$@")
    local obj=$B/$name.o
    if [ -f "$obj" ] && [ -z "$(find "${srcs[@]}" "${deps[@]}" -newer "$obj" 2>/dev/null | head -1)" ]; then
        return 0
    fi
    log "compiling module $name (${#srcs[@]} files)"
    swiftc "${FLAGS[@]}" -module-name "$name" -I "$B" -wmo -c "${srcs[@]}" \
        -emit-module -emit-module-path "$B/$name.swiftmodule" -o "$obj"
}

sources() { find "$ROOT/Sources/$1" -name '*.swift' | sort; }

build_gguf() { build_module GGUF -- $(sources GGUF); }
build_hfmodel() { build_gguf; build_module HFModel "$B/GGUF.o" -- $(sources HFModel); }
build_convert() {
    build_hfmodel
    build_module Architectures "$B/GGUF.o" -- $(sources Architectures)
    # IntDot without GGUF_VNNI: its plain-Swift lane loop (no -parse-stdlib under the sanitizers).
    build_module IntDot -- $(sources IntDot)
    build_module Quants "$B/GGUF.o" "$B/Architectures.o" "$B/IntDot.o" -- $(sources Quants)
    build_module Convert "$B/GGUF.o" "$B/Architectures.o" "$B/HFModel.o" "$B/IntDot.o" "$B/Quants.o" -- $(sources Convert)
}
# Only the vocabulary folder of Inference: it needs GGUF alone, and the rest of the module
# (the forward pass) is not read by this target.
build_inference() {
    build_gguf
    build_module Inference "$B/GGUF.o" -- $(find "$ROOT/Sources/Inference/Vocab" -name '*.swift' | sort)
}

# Objects and extra flags each target links with.
target_objects() {
    case $1 in
        gguf) build_gguf; echo "$B/GGUF.o" ;;
        hf-config) build_convert; echo "$B/GGUF.o $B/Architectures.o $B/HFModel.o $B/IntDot.o $B/Quants.o $B/Convert.o -DWITH_CONVERT" ;;
        gguf-tokenizer) build_inference; echo "$B/GGUF.o $B/Inference.o -DHAVE_GGUF_TOKENIZER" ;;
        # The base-file reader needs Foundation alone: its three files go into the executable,
        # not the whole Evaluation module (which needs Inference and Quants).
        kld-base) echo "$ROOT/Sources/Evaluation/KLDivergenceBaseFile.swift $ROOT/Sources/Evaluation/TokenScoring.swift $ROOT/Sources/Evaluation/TokenScoring+Expf.swift" ;;
        # Likewise the imatrix reader: two files of Quants over the GGUF module.
        imatrix-dat) build_gguf; echo "$B/GGUF.o $ROOT/Sources/Quants/Plan/ImportanceMatrix.swift $ROOT/Sources/Quants/Plan/QuantizeError.swift" ;;
        *) build_hfmodel; echo "$B/GGUF.o $B/HFModel.o" ;;
    esac
}

build_target() {
    local t=$1 exe=$B/fuzz-$1
    [ -f "$T/$t.swift" ] || { log "unknown target '$t' (targets: ${ALL_TARGETS[*]})"; exit 64; }
    mkdir -p "$B"
    local objs
    objs=$(target_objects "$t")
    local newest
    newest=$(find "$T/$t.swift" "$T/common.swift" $(echo "$objs" | tr ' ' '\n' | grep -E '\.(o|swift)$') -newer "$exe" 2>/dev/null | head -1 || true)
    if [ -f "$exe" ] && [ -z "$newest" ]; then return 0; fi
    log "linking fuzz-$t"
    # shellcheck disable=SC2086
    swiftc "${FLAGS[@]}" -I "$B" "$T/common.swift" "$T/$t.swift" $objs -o "$exe" 2> "$B/link-$t.log" || {
        cat "$B/link-$t.log" >&2; exit 1; }
}

# Seed inputs per target, copied into $B/seeds/TARGET (rebuilt every run, cheap).
copy_seeds() {
    local t=$1 dir=$B/seeds/$1
    rm -rf "$dir"; mkdir -p "$dir"
    local n=0
    add() { for f in "$@"; do [ -f "$f" ] || continue; n=$((n + 1)); cp "$f" "$dir/$n-$(basename "$f")"; done; }
    case $t in
        gguf|gguf-tokenizer)
            # The reference vocabularies (1-2 MB) are cut to max_len for the parser target; the
            # tokenizer target uses the small generated vocabularies only, to stay fast.
            python3 "$ROOT/tools/fuzz/make-corpus.py" seeds gguf "$dir" >/dev/null 2>&1 || log "python3 missing: no generated GGUF seeds"
            [ "$t" = gguf ] && add "$SHARED"/reference/tokenizer/*.gguf ;;
        safetensors)
            add "$ROOT"/Fixtures/tiny-bpe-llama/model.safetensors
            python3 "$ROOT/tools/fuzz/make-corpus.py" seeds safetensors "$dir" >/dev/null 2>&1 || true ;;
        safetensors-index)
            add "$MODELS"/*/model.safetensors.index.json
            python3 "$ROOT/tools/fuzz/make-corpus.py" seeds index "$dir" >/dev/null 2>&1 || true ;;
        json|tokenizer-json)
            add "$ROOT"/Fixtures/hfmodel/tokenizer-*.json "$ROOT"/Fixtures/tiny-bpe-llama/tokenizer.json
            [ "$t" = json ] && add "$ROOT"/Fixtures/hfmodel/model-folder/*.json "$ROOT"/Fixtures/tiny-bpe-llama/config.json
            for f in "$MODELS"/tiny-*/tokenizer.json; do
                [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 200000 ] && add "$f"
            done ;;
        hf-config)
            add "$ROOT"/Fixtures/hfmodel/model-folder/*.json "$ROOT"/Fixtures/tiny-bpe-llama/config.json \
                "$ROOT"/Fixtures/tiny-bpe-llama/tokenizer_config.json "$MODELS"/*/config.json \
                "$MODELS"/*/tokenizer_config.json ;;
        sentencepiece)
            add "$SHARED"/reference/tokenizer/llama-spm-tokenizer.model "$MODELS"/*/tokenizer.model ;;
        kld-base)
            python3 "$ROOT/tools/fuzz/make-corpus.py" seeds kld "$dir" >/dev/null 2>&1 || log "python3 missing: no kld seeds" ;;
        imatrix-dat)
            # llama-imatrix's reference file (cut to max_len by libFuzzer) and small generated ones.
            add "$SHARED"/reference/imatrix/imatrix.dat
            python3 "$ROOT/tools/fuzz/make-corpus.py" seeds imatrix "$dir" >/dev/null 2>&1 || log "python3 missing: no imatrix seeds" ;;
    esac
    echo "$dir"
}

# Fixtures/malformed/ folders replayed by each target.
malformed_dirs() {
    local d=()
    case $1 in
        gguf|gguf-tokenizer) d=("$M/gguf") ;;
        safetensors) d=("$M/safetensors") ;;
        safetensors-index) d=("$M/index") ;;
        json) d=("$M/tokenizer-json" "$M/config-json" "$M/tokenizer-config") ;;
        tokenizer-json) d=("$M/tokenizer-json") ;;
        hf-config) d=("$M/config-json" "$M/tokenizer-config") ;;
        sentencepiece) d=("$M/spm") ;;
        kld-base) d=("$M/kld") ;;
        imatrix-dat) d=("$M/imatrix") ;;
    esac
    d+=("$M/found")   # minimized finds of every target: cheap to replay everywhere
    for x in "${d[@]}"; do [ -d "$x" ] && echo "$x"; done
    return 0
}

max_len() {
    case $1 in
        gguf) echo 262144 ;;
        gguf-tokenizer) echo 65536 ;;
        safetensors) echo 65536 ;;
        sentencepiece) echo 131072 ;;
        *) echo 65536 ;;
    esac
}

run_target() {
    local t=$1 secs=$2; shift 2
    build_target "$t"
    local exe=$B/fuzz-$t corpus=$B/corpus/$t art=$B/artifacts/$t scratch
    mkdir -p "$corpus" "$art"
    # Targets that write their input to a file (kld-base, imatrix-dat, safetensors-index) run
    # far faster on tmpfs than on a disk-backed /tmp (kld-base: ~30 000 inputs/s against 30-300).
    local tmp=${TMPDIR:-/tmp}
    [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
    scratch=$(mktemp -d "$tmp/swift-gguf-fuzz-$t.XXXXXX")
    local seeds
    seeds=$(copy_seeds "$t")
    local dirs
    mapfile -t dirs < <(malformed_dirs "$t")
    local common=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len="$(max_len "$t")"
                  -artifact_prefix="$art/" -print_final_stats=1)
    case $t in json|tokenizer-json|hf-config|safetensors|safetensors-index) common+=(-dict="$ROOT/tools/fuzz/json.dict") ;; esac
    local env=(env SWIFT_BACKTRACE=enable=no SWIFT_GGUF_ROOT="$ROOT" FUZZ_SCRATCH="$scratch"
               ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
               LSAN_OPTIONS=suppressions=$ROOT/tools/fuzz/lsan.supp:print_suppressions=0)
    local logf=$B/last-$t.log status=0
    log "$t: replaying $(ls "$seeds" | wc -l) seeds and the malformed corpus, then fuzzing for ${secs}s"
    local start=$SECONDS
    "${env[@]}" "${NICE[@]}" "$exe" "${common[@]}" -max_total_time="$secs" "$@" \
        "$corpus" "$seeds" "${dirs[@]}" > "$logf" 2>&1 || status=$?
    rm -rf "$scratch"
    local stats
    stats=$(grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$logf" | sed 's/stat:://' | tr '\n' ' ')
    local cov
    cov=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$logf" | tail -1 | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*/\1/')
    if [ $status -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY: ' "$logf"; then
        log "$t: FAILED (exit $status) after $((SECONDS - start))s; log: $logf"
        grep -E 'ERROR:|SUMMARY:|Fatal error|fuzz invariant|Test unit written|==ABORTING' "$logf" | head -20 >&2
        return 1
    fi
    log "$t: ok in $((SECONDS - start))s: $stats$cov; corpus $(ls "$corpus" | wc -l) files"
}

case ${1:-} in
    list) printf '%s\n' "${ALL_TARGETS[@]}"; exit 0 ;;
    build)
        targets=("${ALL_TARGETS[@]}")
        [ -n "${2:-}" ] && [ "$2" != all ] && targets=("$2")
        for t in "${targets[@]}"; do build_target "$t"; done
        exit 0 ;;
    ""|-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 64 ;;
esac

target=$1
secs=${2:?usage: tools/fuzz/run.sh TARGET|all SECONDS [libFuzzer flags...]}
shift 2
targets=("$target")
[ "$target" = all ] && targets=("${ALL_TARGETS[@]}")
failed=()
begin=$SECONDS
for t in "${targets[@]}"; do run_target "$t" "$secs" "$@" || failed+=("$t"); done
log "finished ${#targets[@]} target(s) in $((SECONDS - begin))s"
if [ ${#failed[@]} -gt 0 ]; then log "FAILED: ${failed[*]}"; exit 1; fi
