#!/bin/sh
# Times the block quantizers (fast and scalar reference, ns per element, one and two threads) on
# 128 rows x 1536 columns of the golden "random" data, in a release build:
#   tools/bench-quants.sh            (native build)
#   SWIFT_GGUF_PORTABLE=1 tools/bench-quants.sh
# For comparison, ggml's reference C on the same layout ran at (b4748, this machine, one core):
# q8_0 5.4, q4_0 2.1, q4_1 2.2, q5_0 3.8, q5_1 4.1, q4_K 116, q5_K 96, q6_K 44 ns/element without an
# importance matrix; q4_0 42, q4_1 202, q5_0 42, q5_1 200, q4_K 203, q5_K 208, q6_K 45 with one.
set -e
cd "$(dirname "$0")/.."
SWIFT_GGUF_BENCH=1 exec swift test -c release --scratch-path .build-quants --filter QuantBenchmarks
