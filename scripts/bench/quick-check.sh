#!/usr/bin/env bash
# The benchmark's quick mode (scripts/bench.sh --quick). It builds release binaries in
# .build-bench and checks only the ratio targets of the performance budget, each measured against
# its floor in the same run: a sampling round against curl of the Docker calls it made (one
# /containers/json?all=1 and one inspect), at 1,000 and 10,000 containers of the fake engine and
# on a private dockerd with 24 busybox containers (root only); and /metrics under load against the
# same body served statically by the same HTTP server (text, OpenMetrics, gzip or not). It fails
# when a ratio misses its target by more than 25%. No absolute timings are asserted. About 100 s
# once built (a release build from scratch adds about 100 s). Results: .build-bench/results/quick/.
# `--enforce-round dockerd` would judge the round against the real daemon only (see BENCHMARKS.md).
# Not in scripts/checks/ (so not in CI) while the sampling-round ratio target is missed: see
# BENCHMARKS.md and issue 7. Move it back there once it passes.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$SCRIPT_DIR/../bench.sh" --quick
