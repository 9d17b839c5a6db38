#!/usr/bin/env bash
# A private, throw-away Docker daemon (or Podman serving the Docker API) for tests and demos.
#
#   scripts/test-dockerd.sh start  NAME [--engine ENGINE] [--loopfs SIZE_MB] [--logs-loopfs SIZE_MB]
#   scripts/test-dockerd.sh stop   NAME
#   scripts/test-dockerd.sh restart NAME
#   scripts/test-dockerd.sh env    NAME [--prefix VAR_PREFIX]
#   scripts/test-dockerd.sh status NAME
#   scripts/test-dockerd.sh healthcheck NAME CONTAINER
#
# ENGINE (default debian12; remembered in the state dir, so the other commands need no --engine):
#   debian12             the machine's docker.io: dockerd 20.10, API 1.41, client /usr/bin/docker 20.10
#   docker26             Debian 13's dockerd 26.1 + containerd 1.7
#   docker28             Debian testing/sid's dockerd 28.x + containerd 2.x, classic overlay2 image store
#   docker28-containerd  the same with the containerd image store (containerd-snapshotter)
#   podman4              the machine's podman 4.x, `podman system service` on the private socket
# Engines other than debian12 come from scripts/engines.sh's cache ($WATCHDOG_ENGINES_CACHE, default
# /var/cache/docker-watchdog-engines); start runs `engines.sh fetch ENGINE` when the cache lacks it.
# They are driven with Debian's Docker 28 client (docker-cli from testing/sid, in the cache) and a
# private DOCKER_CONFIG (for docker26/28 with the docker-buildx plugin, so `docker buildx build` and
# `docker buildx history ls` work; for podman4 without it, so `docker build` uses the legacy builder).
#
# `env` prints, besides the addresses: ${PREFIX}_ENGINE, ${PREFIX}_ENGINE_VERSION (the server's
# Version), ${PREFIX}_API_VERSION, ${PREFIX}_CLI (a docker client for this engine; run it with
# -H set to ${PREFIX}_HOST), ${PREFIX}_DOCKER_CONFIG (not for debian12: export it as DOCKER_CONFIG when
# running ${PREFIX}_CLI) and, for podman4, ${PREFIX}_PODMAN (a wrapper that runs podman on this
# instance's storage: --root/--runroot/--tmpdir, storage driver, cgroup manager, events backend).
#
# Health checks: Docker engines run them on their own. Podman schedules them with systemd timers,
# which these machines lack, so a test drives them: `healthcheck NAME CONTAINER` runs the check once
# and prints the container's resulting health status (starting, healthy, unhealthy: podman counts
# --health-retries, default 3, failed runs before unhealthy, like Docker). It is the libpod call
# GET /v4.0.0/libpod/containers/CONTAINER/healthcheck on the socket (podman 4.3 serves it as GET,
# later podman as POST), the same as `${PREFIX}_PODMAN healthcheck run CONTAINER`. On Docker
# engines it only prints the daemon's current status.
#
# Start waits up to $WATCHDOG_TEST_DOCKERD_TIMEOUT seconds (default 60) for _ping to answer OK.
# $WATCHDOG_TEST_DOCKERD_EXTRA_ARGS (optional, split on whitespace) is appended to dockerd's command
# line, e.g. "--metrics-addr 127.0.0.1:9323" for the benchmark; addresses must be loopback.
# (podman4 ignores it.)
# State lives in $WATCHDOG_TEST_ROOT/NAME (default /tmp/docker-watchdog-test/NAME):
#   docker.sock   the API socket            (DOCKER_HOST=unix://…/docker.sock; podman4 too)
#   root/         --data-root (podman4: --root) (a loop-mounted ext4 image with --loopfs)
#   exec/         --exec-root (the daemon's own containerd lives in exec/containerd)
#   run/ tmp/     podman4's --runroot and --tmpdir
#   docker.pid    dockerd's pidfile (podman4: the service's pid, written by this script)
#   dockerd.log   dockerd's (and its containerd's) output; podman4: the service's
#   engine.env    the engine, its binaries and the server version
#   docker-config/  private DOCKER_CONFIG (not for debian12)
#   podman, containers.conf, storage.conf, registries.conf   podman4's wrapper and private configuration
#
# Each daemon runs its own containerd (dockerd starts one per exec-root), has no bridge and no
# iptables rules (--bridge=none --iptables=false --ip6tables=false --ip-forward=false
# --ip-masq=false, a config file of its own, never /etc/docker/daemon.json), and gets a local
# `busybox:latest` image built from busybox-static. Podman runs with netns "none", file locks,
# cgroupfs and its own network config dir. Nothing is ever pulled. Containers and builds must use
# `--network none`.
#
# `stop` stops only what `start` started: the pid in the pidfile, and containerd/shim/conmon/podman
# processes whose command line names this daemon's own state directory (and the containers under
# them).
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"

prog="test-dockerd.sh"
say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $prog start  NAME [--engine ENGINE] [--loopfs SIZE_MB] [--logs-loopfs SIZE_MB]
       $prog stop   NAME
       $prog restart NAME                         (TERM the daemon by pid, start it again on the same state)
       $prog env    NAME [--prefix VAR_PREFIX]   (default prefix WATCHDOG_TEST_DOCKER)
       $prog status NAME                          (exit 0 running, 3 not running)
       $prog healthcheck NAME CONTAINER           (podman: run the health check once; prints the status)
ENGINE: debian12 (default), docker26, docker28, docker28-containerd, podman4
State: \${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}/NAME
EOF
    exit 2
}

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENGINES_SH="$SCRIPT_DIR/engines.sh"
KNOWN_ENGINES="debian12 docker26 docker28 docker28-containerd podman4"

[[ $# -ge 2 ]] || usage
cmd="$1"; name="$2"; shift 2
container=""
if [[ "$cmd" == healthcheck ]]; then
    [[ $# -ge 1 ]] || usage
    container="$1"; shift
fi
loopfs_mb=""
logs_loopfs_mb=""
prefix="WATCHDOG_TEST_DOCKER"
opt_engine=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --engine) [[ $# -ge 2 ]] || usage; opt_engine="$2"; shift 2 ;;
        --engine=*) opt_engine="${1#--engine=}"; shift ;;
        --loopfs) [[ $# -ge 2 ]] || usage; loopfs_mb="$2"; shift 2 ;;
        --loopfs=*) loopfs_mb="${1#--loopfs=}"; shift ;;
        --logs-loopfs) [[ $# -ge 2 ]] || usage; logs_loopfs_mb="$2"; shift 2 ;;
        --prefix) [[ $# -ge 2 ]] || usage; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        *) usage ;;
    esac
done
case "$cmd" in start|stop|restart|env|status|healthcheck) ;; *) usage ;; esac
if [[ -n "$opt_engine" && " $KNOWN_ENGINES " != *" $opt_engine "* ]]; then
    die "unknown engine '$opt_engine' (one of: $KNOWN_ENGINES)"
fi
[[ -z "$container" || "$container" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad CONTAINER '$container'"
[[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad NAME '$name' (letters, digits, _ . - only)"
if [[ -n "$loopfs_mb" ]]; then
    [[ "$cmd" == start ]] || die "--loopfs only goes with start"
    [[ "$loopfs_mb" =~ ^[0-9]+$ && "$loopfs_mb" -ge 64 ]] || die "--loopfs wants a size in MB, at least 64 (got '$loopfs_mb')"
fi
[[ "$prefix" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad --prefix '$prefix'"
read -r -a EXTRA_ARGS <<<"${WATCHDOG_TEST_DOCKERD_EXTRA_ARGS:-}"
# A TCP listener is allowed on 127.0.0.1 only, as `-H tcp://127.0.0.1:PORT` (the TLS test's daemon).
n_extra=${#EXTRA_ARGS[@]}
for ((i = 0; i < n_extra; i++)); do
    a="${EXTRA_ARGS[$i]}"
    if [[ "$a" == -H && $((i + 1)) -lt $n_extra && "${EXTRA_ARGS[$((i + 1))]}" =~ ^tcp://127\.0\.0\.1:[0-9]+$ ]]; then
        i=$((i + 1))
        continue
    fi
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
RUNROOT="$D/run"
PTMPDIR="$D/tmp"
IMG="$D/root.img"
ENGINE_ENV="$D/engine.env"
CONFIG_DIR="$D/docker-config"
PODMAN_WRAPPER="$D/podman"

# unix socket paths are limited to 107 bytes; containerd's debug socket is the longest one.
longest="$EXECROOT/containerd/containerd-debug.sock"
(( ${#longest} <= 100 )) || die "state path too long for unix sockets: $longest (shorten WATCHDOG_TEST_ROOT)"

# ---- the engine -------------------------------------------------------------------------------
# Variables that describe an engine (from engines.sh paths, kept in $ENGINE_ENV):
#   ENGINE ENGINE_KIND(dockerd|podman) ENGINE_DAEMON ENGINE_PATH ENGINE_CLI ENGINE_BUILDX
#   ENGINE_SNAPSHOTTER ENGINE_PACKAGES, and after start ENGINE_VERSION ENGINE_API
debian12_engine() {
    ENGINE=debian12
    ENGINE_KIND=dockerd
    ENGINE_DAEMON="$(command -v dockerd || true)"
    ENGINE_PATH=""
    ENGINE_CLI=/usr/bin/docker
    [[ -x "$ENGINE_CLI" ]] || ENGINE_CLI="$(command -v docker || true)"
    ENGINE_BUILDX=""
    ENGINE_SNAPSHOTTER=""
    ENGINE_PACKAGES=""
    ENGINE_VERSION=""
    ENGINE_API=""
}
# The engine recorded in the state dir; debian12 when there is none (a daemon of an older script).
load_recorded_engine() {
    debian12_engine
    if [[ -r "$ENGINE_ENV" ]]; then
        # shellcheck disable=SC1090
        . "$ENGINE_ENV"
    fi
    [[ " $KNOWN_ENGINES " == *" $ENGINE "* ]] || die "$ENGINE_ENV names an unknown engine '$ENGINE'"
    set_cli
}
set_cli() {
    DOCKER_CLI="$ENGINE_CLI"
    # A cache that went away: Debian's 20.10 client also speaks to 26/28 and podman (API 1.41).
    if [[ -z "$DOCKER_CLI" || ! -x "$DOCKER_CLI" ]]; then
        DOCKER_CLI=/usr/bin/docker
        [[ -x "$DOCKER_CLI" ]] || DOCKER_CLI="$(command -v docker || true)"
    fi
}
load_recorded_engine
if [[ -n "$opt_engine" && "$cmd" != start && -e "$D" && "$opt_engine" != "$ENGINE" ]]; then
    die "$name runs engine $ENGINE, not $opt_engine"
fi

# The docker client for this engine as a command (an array, so that `timeout` can run it too).
dk_argv() {
    DK=(env -u DOCKER_HOST -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY)
    [[ "$ENGINE" == debian12 ]] || DK+=("DOCKER_CONFIG=$CONFIG_DIR")
    DK+=("$DOCKER_CLI" -H "$HOST")
}
dk() { local DK; dk_argv; "${DK[@]}" "$@"; }
ping_ok() { [[ -S "$SOCK" ]] && [[ "$(curl -s --max-time "${1:-2}" --unix-socket "$SOCK" http://d/_ping 2>/dev/null || true)" == "OK" ]]; }

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# The dockerd pid if it is running and really is this NAME's daemon (guards against pid reuse).
daemon_pid() {
    local f p
    for f in "$PIDFILE" "$LAUNCHPID"; do
        [[ -r "$f" ]] || continue
        p="$(tr -dc '0-9' <"$f")"
        [[ -n "$p" ]] || continue
        if alive "$p"; then
            local cl; cl="$(cmdline_of "$p")"
            # dockerd of this NAME, or podman's API service of this NAME
            if [[ "$cl" == *"--exec-root $EXECROOT "* ]] \
               || [[ "$cl" == *"--runroot $RUNROOT "* && "$cl" == *" system service "* ]]; then
                echo "$p"; return 0
            fi
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

# Pids of leftover containerd / shim / runc / conmon / podman processes that belong to this state dir.
leftover_pids() {
    local f p
    for f in /proc/[0-9]*; do
        p="${f#/proc/}"
        case "$(proc_comm "$p")" in
            dockerd|containerd|containerd-shim*|runc|docker-init|docker-proxy|conmon|podman) ;;
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
    case "$ENGINE" in
        debian12)
            DOCKERD="$(command -v dockerd || true)"
            [[ -n "$DOCKERD" ]] || die "dockerd is not installed (run scripts/setup.sh, or: apt-get install docker.io)"
            [[ -n "$DOCKER_CLI" && -x "$DOCKER_CLI" ]] || die "no docker client found (/usr/bin/docker; run scripts/setup.sh)"
            command -v containerd >/dev/null || [[ -x "$(dirname "$DOCKERD")/containerd" ]] \
                || die "containerd is not installed (it comes with docker.io; run scripts/setup.sh)"
            ;;
        docker26|docker28|docker28-containerd)
            DOCKERD="$ENGINE_DAEMON"
            [[ -x "$DOCKERD" ]] || die "$ENGINE: $DOCKERD is missing (run: $ENGINES_SH fetch --refresh $ENGINE)"
            [[ -x "$ENGINE_PATH/containerd" && -x "$ENGINE_PATH/runc" && -x "$ENGINE_PATH/docker-init" ]] \
                || die "$ENGINE: $ENGINE_PATH lacks containerd, runc or docker-init (runc and tini are the machine's: apt-get install runc tini)"
            [[ -x "$DOCKER_CLI" ]] || die "$ENGINE: no docker client ($ENGINE_CLI)"
            # dockerd uses a containerd at the default address instead of starting its own.
            [[ ! -e /run/containerd/containerd.sock ]] \
                || die "$ENGINE: /run/containerd/containerd.sock exists: dockerd would use the machine's containerd instead of its own (stop that containerd first)"
            ;;
        podman4)
            DOCKERD="$ENGINE_DAEMON"
            [[ -x "$DOCKERD" ]] || die "podman4: $DOCKERD is missing (apt-get install podman)"
            command -v conmon >/dev/null || die "podman4: conmon is missing (apt-get install podman)"
            [[ -x /usr/sbin/runc ]] || command -v crun >/dev/null || die "podman4: no OCI runtime (apt-get install runc)"
            [[ -x "$DOCKER_CLI" ]] || die "podman4: no docker client ($ENGINE_CLI)"
            ;;
    esac
    command -v curl >/dev/null || die "curl is not installed (run scripts/setup.sh)"
    [[ -x /bin/busybox ]] || die "/bin/busybox is missing (run scripts/setup.sh, or: apt-get install busybox-static)"
    if ldd /bin/busybox >/dev/null 2>&1; then
        die "/bin/busybox is dynamically linked; the test image needs the static one (apt-get install busybox-static)"
    fi
    if [[ -n "$loopfs_mb$logs_loopfs_mb" ]]; then
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
            local DK; dk_argv
            running="$(timeout 10 "${DK[@]}" ps -q 2>/dev/null || true)"
            if [[ -n "$running" ]]; then
                # shellcheck disable=SC2086
                timeout 15 "${DK[@]}" kill $running >/dev/null 2>&1 || true
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
            containerd-shim*|conmon)
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
    if [[ -d "$DATAROOT/overlay-containers" ]]; then       # podman
        for m in "$DATAROOT"/overlay-containers/*; do [[ -d "$m" ]] && ids+=("${m##*/}"); done
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

    # Loop devices of --loopfs and --logs-loopfs (normally auto-cleared by umount).
    local img
    for img in "$IMG" "$D/logs.img"; do
        if [[ -e "$img" ]] && command -v losetup >/dev/null; then
            local dev
            for dev in $(losetup -j "$img" 2>/dev/null | cut -d: -f1); do
                losetup -d "$dev" 2>/dev/null || { say "cannot detach $dev"; ok=1; }
            done
        fi
    done

    # Empty cgroups left behind by containers whose runtime was killed.
    local id cg
    for id in "${ids[@]}"; do
        for cg in /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/docker/"$id" /sys/fs/cgroup/system.slice/docker-"$id".scope \
                  /sys/fs/cgroup/*/libpod_parent/libpod-"$id" /sys/fs/cgroup/libpod_parent/libpod-"$id" \
                  /sys/fs/cgroup/*/libpod_parent/libpod-conmon-"$id" /sys/fs/cgroup/libpod_parent/libpod-conmon-"$id"; do
            if [[ -d "$cg" ]]; then rmdir "$cg"/* 2>/dev/null || true; rmdir "$cg" 2>/dev/null || true; fi
        done
        # podman runs runc with its default state root (/run/runc): drop the state of our containers
        if [[ -f /run/runc/"$id"/state.json ]] && grep -qF "\"$D/" /run/runc/"$id"/state.json 2>/dev/null; then
            rm -rf --one-file-system /run/runc/"$id"
        fi
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
# podman4's private configuration and the wrapper that runs podman on this instance's storage.
podman_flags() {
    printf '%s\n' --root "$DATAROOT" --runroot "$RUNROOT" --tmpdir "$PTMPDIR" --storage-driver overlay \
        --cgroup-manager cgroupfs --events-backend file --network-config-dir "$D/networks" --volumepath "$DATAROOT/volumes"
}
write_podman_config() {
    local nofile nproc ul=""
    nofile="$(ulimit -Hn)"; nproc="$(ulimit -Hu)"
    # root here lacks CAP_SYS_RESOURCE: podman's default nofile=1048576 would fail every start.
    # podman 4 also lowers its own RLIMIT_NPROC to 32768 at start-up, and a container cannot get more.
    if [[ "$nproc" == unlimited ]] || { [[ "$nproc" =~ ^[0-9]+$ ]] && (( nproc > 32768 )); }; then nproc=32768; fi
    [[ "$nofile" =~ ^[0-9]+$ ]] && ul+="\"nofile=$nofile:$nofile\""
    [[ "$nproc" =~ ^[0-9]+$ ]] && ul+="${ul:+, }\"nproc=$nproc:$nproc\""
    mkdir -p "$RUNROOT" "$PTMPDIR" "$D/networks" "$DATAROOT"
    cat >"$D/containers.conf" <<CONF
# podman4 test engine $name: written by $prog
[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = [$ul]

[network]
network_config_dir = "$D/networks"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PTMPDIR/events/events.log"
lock_type = "file"
runtime = "runc"
tmp_dir = "$PTMPDIR"
image_copy_tmp_dir = "$PTMPDIR"
volume_path = "$DATAROOT/volumes"
static_dir = "$DATAROOT/libpod"
CONF
    cat >"$D/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$DATAROOT"
runroot = "$RUNROOT"
CONF
    # Short names never resolve to a registry: nothing is ever pulled.
    printf 'unqualified-search-registries = []\n' >"$D/registries.conf"
    local f flags=""
    while IFS= read -r f; do flags+=" $(printf '%q' "$f")"; done < <(podman_flags)
    cat >"$PODMAN_WRAPPER" <<WRAP
#!/bin/sh
# podman on the storage of test engine $name ($D), written by $prog
export CONTAINERS_CONF=$D/containers.conf CONTAINERS_STORAGE_CONF=$D/storage.conf CONTAINERS_REGISTRIES_CONF=$D/registries.conf DISABLE_HC_SYSTEMD=true
exec $ENGINE_DAEMON$flags "\$@"
WRAP
    chmod 755 "$PODMAN_WRAPPER"
}

# Writes the daemon's configuration (once per state dir).
write_engine_config() {
    case "$ENGINE" in
        debian12)
            # Own config file: never read /etc/docker/daemon.json; keep the trust key out of /etc/docker.
            printf '{\n  "deprecated-key-path": "%s"\n}\n' "$D/key.json" >"$D/daemon.json" ;;
        docker26|docker28|docker28-containerd)
            # Own config file: never read /etc/docker/daemon.json. The image store is chosen here.
            printf '{\n  "features": { "containerd-snapshotter": %s }\n}\n' "${ENGINE_SNAPSHOTTER:-false}" >"$D/daemon.json" ;;
        podman4)
            write_podman_config ;;
    esac
    if [[ "$ENGINE" != debian12 ]]; then
        mkdir -p "$CONFIG_DIR/cli-plugins"
        [[ -z "$ENGINE_BUILDX" ]] || ln -sfn "$ENGINE_BUILDX" "$CONFIG_DIR/cli-plugins/docker-buildx"
    fi
}

# Launches the daemon on the state of $D and waits until it answers _ping.
launch_and_wait() {
    # The daemon must not inherit the caller's descriptors (a test runner's sockets and pipes would
    # stay open for the daemon's whole life), so close everything above stderr first.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            if (( fd > 2 )); then eval "exec ${fd}>&-" 2>/dev/null || true; fi
        done
        case "$ENGINE_KIND" in
            dockerd)
                # docker26/28: containerd, its shim, runc and docker-init come from $ENGINE_PATH
                if [[ -n "$ENGINE_PATH" ]]; then export PATH="$ENGINE_PATH:$PATH"; fi
                exec setsid "$DOCKERD" \
                --config-file "$D/daemon.json" \
                --host "$HOST" \
                --data-root "$DATAROOT" \
                --exec-root "$EXECROOT" \
                --pidfile "$PIDFILE" \
                --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
                ${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"} \
                >>"$LOG" 2>&1 </dev/null ;;
            podman)
                local flags
                mapfile -t flags < <(podman_flags)
                export CONTAINERS_CONF="$D/containers.conf" CONTAINERS_STORAGE_CONF="$D/storage.conf" \
                       CONTAINERS_REGISTRIES_CONF="$D/registries.conf" DISABLE_HC_SYSTEMD=true
                # --log-level info, not debug: debug adds --syslog to the containers' exit command,
                # which fails without /dev/log (exited containers then stay "stopped").
                exec setsid "$DOCKERD" "${flags[@]}" --log-level info system service --time=0 "$HOST" \
                >>"$LOG" 2>&1 </dev/null ;;
        esac
    ) &
    echo "$!" >"$LAUNCHPID"
    local lpid="$!"
    local deadline=$(( $(date +%s) + START_TIMEOUT ))
    until ping_ok 2; do
        if ! alive "$lpid" && ! daemon_pid >/dev/null; then
            start_failed "$ENGINE_KIND exited during start-up"
        fi
        (( $(date +%s) < deadline )) || start_failed "$ENGINE_KIND did not answer _ping within $START_TIMEOUT s"
        sleep 0.2
    done
    # podman has no pidfile of its own: the launch pid is the service (setsid exec'd it).
    if [[ "$ENGINE_KIND" == podman ]]; then echo "$lpid" >"$PIDFILE"; fi
}

# GET path on the socket; prints the body.
api_get() { curl -s --max-time "${2:-5}" --unix-socket "$SOCK" "http://d$1"; }

json_field() { # json key... -> value of the first key found at the top level
    if command -v python3 >/dev/null; then
        python3 -c 'import json, sys
d = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    if isinstance(d, dict) and k in d and d[k] is not None:
        print(d[k]); break' "$@" 2>/dev/null || true
    else
        local k="$2"
        printf '%s' "$1" | grep -o "\"$k\":\"[^\"]*\"" | tail -n1 | sed 's/.*:"\(.*\)"/\1/'
    fi
}

# Records the server's version and API version in $ENGINE_ENV.
record_version() {
    local v
    v="$(api_get /version 5 || true)"
    ENGINE_VERSION="$(json_field "$v" Version)"
    ENGINE_API="$(json_field "$v" ApiVersion)"
    save_engine_env
}

save_engine_env() {
    local k
    {
        echo "# engine of test daemon $name, written by $prog"
        for k in ENGINE ENGINE_KIND ENGINE_DAEMON ENGINE_PATH ENGINE_CLI ENGINE_BUILDX ENGINE_SNAPSHOTTER ENGINE_PACKAGES ENGINE_VERSION ENGINE_API; do
            printf '%s=%q\n' "$k" "${!k}"
        done
    } >"$ENGINE_ENV.tmp"
    mv "$ENGINE_ENV.tmp" "$ENGINE_ENV"
}

# Sets the ENGINE_* variables for starting $1, fetching the engine first if the cache lacks it.
resolve_engine() {
    local e="$1" paths
    if [[ "$e" == debian12 ]]; then debian12_engine; set_cli; return 0; fi
    [[ -x "$ENGINES_SH" ]] || die "$ENGINES_SH is missing"
    if ! paths="$("$ENGINES_SH" paths "$e" 2>/dev/null)"; then
        say "$e is not in the engine cache; fetching it"
        local t0; t0="$(date +%s%N)"
        "$ENGINES_SH" fetch "$e" || die "could not fetch engine $e"
        FETCH_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
        paths="$("$ENGINES_SH" paths "$e")" || die "engine $e is still not in the cache after fetching it"
    fi
    ENGINE_VERSION=""; ENGINE_API=""
    eval "$paths"
    [[ "$ENGINE" == "$e" ]] || die "engines.sh paths $e described '$ENGINE'"
    set_cli
}

# Stops the daemon (TERM, by its pid) and starts it again on the same data root: containers with a
# restart policy come back (podman's keep running under conmon), the events stream of every client
# breaks. For reconnect tests.
do_restart() {
    need_root
    check_tools
    local pid
    pid="$(daemon_pid)" || die "$name is not running"
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid"
    wait_gone "$pid" 30 || die "$name: $ENGINE_KIND $pid did not stop within 30 s"
    local t0; t0="$(date +%s%N)"
    launch_and_wait
    say "$name restarted: $HOST (engine $ENGINE, pid $(daemon_pid || echo '?'), answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
}

do_start() {
    need_root
    mkdir -p "$ROOT"
    local pid want="${opt_engine:-debian12}"
    if pid="$(daemon_pid)"; then
        [[ "$want" == "$ENGINE" ]] || die "$name already runs engine $ENGINE (pid $pid), not $want (stop it first: $0 stop $name)"
        check_tools
        if ping_ok 5; then
            say "$name already running (engine $ENGINE, pid $pid, $HOST)"
            make_busybox_image
            return 0
        fi
        die "$name: $ENGINE_KIND $pid exists but does not answer on $SOCK (stop it first: $0 stop $name)"
    fi
    if [[ -e "$D" ]]; then
        say "$name: removing stale state in $D"
        cleanup_state || die "could not clean stale state in $D"
    fi

    FETCH_MS=""
    resolve_engine "$want"
    check_tools
    local t0; t0="$(date +%s%N)"
    mkdir -p "$DATAROOT" "$EXECROOT"
    if [[ -n "$loopfs_mb" ]]; then
        truncate -s "${loopfs_mb}M" "$IMG"
        mkfs.ext4 -q -F -m 0 -L "dwt-$name" "$IMG"
        mount -o loop "$IMG" "$DATAROOT"
        echo "$loopfs_mb" >"$D/loopfs.mb"
    fi
    if [[ -n "$logs_loopfs_mb" ]]; then
        # The containers' directory (their json-file logs) on a filesystem of its own.
        [[ "$logs_loopfs_mb" =~ ^[0-9]+$ && "$logs_loopfs_mb" -ge 64 ]] || die "--logs-loopfs wants a size in MB, at least 64"
        truncate -s "${logs_loopfs_mb}M" "$D/logs.img"
        mkfs.ext4 -q -F -m 0 -L "dwt-$name-logs" "$D/logs.img"
        mkdir -p "$DATAROOT/containers"
        mount -o loop "$D/logs.img" "$DATAROOT/containers"
    fi
    save_engine_env
    write_engine_config
    if [[ "$ENGINE_KIND" == podman && ${#EXTRA_ARGS[@]} -gt 0 ]]; then
        say "podman4: ignoring WATCHDOG_TEST_DOCKERD_EXTRA_ARGS (${EXTRA_ARGS[*]})"
    fi

    launch_and_wait
    local t1; t1="$(date +%s%N)"
    record_version
    make_busybox_image || start_failed "could not import the busybox image"
    local t2; t2="$(date +%s%N)"
    say "$name up: $HOST (engine $ENGINE ${ENGINE_VERSION:-?}, API ${ENGINE_API:-?}, pid $(daemon_pid || echo "?"), data-root $DATAROOT${loopfs_mb:+ on a ${loopfs_mb} MB ext4 loop fs}; ${FETCH_MS:+fetched in $FETCH_MS ms, }ping after $(( (t1 - t0) / 1000000 )) ms, ready after $(( (t2 - t0) / 1000000 )) ms)"
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
    local running=0 v
    daemon_pid >/dev/null 2>&1 && running=1
    if [[ -z "$ENGINE_VERSION" ]] && (( running )); then      # a daemon of an older script
        v="$(api_get /version 3 || true)"
        ENGINE_VERSION="$(json_field "$v" Version)"; ENGINE_API="$(json_field "$v" ApiVersion)"
    fi
    printf 'export %s=%q\n' "${prefix}_ENGINE" "$ENGINE"
    printf 'export %s=%q\n' "${prefix}_ENGINE_VERSION" "$ENGINE_VERSION"
    printf 'export %s=%q\n' "${prefix}_API_VERSION" "$ENGINE_API"
    printf 'export %s=%q\n' "${prefix}_CLI" "$DOCKER_CLI"
    if [[ "$ENGINE" != debian12 ]]; then
        printf 'export %s=%q\n' "${prefix}_DOCKER_CONFIG" "$CONFIG_DIR"
    fi
    if [[ "$ENGINE_KIND" == podman ]]; then
        printf 'export %s=%q\n' "${prefix}_PODMAN" "$PODMAN_WRAPPER"
    fi
    (( running )) || printf '%s: warning: %s is not running\n' "$prog" "$name" >&2
    return 0
}

do_status() {
    local pid
    if pid="$(daemon_pid)"; then
        if ping_ok 3; then
            say "$name is running (engine $ENGINE${ENGINE_VERSION:+ $ENGINE_VERSION}, pid $pid, $HOST, answers _ping)"
        else
            say "$name is running (engine $ENGINE, pid $pid, $HOST) but does NOT answer _ping (hung or stopped?)"
        fi
        return 0
    fi
    say "$name is not running${D:+ ($D $( [[ -e $D ]] && echo 'has stale state' || echo 'absent'))}"
    return 3
}

# Podman: runs CONTAINER's health check once (libpod API), then prints the container's health
# status. Docker engines schedule their checks themselves: only prints the current status.
do_healthcheck() {
    daemon_pid >/dev/null || die "$name is not running"
    local out code status
    if [[ "$ENGINE_KIND" == podman ]]; then
        # podman 4.3 serves it as GET (later podman as POST: try that on 405). The answer is this
        # run's result; the container turns unhealthy only after --health-retries failed runs.
        local method
        for method in GET POST; do
            out="$(curl -s --max-time 60 --unix-socket "$SOCK" -w '\n%{http_code}' -X "$method" \
                   "http://d/v4.0.0/libpod/containers/$container/healthcheck")" || die "healthcheck $container: no answer from $SOCK"
            code="${out##*$'\n'}"; out="${out%$'\n'*}"
            [[ "$code" == 405 ]] || break
        done
        [[ "$code" == 200 ]] || die "healthcheck $container: HTTP $code: $(json_field "$out" message cause)"
    fi
    out="$(curl -s --max-time 10 --unix-socket "$SOCK" -w '\n%{http_code}' "http://d/containers/$container/json")" \
        || die "inspect $container: no answer from $SOCK"
    code="${out##*$'\n'}"; out="${out%$'\n'*}"
    [[ "$code" == 200 ]] || die "inspect $container: HTTP $code: $(json_field "$out" message)"
    if command -v python3 >/dev/null; then
        status="$(python3 -c 'import json, sys
h = (json.loads(sys.argv[1]).get("State") or {}).get("Health") or {}
print(h.get("Status", ""))' "$out" 2>/dev/null || true)"
    else
        status="$(printf '%s' "$out" | grep -o '"Health":{"Status":"[^"]*"' | sed 's/.*:"\(.*\)"/\1/')"
    fi
    [[ -n "$status" ]] || die "$container has no health check"
    echo "$status"
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
    healthcheck) do_healthcheck ;;
esac
