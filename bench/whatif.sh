#!/usr/bin/env bash
# Put a number on each suggested optimisation of the hot path (see bench/whatif.py): rows 1, 2 and 2p
# under each BENCH_WHATIF variant, one bench run per variant. ~2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_ROWS="${BENCH_ROWS:-1,2}" BENCH_DURATION="${BENCH_DURATION:-3}" BENCH_REPEAT="${BENCH_REPEAT:-3}"
for variant in "" nohealth; do
    echo "=== BENCH_WHATIF=${variant:-(none: the code as it is)}"
    BENCH_WHATIF="$variant" bash bench/run.sh 2>/dev/null | grep -E "^(1|2|2p) |^\\(2\\)"
done
