#!/usr/bin/env bash
# The single test command: builds everything, starts two private Docker daemons and runs all tests.
#
#   scripts/test.sh [ARGS for swift test…]      e.g.  scripts/test.sh --filter IntegrationTests
#
# Steps: scripts/setup.sh · swift build --build-tests (debug, reuses .build) · private dockerd
# `main` and `fault` (scripts/test-dockerd.sh; both stopped on any exit) · swift test "$@" ·
# every executable scripts/checks/*.sh. Exits non-zero if any step failed.
#
# Environment given to swift test and to the checks:
#   WATCHDOG_TEST_DOCKER_HOST      unix:///…/main/docker.sock   (daemon for integration tests)
#   WATCHDOG_TEST_DOCKER_PIDFILE   …/main/docker.pid
#   WATCHDOG_TEST_DOCKER_ROOT      …/main/root                  (its --data-root)
#   WATCHDOG_TEST_DOCKER_DIR, WATCHDOG_TEST_DOCKER_LOG
#   WATCHDOG_FAULT_DOCKER_HOST     unix:///…/fault/docker.sock  (daemon tests may stop/kill/hang)
#   WATCHDOG_FAULT_DOCKER_PIDFILE  …/fault/docker.pid
#   WATCHDOG_FAULT_DOCKER_ROOT, WATCHDOG_FAULT_DOCKER_DIR, WATCHDOG_FAULT_DOCKER_LOG
#   WATCHDOG_REQUIRE_DOCKER=1      integration tests must fail, not skip, without a daemon
#   WATCHDOG_BIN                   $REPO/.build/debug/docker-watchdog
#   WATCHDOG_TEST_DOCKER_CLI       /usr/bin/docker (20.10 client: DOCKER_BUILDKIT=1 … build --network none)
#   WATCHDOG_TEST_DOCKERD_SCRIPT   $REPO/scripts/test-dockerd.sh (to start more daemons, e.g. --loopfs)
#   WATCHDOG_REPO_ROOT             the repository root
#
# Knobs: WATCHDOG_SKIP_SETUP=1 skips setup.sh; WATCHDOG_SKIP_CHECKS=1 runs swift test only (no
#        scripts/checks/, for a quick subset while developing); SWIFT=/path/to/swift picks the swift binary;
#        WATCHDOG_TEST_NO_DOCKER=1 runs without daemons (and without WATCHDOG_REQUIRE_DOCKER);
#        WATCHDOG_TEST_ROOT moves the daemons' state (default /tmp/docker-watchdog-test).
# Daemon logs of the last run are copied to .build/test-dockerd-logs/.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_ROOT"

SWIFT="${SWIFT:-swift}"
TD="$SCRIPT_DIR/test-dockerd.sh"
LOGDIR="$REPO_ROOT/.build/test-dockerd-logs"
t_start=$(date +%s)

say() { printf 'test.sh: %s\n' "$*"; }
passed=()
failed=()

summary() {
    local secs=$(( $(date +%s) - t_start ))
    if (( ${#failed[@]} == 0 )); then
        say "SUMMARY: OK — passed: ${passed[*]:-nothing} (${secs}s)"
    else
        say "SUMMARY: FAILED — failed: ${failed[*]}; passed: ${passed[*]:-nothing} (${secs}s)"
    fi
}

started=()
stop_daemons() {
    local n pids=()
    for n in "${started[@]}"; do
        mkdir -p "$LOGDIR"
        cp "${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}/$n/dockerd.log" "$LOGDIR/$n.log" 2>/dev/null || true
        { "$TD" stop "$n" || say "could not stop the private daemon '$n' cleanly"; } &
        pids+=($!)
    done
    for n in "${pids[@]}"; do wait "$n" || true; done
    started=()
}
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_daemons
    exit "$rc"
}
trap on_exit EXIT
trap 'say "interrupted"; failed+=(interrupted); summary; exit 130' INT TERM

# ---- setup -------------------------------------------------------------------------------------
if [[ "${WATCHDOG_SKIP_SETUP:-0}" != 1 ]]; then
    if ! "$SCRIPT_DIR/setup.sh"; then
        failed+=(setup); summary; exit 1
    fi
fi
command -v "$SWIFT" >/dev/null || { say "swift not found (PATH=$PATH); see scripts/setup.sh"; failed+=(setup); summary; exit 1; }

# ---- build -------------------------------------------------------------------------------------
say "swift build --build-tests (debug)"
if ! "$SWIFT" build --build-tests; then
    failed+=(build); summary; exit 1
fi
export WATCHDOG_BIN="$REPO_ROOT/.build/debug/docker-watchdog"
if [[ ! -x "$WATCHDOG_BIN" ]]; then
    say "building product docker-watchdog"
    "$SWIFT" build --product docker-watchdog || { failed+=(build); summary; exit 1; }
fi
if [[ ! -x "$WATCHDOG_BIN" ]]; then
    WATCHDOG_BIN="$("$SWIFT" build --show-bin-path)/docker-watchdog"
    [[ -x "$WATCHDOG_BIN" ]] || { say "no docker-watchdog binary after the build"; failed+=(build); summary; exit 1; }
fi
passed+=(build)

# ---- private Docker daemons ---------------------------------------------------------------------
export WATCHDOG_REPO_ROOT="$REPO_ROOT"
export WATCHDOG_TEST_DOCKERD_SCRIPT="$TD"
export WATCHDOG_TEST_DOCKER_CLI=/usr/bin/docker
[[ -x "$WATCHDOG_TEST_DOCKER_CLI" ]] || WATCHDOG_TEST_DOCKER_CLI="$(command -v docker || echo /usr/bin/docker)"
if [[ "${WATCHDOG_TEST_NO_DOCKER:-0}" == 1 ]]; then
    say "WATCHDOG_TEST_NO_DOCKER=1: no private daemons; Docker integration tests will skip"
    unset WATCHDOG_REQUIRE_DOCKER
else
    if [[ "$(id -u)" != 0 ]]; then
        say "the private Docker daemons need root: run 'sudo -E env PATH=\$PATH scripts/test.sh', or set WATCHDOG_TEST_NO_DOCKER=1 for unit tests only"
        failed+=(dockerd); summary; exit 1
    fi
    for n in main fault; do
        "$TD" stop "$n" >/dev/null 2>&1 || true    # leftovers of an interrupted run
        started+=("$n")
        if ! "$TD" start "$n"; then
            failed+=("dockerd-$n"); summary; exit 1
        fi
    done
    eval "$("$TD" env main --prefix WATCHDOG_TEST_DOCKER)"
    eval "$("$TD" env fault --prefix WATCHDOG_FAULT_DOCKER)"
    export WATCHDOG_REQUIRE_DOCKER=1
    passed+=(dockerd)
fi

# ---- swift test ----------------------------------------------------------------------------------
say "swift test $*"
if "$SWIFT" test "$@"; then passed+=("swift-test"); else failed+=("swift-test"); fi

# ---- the engine matrix ---------------------------------------------------------------------------
# The real-daemon suites again on each newer engine (the run above was Debian 12's dockerd 20.10):
# a private engine `main-ENGINE` is the suites' shared daemon, WATCHDOG_TEST_ENGINE tells the tests
# (and PrivateDaemon) which engine they are on, and a failure is reported as engine-ENGINE.
# WATCHDOG_TEST_ENGINES picks a subset ("" or "none" skips the matrix); packages come through
# scripts/engines.sh (a private apt configuration, never installed over the machine's own).
MATRIX_FILTER='IntegrationTests\.(EngineMatrixTests|RealDaemonTests|ContainerTests|DiskRemediationIntegrationTests|ContainerLogsIntegrationTests|RemediationDaemonTests|BuildCacheTests|BuildHistoryTests|DockerTLSTests)|DockerEngineTests\.BuildHistoryLiveTests'
engines="${WATCHDOG_TEST_ENGINES-docker26 docker28 docker28-containerd podman4}"
if [[ "${WATCHDOG_TEST_NO_DOCKER:-0}" == 1 || "$engines" == none ]]; then engines=""; fi
for engine in $engines; do
    n="main-$engine"
    "$TD" stop "$n" >/dev/null 2>&1 || true
    started+=("$n")
    say "engine $engine: starting $n"
    if ! "$TD" start "$n" --engine "$engine"; then failed+=("engine-$engine"); continue; fi
    say "engine $engine: swift test --filter $MATRIX_FILTER"
    if (
        eval "$("$TD" env "$n" --prefix WATCHDOG_TEST_DOCKER)"
        export WATCHDOG_TEST_ENGINE="$engine" WATCHDOG_TEST_DOCKER_CLI
        "$SWIFT" test --skip-build --filter "$MATRIX_FILTER"
    ); then passed+=("engine-$engine"); else failed+=("engine-$engine"); say "engine $engine: FAILED"; fi
    mkdir -p "$LOGDIR"
    cp "${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}/$n/dockerd.log" "$LOGDIR/$n.log" 2>/dev/null || true
    "$TD" stop "$n" >/dev/null 2>&1 || say "could not stop $n cleanly"
done

# ---- extra checks --------------------------------------------------------------------------------
shopt -s nullglob
[[ "${WATCHDOG_SKIP_CHECKS:-0}" == 1 ]] && say "WATCHDOG_SKIP_CHECKS=1: scripts/checks/ not run"
for check in "$SCRIPT_DIR"/checks/*.sh; do
    [[ "${WATCHDOG_SKIP_CHECKS:-0}" == 1 ]] && break
    [[ -x "$check" ]] || continue
    name="checks/${check##*/}"
    say "running $name"
    if "$check"; then passed+=("$name"); else failed+=("$name"); fi
done
shopt -u nullglob

stop_daemons
summary
(( ${#failed[@]} == 0 ))
