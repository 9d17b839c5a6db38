#!/usr/bin/env bash
# Runs docker-watchdog for a look around.
#
#   scripts/demo.sh [extra docker-watchdog flags…]
#
# Builds the release binary, then:
#  - if a Docker daemon answers at $DOCKER_HOST (unix://…) or /var/run/docker.sock, watches it
#    (read-only as far as this script goes: it creates nothing there);
#  - otherwise (root only) starts a private daemon `demo` (scripts/test-dockerd.sh) with four
#    containers — demo-healthy, demo-unhealthy, demo-plain, demo-exited — and watches that;
#    the daemon is stopped again when the watchdog exits.
# Metrics: http://127.0.0.1:9734/metrics (pass --web.listen-address to change it).
# Knobs: WATCHDOG_SKIP_SETUP=1 skips setup.sh; SWIFT picks the swift binary;
#        WATCHDOG_DEMO_PRIVATE=1 uses the private daemon even if another one answers.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_ROOT"

SWIFT="${SWIFT:-swift}"
TD="$SCRIPT_DIR/test-dockerd.sh"
DEMO=demo
LISTEN=127.0.0.1:9734

say() { printf 'demo.sh: %s\n' "$*"; }
die() { printf 'demo.sh: error: %s\n' "$*" >&2; exit 1; }

# A listen address given by the caller wins.
own_listen=0
prev=""
for a in "$@"; do
    case "$a" in
        --web.listen-address=*) LISTEN="${a#*=}"; own_listen=1 ;;
    esac
    if [[ "$prev" == --web.listen-address ]]; then LISTEN="$a"; own_listen=1; fi
    prev="$a"
done

if [[ "${WATCHDOG_SKIP_SETUP:-0}" != 1 ]]; then
    "$SCRIPT_DIR/setup.sh" || die "setup failed (see above)"
fi
command -v "$SWIFT" >/dev/null || die "swift not found (PATH=$PATH); see scripts/setup.sh"

say "swift build -c release --product docker-watchdog"
"$SWIFT" build -c release --product docker-watchdog
BIN="$REPO_ROOT/.build/release/docker-watchdog"
[[ -x "$BIN" ]] || BIN="$("$SWIFT" build -c release --show-bin-path)/docker-watchdog"
[[ -x "$BIN" ]] || die "no binary at $BIN after the build"

ping_sock() { [[ -S "$1" ]] && [[ "$(curl -s --max-time 3 --unix-socket "$1" http://d/_ping 2>/dev/null || true)" == OK ]]; }

host=""
if [[ "${WATCHDOG_DEMO_PRIVATE:-0}" != 1 ]]; then
    candidates=()
    case "${DOCKER_HOST:-}" in
        unix://*) candidates+=("${DOCKER_HOST#unix://}") ;;
        "") ;;
        *) say "DOCKER_HOST=$DOCKER_HOST is not a unix socket; not probing it" ;;
    esac
    candidates+=(/var/run/docker.sock)
    for s in "${candidates[@]}"; do
        if ping_sock "$s"; then host="unix://$s"; break; fi
        if [[ -S "$s" && ! -w "$s" ]]; then say "$s exists but is not writable for $(id -un) (docker group?)"; fi
    done
fi

started=0
child=""
# shellcheck disable=SC2317  # called from traps
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    if (( started )); then
        say "stopping the private daemon '$DEMO'"
        "$TD" stop "$DEMO" || true
    fi
    exit "$rc"
}

if [[ -n "$host" ]]; then
    say "using the Docker daemon at $host"
else
    [[ "$(id -u)" == 0 ]] || die "no Docker daemon answers (\$DOCKER_HOST or /var/run/docker.sock), and starting a private one needs root: sudo scripts/demo.sh"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    "$TD" stop "$DEMO" >/dev/null 2>&1 || true
    started=1
    "$TD" start "$DEMO"
    host="unix://${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}/$DEMO/docker.sock"
    dk() { /usr/bin/docker -H "$host" "$@"; }
    say "creating demo containers (all --network none)"
    dk run -d --network none --name demo-healthy \
        --health-cmd true --health-interval 5s busybox sleep 1d >/dev/null
    dk run -d --network none --name demo-unhealthy \
        --health-cmd false --health-interval 5s busybox sleep 1d >/dev/null
    dk run -d --network none --name demo-plain busybox sleep 1d >/dev/null
    dk run --network none --name demo-exited busybox sh -c 'echo bye; exit 3' >/dev/null || true
    dk ps -a --format '  {{.Names}}\t{{.Status}}'
fi

args=(--docker.host "$host")
(( own_listen )) || args+=(--web.listen-address "$LISTEN")
say "metrics: http://$LISTEN/metrics   (Ctrl-C to stop)"
if (( ! started )); then
    exec "$BIN" "${args[@]}" "$@"
fi
# Run as a child so that the trap can stop the private daemon afterwards.
"$BIN" "${args[@]}" "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM
rc=0
while kill -0 "$child" 2>/dev/null; do
    wait "$child" || rc=$?
done
child=""
exit "$rc"
