#!/usr/bin/env bash
# Issue 7's quick benchmark (scripts/bench.sh --quick, about 2 minutes once built): the ratio
# targets of the performance budget, each against its floor in the same run. It fails when a
# ratio it enforces misses its target by more than 25%:
#   - /metrics under load vs. the same body served statically by the same server (2x), at 1,000
#     and 10,000 synthetic containers, text and OpenMetrics, gzip or not;
#   - a sampling round vs. the raw Docker calls it made (1.5x), against the synthetic engine at
#     1,000 and 10,000 containers and on a private dockerd. (The round on a host changing twice a
#     second is measured by the full run only: it is within about 1.2-1.8x of its floor here,
#     too close to the 1.875x this check fails at for a 2-core CI machine's noise.)
#
# The release build uses the same flags and scratch path as scripts/checks/image.sh
# (--static-swift-stdlib, .build-image), so CI compiles the release binaries once.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BENCH_SCRATCH="${BENCH_SCRATCH:-${WATCHDOG_IMAGE_SCRATCH:-$REPO_ROOT/.build-image}}"
exec "$REPO_ROOT/scripts/bench.sh" --quick --enforce-round both
