#!/usr/bin/env bash
# The container image, built and run the way docs/deployment.md tells users to, with no registry
# and no network:
#
#   1. a Debian base made here: `debootstrap --variant=minbase --include=<runtime packages>` from the
#      apt mirror this machine uses, tarred (cached under $WATCHDOG_CI_CACHE, keyed by suite,
#      mirror, packages and debootstrap version) and `docker import`ed into the private daemon;
#   2. a release binary with the Swift runtime linked statically (own scratch path; the binary is
#      cached too, keyed by the committed git trees of Sources and Package.swift and the toolchain);
#   3. the Dockerfile's runtime-prebuilt target built FROM that base with --network none;
#   4. the container run against the private daemon with the Docker socket as its only host mount,
#      as the image's non-root user in the socket's group, read-only, no capabilities, no network;
#      /metrics scraped from inside its network namespace (nsenter: loopback only) and compared
#      with what `docker` says; then once more with the host's root read-only under /host for the
#      disk metrics; stopped with SIGTERM within a bound.
#
# Runs from scripts/test.sh with its environment (WATCHDOG_TEST_DOCKER_HOST, WATCHDOG_REPO_ROOT,
# WATCHDOG_TEST_DOCKER_CLI). Knobs:
#   WATCHDOG_CI_CACHE          cache directory (default /var/cache/docker-watchdog-ci)
#   WATCHDOG_DEBIAN_MIRROR     Debian mirror (default: the one apt uses for this suite here)
#   WATCHDOG_IMAGE_SCRATCH     swift --scratch-path of the release build (default $REPO/.build-image)
#   WATCHDOG_IMAGE_BINARY      use this binary instead of building one
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${WATCHDOG_REPO_ROOT:-$(cd "$SCRIPT_DIR/../.." && pwd)}"
DOCKER_CLI="${WATCHDOG_TEST_DOCKER_CLI:-/usr/bin/docker}"
SWIFT="${SWIFT:-swift}"
export PATH="$PATH:/usr/sbin:/sbin"

prog="image.sh"
t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t0 ))s"; }
say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: FAIL: %s\n' "$prog" "$*" >&2; exit 1; }

[[ "${WATCHDOG_TEST_DOCKER_HOST:-}" == unix://* ]] || die "WATCHDOG_TEST_DOCKER_HOST (unix://…) is not set: run me from scripts/test.sh"
HOST="$WATCHDOG_TEST_DOCKER_HOST"
SOCK="${HOST#unix://}"
[[ -S "$SOCK" ]] || die "no Docker socket at $SOCK"
[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, docker import, nsenter)"
for t in debootstrap nsenter curl tar sha256sum; do command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs it)"; done

dk() { env -u DOCKER_HOST -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY "$DOCKER_CLI" -H "$HOST" "$@"; }

SUITE=bookworm
# What the runtime stage needs (the Dockerfile's RUNTIME_PACKAGES): present in the base, so that
# the stage installs nothing and builds without network.
PACKAGES="ca-certificates,libcurl4,libmicrohttpd12,libyaml-0-2"
CACHE="${WATCHDOG_CI_CACHE:-/var/cache/docker-watchdog-ci}"
# shellcheck disable=SC2016  # apt's own $(FIELD) placeholders
MIRROR="${WATCHDOG_DEBIAN_MIRROR:-$(apt-get indextargets --format '$(RELEASE) $(ORIGIN) $(REPO_URI)' 2>/dev/null \
    | awk -v s="$SUITE" '$1 == s && $2 == "Debian" { print $3; exit }')}"
MIRROR="${MIRROR:-http://deb.debian.org/debian/}"
SCRATCH="${WATCHDOG_IMAGE_SCRATCH:-$REPO_ROOT/.build-image}"
NAME="dwt-image-check-$$"
IMAGE="docker-watchdog:ci-$$"

TMP="$(mktemp -d /tmp/dwt-image.XXXXXX)"
bg_pids=()
cleanup() {
    local rc=$? p
    for p in ${bg_pids[@]+"${bg_pids[@]}"}; do kill "$p" 2>/dev/null || true; done
    dk rm -f "$NAME" "$NAME-host" pkg-image-running pkg-image-exited >/dev/null 2>&1 || true
    dk rmi -f "$IMAGE" >/dev/null 2>&1 || true
    # a debootstrap interrupted half-way may leave /proc or /sys mounted in its target
    if [[ -d "$TMP/rootfs" ]]; then
        awk -v d="$TMP/rootfs" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r \
            | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    fi
    rm -rf --one-file-system "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. base tarball (cached) and release binary, side by side -----------------------------------
key="$(printf '%s\n' "$SUITE" minbase "$PACKAGES" "$MIRROR" "$(dpkg-query -W -f='${Version}' debootstrap)" \
    | sha256sum | cut -c1-16)"
BASE_TAR="$CACHE/debian-$SUITE-minbase-$key.tar"
BASE_IMAGE="docker-watchdog-ci/debian-minbase:$SUITE-$key"

make_base() {
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$TMP/rootfs" "$MIRROR" >"$TMP/debootstrap.log" 2>&1 \
        || { tail -n 20 "$TMP/debootstrap.log" >&2; return 1; }
    # what a slim image leaves out: package caches and indexes, documentation
    rm -rf "$TMP"/rootfs/var/cache/apt/* "$TMP"/rootfs/var/lib/apt/lists/* \
           "$TMP"/rootfs/usr/share/doc/* "$TMP"/rootfs/usr/share/man/* "$TMP"/rootfs/usr/share/info/*
    tar -C "$TMP/rootfs" --numeric-owner -cf "$BASE_TAR.partial" .
    rm -f "$CACHE"/debian-"$SUITE"-minbase-*.tar          # older keys
    mv "$BASE_TAR.partial" "$BASE_TAR"
    rm -rf --one-file-system "$TMP/rootfs"
}

if [[ -s "$BASE_TAR" ]]; then
    say "base: cached $BASE_TAR"
else
    say "base: debootstrap --variant=minbase --include=$PACKAGES $SUITE from $MIRROR (in the background)"
    make_base &
    bg_pids+=($!)
fi

if [[ -n "${WATCHDOG_IMAGE_BINARY:-}" ]]; then
    BIN="$WATCHDOG_IMAGE_BINARY"
    say "binary: $BIN (WATCHDOG_IMAGE_BINARY)"
else
    # A fresh clone builds from nothing (the expensive part of this check), so the binary is also
    # kept in the cache under the git tree of what it is built from, when that is committed.
    src_key=""
    if [[ -z "$(git -C "$REPO_ROOT" status --porcelain -- Sources Package.swift 2>/dev/null || echo dirty)" ]]; then
        src_key="$( { git -C "$REPO_ROOT" rev-parse HEAD:Sources HEAD:Package.swift; "$SWIFT" --version 2>/dev/null; } \
            | sha256sum | cut -c1-16)"
    fi
    if [[ -n "$src_key" && -x "$CACHE/docker-watchdog-$src_key" ]]; then
        BIN="$CACHE/docker-watchdog-$src_key"
        say "binary: cached $BIN (same sources and toolchain)"
    else
        say "binary: swift build -c release --static-swift-stdlib --scratch-path ${SCRATCH#"$REPO_ROOT"/}"
        ( cd "$REPO_ROOT" && "$SWIFT" build -c release --static-swift-stdlib --product docker-watchdog \
            --scratch-path "$SCRATCH" ) >"$TMP/swift-build.log" 2>&1 \
            || { tail -n 30 "$TMP/swift-build.log" >&2; die "release build failed"; }
        BIN="$SCRATCH/release/docker-watchdog"
        if [[ -n "$src_key" ]]; then
            mkdir -p "$CACHE"
            rm -f "$CACHE"/docker-watchdog-*
            cp "$BIN" "$CACHE/docker-watchdog-$src_key.partial" && mv "$CACHE/docker-watchdog-$src_key.partial" "$CACHE/docker-watchdog-$src_key"
        fi
    fi
fi
[[ -x "$BIN" ]] || die "no binary at $BIN"
# The runtime stage carries no Swift libraries: the binary must not need any.
if ldd "$BIN" | grep -q 'libswift\|libFoundation\|lib_FoundationICU\|libdispatch'; then
    ldd "$BIN" >&2; die "$BIN links the Swift runtime dynamically (build with --static-swift-stdlib)"
fi
# Nor Foundation: with ICU and CoreFoundation it is about 8 MB of code, most of which the kernel
# keeps resident once a little of it runs (BENCHMARKS.md, resident memory). The watchdog's modules
# import FoundationEssentials at most; one `import Foundation` anywhere in them links it all again.
linked="$(nm "$BIN" | grep -c -E ' \$s10Foundation|CFRunLoop|_ZN6icu_[0-9]+' || true)"
[[ "$linked" == 0 ]] || die "$BIN links Foundation, CoreFoundation or ICU ($linked symbols; nm \"$BIN\" | grep -E ' \\\$s10Foundation|CFRunLoop|_ZN6icu_'): a module of the watchdog imports Foundation"
say "binary ready, no Foundation in it ($(elapsed))"

for p in ${bg_pids[@]+"${bg_pids[@]}"}; do wait "$p" || die "could not make the base (log above)"; done
bg_pids=()
[[ -s "$BASE_TAR" ]] || die "no base tarball at $BASE_TAR"
if ! dk image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    dk import "$BASE_TAR" "$BASE_IMAGE" >/dev/null || die "docker import of $BASE_TAR failed"
fi
say "base image $BASE_IMAGE ($(elapsed))"

# ---- 2. the runtime stage of the Dockerfile, FROM the local base ----------------------------------
# A context of its own with only the binary in it: the repository's context (and .dockerignore)
# is for the full build.
mkdir -p "$TMP/context"
cp "$BIN" "$TMP/context/docker-watchdog"
if ! DOCKER_BUILDKIT=1 dk build --network none -q -t "$IMAGE" -f "$REPO_ROOT/Dockerfile" \
        --target runtime-prebuilt --build-arg RUNTIME_IMAGE="$BASE_IMAGE" --build-arg BINARY=docker-watchdog \
        "$TMP/context" >"$TMP/build.log" 2>&1; then
    cat "$TMP/build.log" >&2; die "docker build --target runtime-prebuilt failed"
fi
rm -rf "$TMP/context"
user="$(dk image inspect -f '{{.Config.User}}' "$IMAGE")"
[[ "${user%%:*}" =~ ^[1-9][0-9]*$ ]] || die "the image runs as '$user', not as a numeric non-root user"
say "image built: user $user, $(( $(dk image inspect -f '{{.Size}}' "$IMAGE") / 1000000 )) MB ($(elapsed))"

# ---- 3. run it against the private daemon ---------------------------------------------------------
DATA_ROOT="$(dk info -f '{{.DockerRootDir}}')"
SERVER_VERSION="$(dk version -f '{{.Server.Version}}')"
SOCK_GID="$(stat -c %g "$SOCK")"
# Two containers of our own, so that the count and the states are not only the watchdog itself.
dk run -d --network none --name pkg-image-running busybox sleep 100000 >/dev/null
dk run --network none --name pkg-image-exited busybox sh -c 'exit 3' >/dev/null 2>&1 || true

fast=(--collector.daemon.interval 1s --collector.containers.interval 1s --collector.disk.interval 1s
      --collector.system-df.interval 5s --remediation.dry-run=true)
hardened=(--network none --read-only --cap-drop ALL --security-opt no-new-privileges
          --group-add "$SOCK_GID" --tmpfs "/var/lib/docker-watchdog:mode=0750,uid=${user%%:*},gid=${user%%:*}")
run_watchdog() { # NAME [docker run options…] -- [watchdog flags…]
    local n="$1"; shift
    local opts=()
    while [[ "$1" != -- ]]; do opts+=("$1"); shift; done
    shift
    dk run -d --name "$n" "${hardened[@]}" "${opts[@]}" "$IMAGE" "${fast[@]}" "$@" >/dev/null
}
scrape() { # NAME → /metrics on stdout, fetched inside the container's network namespace
    local pid
    pid="$(dk inspect -f '{{.State.Pid}}' "$1")"
    [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
    nsenter --target "$pid" --net -- curl -sf --max-time 3 http://127.0.0.1:9734/metrics
}
value() { # METRICS-FILE SERIES → value of the exact series (name{labels} as exposed), or nothing
    awk -v s="$2" 'index($0, s " ") == 1 { print $NF; exit }' "$1"
}
wait_metrics() { # NAME FILE: until the daemon is up and the containers collector has counted
    local _
    for _ in $(seq 1 60); do
        if scrape "$1" >"$2" 2>/dev/null && [[ "$(value "$2" docker_daemon_up)" == 1 ]] \
            && [[ "$(value "$2" 'docker_watchdog_collector_success{collector="containers"}')" == 1 ]] \
            && grep -q '^docker_watchdog_collector_success{collector="disk"}' "$2"; then
            return 0
        fi
        [[ "$(dk inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" == true ]] \
            || { dk logs "$1" 2>&1 | tail -n 20 >&2; die "container $1 exited"; }
        sleep 0.5
    done
    dk logs "$1" 2>&1 | tail -n 20 >&2
    die "no metrics with docker_daemon_up 1 from $1 within 30 s"
}

say "run: only the Docker socket mounted, user $user + group $SOCK_GID, --read-only, --cap-drop ALL, --network none"
run_watchdog "$NAME" -v "$SOCK:/var/run/docker.sock" -- || die "docker run failed"
M="$TMP/metrics"
wait_metrics "$NAME" "$M"
sleep 2.5        # a few more rounds, so that the counts include every container
scrape "$NAME" >"$M" || die "scrape failed"

fails=0
check() { # DESCRIPTION GOT WANT
    if [[ "$2" == "$3" ]]; then say "ok   $1: $2"; else say "FAIL $1: got '$2', want '$3'"; fails=$((fails + 1)); fi
}
mounts="$(dk inspect -f '{{range .Mounts}}{{.Type}}:{{.Source}}>{{.Destination}} {{end}}' "$NAME")"
check "host mounts" "${mounts% }" "bind:$SOCK>/var/run/docker.sock"
pid="$(dk inspect -f '{{.State.Pid}}' "$NAME")"
check "process uid" "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" "${user%%:*}"
check "effective capabilities" "$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")" "0000000000000000"
check "docker_daemon_up" "$(value "$M" docker_daemon_up)" 1
check "docker_daemon_info server_version and root_dir" \
    "$(grep -c "^docker_daemon_info{.*server_version=\"$SERVER_VERSION\".*root_dir=\"$DATA_ROOT\"\|^docker_daemon_info{.*root_dir=\"$DATA_ROOT\".*server_version=\"$SERVER_VERSION\"" "$M")" 1
total="$(awk '/^docker_containers\{/ { s += $NF } END { print s + 0 }' "$M")"
check "sum(docker_containers) = docker ps -a" "$total" "$(dk ps -aq | wc -l)"
check "docker_containers{state=running} = docker ps" "$(value "$M" 'docker_containers{state="running"}')" "$(dk ps -q | wc -l)"
check "state of pkg-image-running" "$(awk '/^docker_container_state\{.*name="pkg-image-running"/ { print $NF }' "$M")" 1
check "state of pkg-image-exited" "$(awk '/^docker_container_state\{.*name="pkg-image-exited"/ { print $NF }' "$M")" 5
check "last exit code of pkg-image-exited" "$(awk '/^docker_container_last_exit_code\{.*name="pkg-image-exited"/ { print $NF }' "$M")" 3
check "the watchdog sees itself" "$(awk -v n="$NAME" 'index($0, "name=\"" n "\"") && /^docker_container_state\{/ { print $NF }' "$M")" 1
check "build info" "$(grep -c '^docker_watchdog_build_info{' "$M")" 1
# Without the host's filesystem the Docker root cannot be measured: a failure, reported as such.
check "disk collector without /host" "$(value "$M" 'docker_watchdog_collector_success{collector="disk"}')" 0

# SIGTERM (docker stop) ends it cleanly (exit 0, not 137) before docker's KILL at 10 s.
s0=$(date +%s%N)
dk stop -t 10 "$NAME" >/dev/null
stop_ms=$(( ($(date +%s%N) - s0) / 1000000 ))
check "exit code after docker stop" "$(dk inspect -f '{{.State.ExitCode}}' "$NAME")" 0
if (( stop_ms < 8000 )); then say "ok   stopped in ${stop_ms} ms"; else say "FAIL stop took ${stop_ms} ms"; fails=$((fails + 1)); fi
dk rm -f "$NAME" >/dev/null

# ---- 4. with the host's root read-only, for the disk metrics ------------------------------------
# (docs/deployment.md: ro,rslave, so that later mounts show too; rslave needs / to be a shared
# mount, which it is on systemd hosts but not in every CI sandbox, so plain ro here.)
propagation=ro
[[ "$(findmnt -no PROPAGATION / 2>/dev/null)" == shared* ]] && propagation=ro,rslave
say "run: with -v /:/host:$propagation and --collector.disk.host-prefix /host"
run_watchdog "$NAME-host" -v "$SOCK:/var/run/docker.sock" -v "/:/host:$propagation" -- --collector.disk.host-prefix /host \
    || die "docker run (host root) failed"
wait_metrics "$NAME-host" "$M"
for _ in $(seq 1 20); do
    grep -q '^docker_root_filesystem_size_bytes{' "$M" && break
    sleep 0.5; scrape "$NAME-host" >"$M" || true
done
check "disk collector with /host" "$(value "$M" 'docker_watchdog_collector_success{collector="disk"}')" 1
check "docker_root_filesystem_size_bytes = statvfs of $DATA_ROOT" \
    "$(awk '/^docker_root_filesystem_size_bytes\{/ { printf "%.0f", $NF; exit }' "$M")" \
    "$(stat -f -c '%S %b' "$DATA_ROOT" | awk '{ printf "%.0f", $1 * $2 }')"
# /host is a read-only bind of a writable filesystem: statvfs's mount flag says read-only, the
# superblock (what the metric follows) does not.
check "docker_root_filesystem_readonly under a read-only /host" \
    "$(awk '/^docker_root_filesystem_readonly\{/ { print $NF; exit }' "$M")" 0
dk rm -f "$NAME-host" >/dev/null

(( fails == 0 )) || die "$fails check(s) failed (metrics of the last run: see above)"
say "OK ($(elapsed))"
