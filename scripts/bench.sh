#!/usr/bin/env bash
# The benchmark: docker-watchdog side by side with its floors and its peers, and the performance
# budget (issue 7) checked as pass/fail. One command:
#
#   scripts/bench.sh                 full run (about 12 minutes with the default 10-minute churn run)
#   scripts/bench.sh --quick         the ratio checks only (about 100 s once built; CI runs it as scripts/checks/bench-quick.sh)
#
# Options:
#   --churn-minutes M       length of the churn run (default 10; 0 skips it)
#   --dockerd-containers K  busybox containers on the private dockerd (default 100; quick 24)
#   --no-dockerd            skip the real-daemon phase (it needs root, dockerd and busybox-static)
#   --dockerd-engines E,... other test-bed engines whose sampling round is measured too, same budget
#                           (default docker28; empty: none; an engine not in the cache is noted, skipped)
#   --enforce-round W       quick mode: which sampling-round ratios fail the run: both (default), fake, dockerd
#   --counts 0,100,...      container counts for the fake engine (default 0,100,1000,10000; quick 1000,10000)
#   --load-seconds S        wrk time per figure (default 6; quick 3), split in 3 runs alternating with the floor
#   --out DIR               where results go (default .build-bench/results/<mode>)
#   --write                 also rewrite BENCHMARKS.md from this run (full mode)
#   --skip-install          do not apt-get/pip anything
#
# Steps: installs what is missing (Debian: wrk, curl; full mode also prometheus-node-exporter and
# python3-venv, with services kept from starting; PyPI: docker and prometheus_client in a venv of
# its own for the Python peer), builds release binaries in its own scratch path ($BENCH_SCRATCH,
# default .build-bench: docker-watchdog, fake-docker-engine, bench-profile), then runs
# scripts/bench/bench.py. Every server is on 127.0.0.1 or a unix socket; every process it starts it
# stops by pid; the private dockerd is named "bench" (scripts/test-dockerd.sh) and removed at the end.
# Prints the tables; writes DIR/benchmarks.md (BENCHMARKS.md-ready) and DIR/results.json.
# Exit status: quick mode 1 if a ratio misses its target by more than 25%; 2 if the run broke.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_ROOT"
export PATH="$PATH:/usr/sbin:/sbin"
[[ -d /opt/swift/usr/bin ]] && export PATH="$PATH:/opt/swift/usr/bin"

say() { printf 'bench.sh: %s\n' "$*" >&2; }
die() { printf 'bench.sh: error: %s\n' "$*" >&2; exit 2; }

quick=0; skip_install=0; write=0
pass=()
orig_args="$*"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1; shift ;;
        --skip-install) skip_install=1; shift ;;
        --write) write=1; shift ;;
        --no-dockerd) pass+=(--no-dockerd); shift ;;
        --churn-minutes|--dockerd-containers|--dockerd-engines|--counts|--load-seconds|--out|--enforce-round)
            [[ $# -ge 2 ]] || die "$1 needs a value"
            pass+=("$1" "$2"); [[ "$1" == --out ]] && out="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$SCRIPT_DIR/bench.sh" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
mode=$([[ $quick == 1 ]] && echo quick || echo full)
SCRATCH="${BENCH_SCRATCH:-$REPO_ROOT/.build-bench}"
out="${out:-$SCRATCH/results/$mode}"
SWIFT="${SWIFT:-swift}"
t0=$(date +%s)

# ---- install what is missing --------------------------------------------------------------------
is_installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]; }
want=(wrk curl)
(( quick )) || want+=(prometheus-node-exporter python3-venv)
missing=()
for p in "${want[@]}"; do is_installed "$p" || missing+=("$p"); done
if (( ${#missing[@]} > 0 )); then
    (( skip_install )) && die "missing packages: ${missing[*]} (run without --skip-install, as root)"
    [[ "$(id -u)" == 0 ]] || die "missing packages: ${missing[*]}; installing them needs root"
    say "apt-get install ${missing[*]}"
    POLICY=/usr/sbin/policy-rc.d
    MARK="# docker-watchdog bench.sh: temporary, keeps apt from starting services"
    made_policy=0
    if [[ ! -e "$POLICY" ]]; then
        printf '#!/bin/sh\n%s\nexit 101\n' "$MARK" >"$POLICY"; chmod 755 "$POLICY"; made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log=/tmp/docker-watchdog-bench-apt.log
    { apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
        || { apt-get update -q >>"$log" 2>&1 && apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; } \
        || { (( made_policy )) && rm -f "$POLICY"; tail -n 20 "$log" >&2; die "apt-get install failed (log: $log)"; }
    (( made_policy )) && rm -f "$POLICY"
    # node_exporter is a peer we start ourselves on 127.0.0.1, never a service listening everywhere.
    if [[ " ${missing[*]} " == *" prometheus-node-exporter "* && -d /run/systemd/system ]]; then
        systemctl disable --now prometheus-node-exporter >/dev/null 2>&1 || true
    fi
fi
command -v wrk >/dev/null || die "wrk not found"

# ---- build ---------------------------------------------------------------------------------------
command -v "$SWIFT" >/dev/null || die "swift not found (PATH=$PATH)"
# The Swift runtime linked statically, as in the image the Dockerfile builds (and the same flags
# and scratch path as scripts/checks/image.sh can use, so CI compiles the release once).
say "swift build -c release --static-swift-stdlib --scratch-path ${SCRATCH#$REPO_ROOT/} (docker-watchdog, fake-docker-engine, bench-profile)"
tb=$(date +%s)
build_log="$SCRATCH/build.log"
mkdir -p "$SCRATCH"
: >"$build_log"
for product in docker-watchdog fake-docker-engine bench-profile; do
    if ! "$SWIFT" build -c release --static-swift-stdlib --product "$product" --scratch-path "$SCRATCH" >>"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        die "release build of $product failed (log: $build_log)"
    fi
done
BIN="$("$SWIFT" build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)"
for b in docker-watchdog fake-docker-engine bench-profile; do [[ -x "$BIN/$b" ]] || die "no $b in $BIN after the build"; done
say "built in $(( $(date +%s) - tb )) s"

# ---- Python peer (full mode) ------------------------------------------------------------------------
py_peer=""
if (( ! quick )); then
    VENV="$SCRATCH/bench-venv"
    if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import docker, prometheus_client' 2>/dev/null; then
        if (( skip_install )); then
            say "no venv with docker + prometheus_client; the Python peer is skipped"
        else
            say "pip install docker prometheus_client (venv $VENV)"
            if /usr/bin/python3 -m venv "$VENV" >/dev/null 2>&1 \
                && "$VENV/bin/pip" install -q --disable-pip-version-check docker prometheus_client >"$SCRATCH/pip.log" 2>&1; then
                :
            else
                say "could not set up the Python peer (log: $SCRATCH/pip.log); it is skipped"
            fi
        fi
    fi
    "$VENV/bin/python" -c 'import docker, prometheus_client' 2>/dev/null && py_peer="$VENV/bin/python"
fi
if [[ " ${pass[*]-} " != *" --no-dockerd "* ]]; then
    if [[ "$(id -u)" != 0 ]]; then
        say "not root: the real-dockerd phase is skipped"; pass+=(--no-dockerd)
    elif ! command -v dockerd >/dev/null || [[ ! -x /bin/busybox ]]; then
        say "no dockerd or /bin/busybox (scripts/setup.sh installs them): the real-dockerd phase is skipped"; pass+=(--no-dockerd)
    fi
fi

# ---- run -------------------------------------------------------------------------------------------
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY="$(command -v python3)"
rm -rf "$out"
mkdir -p "$out"
extra=()
(( quick )) && extra+=(--quick)
(( write )) && extra+=(--write-benchmarks "$REPO_ROOT/BENCHMARKS.md")
set +e
"$PY" "$SCRIPT_DIR/bench/bench.py" --bin-dir "$BIN" --repo "$REPO_ROOT" --out "$out" --python "$py_peer" \
    --command "scripts/bench.sh${orig_args:+ $orig_args}" ${extra[@]+"${extra[@]}"} ${pass[@]+"${pass[@]}"}
rc=$?
set -e
say "$mode run finished in $(( $(date +%s) - t0 )) s (exit $rc)"
exit "$rc"
