#!/bin/sh
# F32 matrix-product throughput (MatMul.linear, one thread, SmolLM2's shapes with 2048 activation rows)
# next to the core's measured FMA peak (12 independent SIMD16 FMA chains), in a release build:
#   tools/bench-matmul.sh
set -e
cd "$(dirname "$0")/.."
SWIFT_GGUF_BENCH=1 exec swift test -c release --filter MatMulBenchmark
