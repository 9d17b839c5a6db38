#!/usr/bin/env bash
# A private, throw-away Docker daemon for tests and demos.
#
#   scripts/test-dockerd.sh start  NAME [--loopfs SIZE_MB]
#   scripts/test-dockerd.sh stop   NAME
#   scripts/test-dockerd.sh env    NAME [--prefix VAR_PREFIX]
#   scripts/test-dockerd.sh status NAME
#
# Start waits up to $WATCHDOG_TEST_DOCKERD_TIMEOUT seconds (default 60) for _ping to answer OK.
# $WATCHDOG_TEST_DOCKERD_EXTRA_ARGS (optional, split on whitespace) is appended to dockerd's command
# line, e.g. "--metrics-addr 127.0.0.1:9323" for the benchmark; addresses must be loopback.
# State lives in $WATCHDOG_TEST_ROOT/NAME (default /tmp/docker-watchdog-test/NAME):
#   docker.sock   the API socket            (DOCKER_HOST=unix://…/docker.sock)
#   root/         --data-root (a loop-mounted ext4 image with --loopfs)
#   exec/         --exec-root (the daemon's own containerd lives in exec/containerd)
#   docker.pid    dockerd's pidfile
#   dockerd.log   dockerd's (and its containerd's) output
#
# Each daemon runs its own containerd (dockerd starts one per exec-root), has no bridge and no
# iptables rules, and gets a local `busybox:latest` image built from busybox-static. Nothing is
# ever pulled. Containers and builds must use `--network none`.
#
# `stop` stops only what `start` started: the pid in the pidfile, and containerd/shim processes
# whose command line names this daemon's own state directory.
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"

prog="test-dockerd.sh"
say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $prog start  NAME [--loopfs SIZE_MB]
       $prog stop   NAME
       $prog restart NAME                         (TERM dockerd by pid, start it again on the same state)
       $prog env    NAME [--prefix VAR_PREFIX]   (default prefix WATCHDOG_TEST_DOCKER)
       $prog status NAME                          (exit 0 running, 3 not running)
State: \${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}/NAME
EOF
    exit 2
}

[[ $# -ge 2 ]] || usage
cmd="$1"; name="$2"; shift 2
loopfs_mb=""
prefix="WATCHDOG_TEST_DOCKER"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --loopfs) [[ $# -ge 2 ]] || usage; loopfs_mb="$2"; shift 2 ;;
        --loopfs=*) loopfs_mb="${1#--loopfs=}"; shift ;;
        --prefix) [[ $# -ge 2 ]] || usage; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        *) usage ;;
    esac
done
case "$cmd" in start|stop|restart|env|status) ;; *) usage ;; esac
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad NAME '$name' (letters, digits, _ . - only)"
if [[ -n "$loopfs_mb" ]]; then
    [[ "$cmd" == start ]] || die "--loopfs only goes with start"
    [[ "$loopfs_mb" =~ ^[0-9]+$ && "$loopfs_mb" -ge 64 ]] || die "--loopfs wants a size in MB, at least 64 (got '$loopfs_mb')"
fi
[[ "$prefix" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad --prefix '$prefix'"
read -r -a EXTRA_ARGS <<<"${WATCHDOG_TEST_DOCKERD_EXTRA_ARGS:-}"
for a in ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}; do
    [[ "$a" != *0.0.0.0* && "$a" != *"[::]"* && "$a" != tcp://* && "$a" != -H && "$a" != --host* ]] \
        || die "WATCHDOG_TEST_DOCKERD_EXTRA_ARGS: '$a' would listen beyond loopback or the private socket"
done

ROOT="${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}"
START_TIMEOUT="${WATCHDOG_TEST_DOCKERD_TIMEOUT:-60}"
[[ "$START_TIMEOUT" =~ ^[0-9]+$ ]] || die "WATCHDOG_TEST_DOCKERD_TIMEOUT must be whole seconds"
[[ "$ROOT" == /* ]] || ROOT="$PWD/$ROOT"
ROOT="${ROOT%/}"
[[ "$ROOT" =~ ^[A-Za-z0-9_./+-]+$ ]] || die "WATCHDOG_TEST_ROOT '$ROOT' must be a plain path (no spaces or odd characters)"
D="$ROOT/$name"
SOCK="$D/docker.sock"
HOST="unix://$SOCK"
PIDFILE="$D/docker.pid"
LAUNCHPID="$D/dockerd.launch.pid"
LOG="$D/dockerd.log"
DATAROOT="$D/root"
EXECROOT="$D/exec"
IMG="$D/root.img"

# unix socket paths are limited to 107 bytes; containerd's debug socket is the longest one.
longest="$EXECROOT/containerd/containerd-debug.sock"
(( ${#longest} <= 100 )) || die "state path too long for unix sockets: $longest (shorten WATCHDOG_TEST_ROOT)"

DOCKER_CLI=/usr/bin/docker
[[ -x "$DOCKER_CLI" ]] || DOCKER_CLI="$(command -v docker || true)"
dk() { env -u DOCKER_HOST -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY "$DOCKER_CLI" -H "$HOST" "$@"; }
ping_ok() { [[ -S "$SOCK" ]] && [[ "$(curl -s --max-time "${1:-2}" --unix-socket "$SOCK" http://d/_ping 2>/dev/null || true)" == "OK" ]]; }

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# The dockerd pid if it is running and really is this NAME's daemon (guards against pid reuse).
daemon_pid() {
    local f p
    for f in "$PIDFILE" "$LAUNCHPID"; do
        [[ -r "$f" ]] || continue
        p="$(tr -dc '0-9' <"$f")"
        [[ -n "$p" ]] || continue
        if alive "$p" && [[ "$(cmdline_of "$p")" == *"--exec-root $EXECROOT "* ]]; then
            echo "$p"; return 0
        fi
    done
    return 1
}

proc_comm() { local c=""; { read -r c <"/proc/$1/comm"; } 2>/dev/null || true; printf '%s' "$c"; }
proc_state() { # state letter of a pid, empty if gone
    local s=""
    { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 0
    s="${s##*) }"; printf '%s' "${s%% *}"
}
alive() { local st; st="$(proc_state "$1")"; [[ -n "$st" && "$st" != Z && "$st" != X ]]; }

# Pids of leftover containerd / shim / runc processes that belong to this state dir.
leftover_pids() {
    local f p
    for f in /proc/[0-9]*; do
        p="${f#/proc/}"
        case "$(proc_comm "$p")" in
            dockerd|containerd|containerd-shim*|runc|docker-init|docker-proxy) ;;
            *) continue ;;
        esac
        [[ "$(cmdline_of "$p")" == *"$D/"* ]] && echo "$p"
    done
    return 0
}

# All descendants of a pid.
descendants() {
    local f s st pp table=""
    for f in /proc/[0-9]*/stat; do
        s=""; { read -r s <"$f"; } 2>/dev/null || continue
        s="${s##*) }"; read -r st pp _ <<<"$s"
        f="${f#/proc/}"; table+="${f%/stat} $pp"$'\n'
    done
    printf '%s' "$table" | awk -v root="$1" '
        { parent[$1] = $2 }
        END { changed = 1; want[root] = 1
              while (changed) { changed = 0
                  for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 } }
              for (p in want) if (p != root) print p }'
}

# Mount points at or under $D, deepest first.
mounts_under() {
    awk -v d="$D" '{ gsub(/\\040/, " ", $5); if ($5 == d || index($5, d "/") == 1) print length($5) "\t" $5 }' /proc/self/mountinfo \
        | sort -rn | cut -f2- | uniq
}

wait_gone() { # pid seconds
    local pid="$1" n=$(( $2 * 10 ))
    while (( n-- > 0 )); do
        alive "$pid" || return 0
        sleep 0.1
    done
    ! alive "$pid"
}

need_root() {
    [[ "$(id -u)" == 0 ]] || die "must run as root (dockerd, loop mounts and unmounts need root); try: sudo $0 $cmd $name"
}

check_tools() {
    DOCKERD="$(command -v dockerd || true)"
    [[ -n "$DOCKERD" ]] || die "dockerd is not installed (run scripts/setup.sh, or: apt-get install docker.io)"
    [[ -n "$DOCKER_CLI" && -x "$DOCKER_CLI" ]] || die "no docker client found (/usr/bin/docker; run scripts/setup.sh)"
    command -v containerd >/dev/null || [[ -x "$(dirname "$DOCKERD")/containerd" ]] \
        || die "containerd is not installed (it comes with docker.io; run scripts/setup.sh)"
    command -v curl >/dev/null || die "curl is not installed (run scripts/setup.sh)"
    [[ -x /bin/busybox ]] || die "/bin/busybox is missing (run scripts/setup.sh, or: apt-get install busybox-static)"
    if ldd /bin/busybox >/dev/null 2>&1; then
        die "/bin/busybox is dynamically linked; the test image needs the static one (apt-get install busybox-static)"
    fi
    if [[ -n "$loopfs_mb" ]]; then
        command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 is missing (apt-get install e2fsprogs)"
        command -v losetup >/dev/null || die "losetup is missing (apt-get install mount)"
    fi
}

# ---------------------------------------------------------------------------------------------

cleanup_state() { # stop everything of $D and remove it; returns non-zero if something is stuck
    local pid p kids m ok=0 ids=()

    if pid="$(daemon_pid)"; then
        kill -CONT "$pid" 2>/dev/null || true          # a test may have left it SIGSTOPped
        if ping_ok 3; then
            # Kill running containers first: a graceful daemon shutdown waits 10 s per container.
            local running
            running="$(timeout 10 env -u DOCKER_HOST "$DOCKER_CLI" -H "$HOST" ps -q 2>/dev/null || true)"
            if [[ -n "$running" ]]; then
                # shellcheck disable=SC2086
                timeout 15 env -u DOCKER_HOST "$DOCKER_CLI" -H "$HOST" kill $running >/dev/null 2>&1 || true
            fi
        fi
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 20; then
            say "dockerd $pid did not stop within 20 s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || say "dockerd $pid is still there after KILL"
        fi
    fi

    # Leftovers: containerd (if dockerd died hard), shims and the container processes under them.
    for p in $(leftover_pids); do
        case "$(proc_comm "$p")" in
            containerd-shim*)
                kids="$(descendants "$p")"
                # shellcheck disable=SC2086
                if [[ -n "$kids" ]]; then kill -KILL $kids 2>/dev/null || true; fi
                kill -KILL "$p" 2>/dev/null || true ;;
            *) kill -TERM "$p" 2>/dev/null || true ;;
        esac
    done
    for p in $(leftover_pids); do
        wait_gone "$p" 5 || { kill -KILL "$p" 2>/dev/null || true; }
    done
    if [[ -n "$(leftover_pids)" ]]; then
        say "processes of $D are still running: $(leftover_pids | tr '\n' ' ')"; ok=1
    fi

    # Remember container ids to tidy their (empty) cgroups afterwards.
    if [[ -d "$DATAROOT/containers" ]]; then
        for m in "$DATAROOT"/containers/*; do [[ -d "$m" ]] && ids+=("${m##*/}"); done
    fi

    # Unmount everything under $D (container rootfs, shm, netns, the data-root bind, the loop fs).
    local _try
    for _try in 1 2 3; do
        local left
        left="$(mounts_under)"
        [[ -z "$left" ]] && break
        while IFS= read -r m; do
            [[ -z "$m" ]] && continue
            umount "$m" 2>/dev/null || umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
        done <<<"$left"
    done
    if [[ -n "$(mounts_under)" ]]; then
        say "still mounted under $D:"; mounts_under | sed 's/^/  /'; ok=1
    fi

    # Loop device of --loopfs (normally auto-cleared by umount).
    if [[ -e "$IMG" ]] && command -v losetup >/dev/null; then
        local dev
        for dev in $(losetup -j "$IMG" 2>/dev/null | cut -d: -f1); do
            losetup -d "$dev" 2>/dev/null || { say "cannot detach $dev"; ok=1; }
        done
    fi

    # Empty cgroups left behind by containers whose runtime was killed.
    local id cg
    for id in "${ids[@]}"; do
        for cg in /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/docker/"$id" /sys/fs/cgroup/system.slice/docker-"$id".scope; do
            if [[ -d "$cg" ]]; then rmdir "$cg" 2>/dev/null || true; fi
        done
    done

    if (( ok == 0 )); then
        rm -rf --one-file-system "$D"
    else
        say "left $D in place (something is still running or mounted)"
    fi
    return "$ok"
}

make_busybox_image() {
    if dk image inspect busybox:latest >/dev/null 2>&1; then
        return 0
    fi
    local rootfs="$D/busybox-rootfs" a
    rm -rf "$rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/root"
    chmod 1777 "$rootfs/tmp"
    cp /bin/busybox "$rootfs/bin/busybox"
    for a in sh sleep true false head tr dd cat echo ls wc rm mkdir touch date env printf test kill \
             '[' grep seq yes; do
        ln -sf busybox "$rootfs/bin/$a"
    done
    tar -C "$rootfs" -c . | dk import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - busybox:latest >/dev/null
    rm -rf "$rootfs"
}

# Launches dockerd on the state of $D and waits until it answers _ping.
launch_and_wait() {
    # The daemon must not inherit the caller's descriptors (a test runner's sockets and pipes would
    # stay open for the daemon's whole life), so close everything above stderr first.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            if (( fd > 2 )); then eval "exec ${fd}>&-" 2>/dev/null || true; fi
        done
        exec setsid "$DOCKERD" \
        --config-file "$D/daemon.json" \
        --host "$HOST" \
        --data-root "$DATAROOT" \
        --exec-root "$EXECROOT" \
        --pidfile "$PIDFILE" \
        --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} \
        >>"$LOG" 2>&1 </dev/null
    ) &
    echo "$!" >"$LAUNCHPID"
    local lpid="$!"
    local deadline=$(( $(date +%s) + START_TIMEOUT ))
    until ping_ok 2; do
        if ! alive "$lpid" && ! daemon_pid >/dev/null; then
            start_failed "dockerd exited during start-up"
        fi
        (( $(date +%s) < deadline )) || start_failed "dockerd did not answer _ping within $START_TIMEOUT s"
        sleep 0.2
    done
}

# Stops dockerd (TERM, by its pid) and starts it again on the same data root: containers with a
# restart policy come back, the events stream of every client breaks. For reconnect tests.
do_restart() {
    need_root
    check_tools
    local pid
    pid="$(daemon_pid)" || die "$name is not running"
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid"
    wait_gone "$pid" 30 || die "$name: dockerd $pid did not stop within 30 s"
    local t0; t0="$(date +%s%N)"
    launch_and_wait
    say "$name restarted: $HOST (pid $(daemon_pid || echo '?'), answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
}

do_start() {
    need_root
    check_tools
    mkdir -p "$ROOT"
    local pid
    if pid="$(daemon_pid)"; then
        if ping_ok 5; then
            say "$name already running (pid $pid, $HOST)"
            make_busybox_image
            return 0
        fi
        die "$name: dockerd $pid exists but does not answer on $SOCK (stop it first: $0 stop $name)"
    fi
    if [[ -e "$D" ]]; then
        say "$name: removing stale state in $D"
        cleanup_state || die "could not clean stale state in $D"
    fi

    local t0; t0="$(date +%s%N)"
    mkdir -p "$DATAROOT" "$EXECROOT"
    if [[ -n "$loopfs_mb" ]]; then
        truncate -s "${loopfs_mb}M" "$IMG"
        mkfs.ext4 -q -F -m 0 -L "dwt-$name" "$IMG"
        mount -o loop "$IMG" "$DATAROOT"
        echo "$loopfs_mb" >"$D/loopfs.mb"
    fi
    # Own config file: never read /etc/docker/daemon.json; keep the trust key out of /etc/docker.
    printf '{\n  "deprecated-key-path": "%s"\n}\n' "$D/key.json" >"$D/daemon.json"

    launch_and_wait
    local t1; t1="$(date +%s%N)"
    make_busybox_image || start_failed "could not import the busybox image"
    local t2; t2="$(date +%s%N)"
    say "$name up: $HOST (pid $(daemon_pid || echo "$lpid"), data-root $DATAROOT${loopfs_mb:+ on a ${loopfs_mb} MB ext4 loop fs}; ping after $(( (t1 - t0) / 1000000 )) ms, ready after $(( (t2 - t0) / 1000000 )) ms)"
}

start_failed() {
    printf '%s: error: %s. Last lines of %s:\n' "$prog" "$1" "$LOG" >&2
    tail -n 30 "$LOG" 2>/dev/null | sed 's/^/  | /' >&2 || true
    cp "$LOG" "$ROOT/$name.failed-dockerd.log" 2>/dev/null && \
        printf '%s: full log kept at %s\n' "$prog" "$ROOT/$name.failed-dockerd.log" >&2
    cleanup_state >/dev/null 2>&1 || true
    exit 1
}

do_stop() {
    need_root
    if [[ ! -e "$D" ]]; then
        say "$name is not running (no $D)"
        return 0
    fi
    local t0; t0="$(date +%s%N)"
    cleanup_state || die "$name: stopped with problems (see above)"
    say "$name stopped and removed in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

do_env() {
    printf 'export %s=%q\n' "${prefix}_HOST" "$HOST"
    printf 'export %s=%q\n' "${prefix}_PIDFILE" "$PIDFILE"
    printf 'export %s=%q\n' "${prefix}_ROOT" "$DATAROOT"
    printf 'export %s=%q\n' "${prefix}_DIR" "$D"
    printf 'export %s=%q\n' "${prefix}_LOG" "$LOG"
    daemon_pid >/dev/null 2>&1 || printf '%s: warning: %s is not running\n' "$prog" "$name" >&2
    return 0
}

do_status() {
    local pid
    if pid="$(daemon_pid)"; then
        if ping_ok 3; then
            say "$name is running (pid $pid, $HOST, answers _ping)"
        else
            say "$name is running (pid $pid, $HOST) but does NOT answer _ping (hung or stopped?)"
        fi
        return 0
    fi
    say "$name is not running${D:+ ($D $( [[ -e $D ]] && echo 'has stale state' || echo 'absent'))}"
    return 3
}

# One command at a time per NAME.
if [[ "$cmd" == start || "$cmd" == stop || "$cmd" == restart ]]; then
    need_root
    mkdir -p "$ROOT/.locks"
    exec 9>"$ROOT/.locks/$name"
    flock -w 90 9 || die "another $prog is busy with $name"
fi

case "$cmd" in
    start) do_start ;;
    restart) do_restart ;;
    stop) do_stop ;;
    env) do_env ;;
    status) do_status ;;
esac
