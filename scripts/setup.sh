#!/usr/bin/env bash
# Installs what docker-watchdog's build, tests and demo need on Debian/Ubuntu. Idempotent: when
# everything is present it changes nothing (and needs no root).
#
#   scripts/setup.sh            install what is missing, check the Swift toolchain
#   scripts/setup.sh --check    only report what is missing (exit 1 if anything is)
#
# Packages: docker.io busybox-static libmicrohttpd-dev libgnutls28-dev libcrypt-dev openssl libcurl4-openssl-dev zlib1g-dev
#           libyaml-dev libnghttp2-dev prometheus curl iproute2 e2fsprogs pkg-config git ca-certificates
#           debootstrap (the image check's base) docker-compose (validates deploy/compose, deploy/swarm)
# docker.io is skipped when another Docker engine (docker-ce, moby-engine, a snap, a dockerd
# outside Debian's package) is present: the scripts then use that engine's dockerd.
# Services that apt would start (docker, containerd, prometheus) are kept from starting, and
# any that start anyway are stopped again: the tests run their own private daemons.
# apt's output goes to $WATCHDOG_SETUP_LOG (default /tmp/docker-watchdog-setup.log).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO_ROOT"
export PATH="$PATH:/usr/sbin:/sbin"

LOG="${WATCHDOG_SETUP_LOG:-/tmp/docker-watchdog-setup.log}"
SWIFT_HINT_DIR=/opt/swift/usr/bin

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

check_only=0
case "${1:-}" in
    "") ;;
    --check) check_only=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (use --check or nothing)" ;;
esac

# libgnutls28-dev, libcrypt-dev: TLS client-certificate checks and bcrypt (web config); openssl: test certificates.
BASE_PKGS=(chromium lintian dpkg-dev busybox-static libmicrohttpd-dev libgnutls28-dev libcrypt-dev openssl libcurl4-openssl-dev zlib1g-dev libyaml-dev libnghttp2-dev prometheus curl iproute2 python3-yaml python3-pytest podman runc tini
           e2fsprogs pkg-config git ca-certificates debootstrap docker-compose)

comm_of() { local c=""; { read -r c <"$1"; } 2>/dev/null || true; printf '%s' "$c"; }
is_installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]; }

# ---- 1. Which Docker engine? ------------------------------------------------------------------
# Prints a description of a Docker engine that is NOT Debian's docker.io, or nothing.
foreign_docker() {
    local p owner exe f
    for p in docker-ce docker-ee moby-engine docker-engine; do
        if is_installed "$p"; then echo "package $p"; return; fi
    done
    for p in $(type -ap dockerd 2>/dev/null) /usr/bin/dockerd /usr/sbin/dockerd /usr/local/bin/dockerd \
             /usr/local/sbin/dockerd /snap/bin/docker.dockerd; do
        [[ -e "$p" ]] || continue
        owner="$(dpkg-query -S "$(readlink -f "$p")" 2>/dev/null | cut -d: -f1 || true)"
        if [[ "$owner" != docker.io ]]; then echo "$p (${owner:-not from a Debian package})"; return; fi
    done
    for f in /proc/[0-9]*/comm; do
        [[ "$(comm_of "$f")" == dockerd ]] || continue
        exe="$(readlink -f "${f%/comm}/exe" 2>/dev/null || true)"
        [[ -n "$exe" ]] || continue
        owner="$(dpkg-query -S "$exe" 2>/dev/null | cut -d: -f1 || true)"
        if [[ "$owner" != docker.io ]]; then echo "running dockerd $exe (pid ${f//[^0-9]/})"; return; fi
    done
}

want=("${BASE_PKGS[@]}")
foreign="$(foreign_docker)"
if [[ -n "$foreign" ]]; then
    say "docker: found an existing Docker engine ($foreign); not installing docker.io, will use it"
elif is_installed docker.io; then
    :
else
    want=(docker.io "${want[@]}")
fi

missing=()
for p in "${want[@]}"; do is_installed "$p" || missing+=("$p"); done

# ---- 2. Install what is missing ---------------------------------------------------------------
# pids of daemons apt might start, so that new ones can be told apart afterwards
daemon_pids() {
    local f c exe cl
    for f in /proc/[0-9]*/comm; do
        c="$(comm_of "$f")"
        case "$c" in prometheus|dockerd|containerd) ;; *) continue ;; esac
        exe="$(readlink -f "${f%/comm}/exe" 2>/dev/null || true)"
        case "$exe" in /usr/bin/prometheus|/usr/sbin/dockerd|/usr/bin/containerd) ;; *) continue ;; esac
        # our private test daemons are not services
        cl="$(tr '\0' ' ' <"${f%/comm}/cmdline" 2>/dev/null || true)"
        [[ "$cl" == *docker-watchdog-test* ]] && continue
        echo "${f//[^0-9]/}"
    done
}

POLICY=/usr/sbin/policy-rc.d
POLICY_MARK="# docker-watchdog setup.sh: temporary, keeps apt from starting services"
remove_policy() {
    if [[ -f "$POLICY" ]] && grep -qF "$POLICY_MARK" "$POLICY" 2>/dev/null; then rm -f "$POLICY"; fi
}

if (( ${#missing[@]} == 0 )); then
    say "packages: all present"
elif (( check_only )); then
    say "packages missing: ${missing[*]}"
else
    [[ "$(id -u)" == 0 ]] || die "missing packages: ${missing[*]}. Installing them needs root: sudo $0"
    command -v apt-get >/dev/null || die "missing packages: ${missing[*]}, and there is no apt-get here; install them by hand"
    : >"$LOG"
    say "installing: ${missing[*]} (apt log: $LOG)"

    before="$(daemon_pids | sort)"
    # Keep postinst scripts from starting docker/containerd/prometheus services.
    if [[ ! -e "$POLICY" ]]; then
        printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" >"$POLICY"
        chmod 755 "$POLICY"
        trap remove_policy EXIT
    fi

    export DEBIAN_FRONTEND=noninteractive
    apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    say "apt-get update"
    apt-get update -q >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "apt-get update failed (log: $LOG)"; }
    say "apt-get install"
    apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 \
        || { tail -n 20 "$LOG" >&2; die "apt-get install failed (log: $LOG)"; }
    remove_policy
    trap - EXIT
    still=()
    for p in "${missing[@]}"; do is_installed "$p" || still+=("$p"); done
    (( ${#still[@]} == 0 )) || die "still missing after apt-get install: ${still[*]} (log: $LOG)"
    say "installed: ${missing[*]}"

    # ---- 3. Services apt started anyway -------------------------------------------------------
    stopped=()
    if [[ -d /run/systemd/system ]]; then
        units=()
        for p in "${missing[@]}"; do
            case "$p" in
                docker.io) units+=(docker.socket docker.service containerd.service) ;;
                prometheus) units+=(prometheus.service) ;;
            esac
        done
        for u in "${units[@]}"; do
            if systemctl is-active --quiet "$u" 2>/dev/null; then
                systemctl stop "$u" >>"$LOG" 2>&1 || true
                stopped+=("$u")
            fi
            # installed only for tests: do not start it at boot either
            systemctl disable "$u" >>"$LOG" 2>&1 || true
        done
        (( ${#units[@]} == 0 )) || say "services: disabled ${units[*]} (enable with systemctl enable --now … if you want them)"
    fi
    after="$(daemon_pids | sort)"
    new="$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -v '^$' || true)"
    for pid in $new; do
        name="$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')"
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 1 100); do [[ -d "/proc/$pid" ]] || break; sleep 0.1; done
        if [[ -d "/proc/$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
        stopped+=("$name($pid)")
    done
    if (( ${#stopped[@]} > 0 )); then
        say "services: stopped what apt started: ${stopped[*]}"
    else
        say "services: apt started none"
    fi
fi

# ---- 4. Report the Docker engine and the other tools ------------------------------------------
problems=()
if dockerd_path="$(command -v dockerd 2>/dev/null)"; then
    say "docker: $("$dockerd_path" --version 2>/dev/null | head -n1) ($dockerd_path)"
else
    problems+=("dockerd (apt-get install docker.io, or your Docker engine)")
fi
[[ -x /usr/bin/docker ]] || command -v docker >/dev/null || problems+=("docker client")
if [[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1; then :; else problems+=("static /bin/busybox (busybox-static)"); fi
for t in curl mkfs.ext4 losetup pkg-config git; do command -v "$t" >/dev/null || problems+=("$t"); done
if command -v pkg-config >/dev/null; then
    for pc in libmicrohttpd libcurl zlib yaml-0.1 libnghttp2; do pkg-config --exists "$pc" || problems+=("pkg-config $pc (dev package)"); done
fi
command -v prometheus >/dev/null || [[ -x /usr/bin/prometheus ]] || problems+=("prometheus")

# ---- 5. Swift ---------------------------------------------------------------------------------
if command -v swift >/dev/null; then
    say "swift: $(swift --version 2>/dev/null | grep -m1 -o 'Swift version [^ ]*' || echo '?') ($(command -v swift))"
elif [[ -x "$SWIFT_HINT_DIR/swift" ]]; then
    problems+=("swift on PATH: it is installed in $SWIFT_HINT_DIR; run: export PATH=$SWIFT_HINT_DIR:\$PATH")
else
    problems+=("swift: no Swift 6 toolchain found (not on PATH, not in $SWIFT_HINT_DIR); install one from https://swift.org/install")
fi

if (( ${#problems[@]} > 0 )); then
    for p in "${problems[@]}"; do printf 'setup: missing: %s\n' "$p" >&2; done
    exit 1
fi
if (( check_only )) && (( ${#missing[@]} > 0 )); then exit 1; fi
say "ready"
