#!/usr/bin/env bash
# Builds the SwiftGGUF documentation (DocC catalog Sources/SwiftGGUF/SwiftGGUF.docc plus the symbol
# graph of the SwiftGGUF module) with the toolchain's own `docc` and `swift-symbolgraph-extract`:
# no swift-docc-plugin dependency.
#
#   tools/docs.sh [OUTPUT_DIR]      (default .build/docs/SwiftGGUF.doccarchive)
#
# Fails on any DocC warning (an unresolved ``Symbol`` link, a broken <doc:...> reference).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/opt/swift/usr/bin:$PATH"
OUT=${1:-$ROOT/.build/docs/SwiftGGUF.doccarchive}
cd "$ROOT"
swift build -c release --target SwiftGGUF 2>&1 | tail -n 1
BIN=$(swift build -c release --show-bin-path)
GRAPHS=$(mktemp -d)
trap 'rm -rf "$GRAPHS"' EXIT
TRIPLE=$(swiftc -print-target-info | sed -n 's/.*"triple": "\(.*\)".*/\1/p' | head -n 1)
swift-symbolgraph-extract -module-name SwiftGGUF -I "$BIN/Modules" -target "$TRIPLE" \
    -minimum-access-level public -output-dir "$GRAPHS"
mkdir -p "$(dirname "$OUT")"
docc convert Sources/SwiftGGUF/SwiftGGUF.docc --additional-symbol-graph-dir "$GRAPHS" \
    --fallback-display-name SwiftGGUF --fallback-bundle-identifier org.swift-gguf.SwiftGGUF \
    --warnings-as-errors --output-path "$OUT"
echo "docs: $OUT" >&2
