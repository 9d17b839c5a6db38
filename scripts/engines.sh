#!/usr/bin/env bash
# Newer container engines for the test bed, from Debian's own archive, kept in a private cache.
#
#   scripts/engines.sh fetch [--refresh] [ENGINE...]   download + extract what ENGINE needs (default: all)
#   scripts/engines.sh paths ENGINE                     shell assignments for a cached ENGINE (exit 3 if not cached)
#   scripts/engines.sh list                             engines, and what the cache holds
#
# ENGINE is one of
#   debian12             the machine's docker.io 20.10 (API 1.41): nothing to fetch
#   docker26             Debian 13 (trixie) docker.io 26.1.x + containerd 1.7.x
#   docker28             Debian testing/sid docker.io 28.x + containerd 2.x (classic overlay2 image store)
#   docker28-containerd  the same binaries, run with the containerd image store
#   podman4              the machine's podman 4.x (apt-get install podman); only the client is fetched
# docker26, docker28* and podman4 also get a Docker 28 client (docker-cli) and docker-buildx from
# testing/sid. Packages come through a private apt configuration (own sources.list, lists, cache
# and an empty dpkg status) and are extracted with dpkg-deb -x: nothing is installed on the
# machine, its apt sources and package database are not touched. Still needed from the machine:
# runc (/usr/sbin/runc: testing's runc 1.3 needs glibc 2.38) and tini (/usr/bin/tini-static, as
# docker-init); podman4 needs the podman package.
#
# Testing and sid move: fetch looks at what each suite has today, takes the first suite (in the
# order below) whose versions fit, prints exactly what it got from where, and fails with what each
# suite had when none fits. A cached engine is kept until `fetch --refresh`.
#
# Environment:
#   WATCHDOG_ENGINES_CACHE    cache directory (default /var/cache/docker-watchdog-engines)
#   WATCHDOG_ENGINES_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   WATCHDOG_ENGINES_SUITES_DOCKER26, _DOCKER28, _CLI   suites to try, in order
#                             (defaults: "trixie", "forky sid", "forky sid")
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

prog="engines.sh"
say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

CACHE="${WATCHDOG_ENGINES_CACHE:-/var/cache/docker-watchdog-engines}"
[[ "$CACHE" == /* ]] || CACHE="$PWD/$CACHE"
CACHE="${CACHE%/}"
MIRROR="${WATCHDOG_ENGINES_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SYS_RUNC=/usr/sbin/runc
SYS_TINI=/usr/bin/tini-static
SYS_PODMAN=/usr/bin/podman

TMPDIR_TO_CLEAN=""
trap '[[ -z "$TMPDIR_TO_CLEAN" ]] || rm -rf "$TMPDIR_TO_CLEAN"' EXIT

ALL_ENGINES=(debian12 docker26 docker28 docker28-containerd podman4)

usage() {
    sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---- what each engine is made of ---------------------------------------------------------------
# component  suites                      packages (name=version glob)
component_suites() {
    case "$1" in
        docker26) echo "${WATCHDOG_ENGINES_SUITES_DOCKER26:-trixie}" ;;
        docker28) echo "${WATCHDOG_ENGINES_SUITES_DOCKER28:-forky sid}" ;;
        cli28)    echo "${WATCHDOG_ENGINES_SUITES_CLI:-forky sid}" ;;
    esac
}
suites_var() { case "$1" in docker26) echo DOCKER26 ;; docker28) echo DOCKER28 ;; cli28) echo CLI ;; esac; }
component_packages() {
    case "$1" in
        docker26) echo "docker.io=26.1.* containerd=1.7.*" ;;
        docker28) echo "docker.io=28.* containerd=2.*" ;;
        cli28)    echo "docker-cli=28.* docker-buildx=*" ;;
    esac
}
# components an engine needs from the archive
engine_components() {
    case "$1" in
        debian12) ;;
        docker26) echo "docker26 cli28" ;;
        docker28|docker28-containerd) echo "docker28 cli28" ;;
        podman4) echo "cli28" ;;
        *) return 1 ;;
    esac
}
valid_engine() { local e; for e in "${ALL_ENGINES[@]}"; do [[ "$e" == "$1" ]] && return 0; done; return 1; }

# ---- private apt -------------------------------------------------------------------------------
apt_opts() { # suite -> the -o options of a private apt for that suite
    local A="$CACHE/apt/$1"
    printf '%s\n' \
        -o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=/dev/null" \
        -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null" \
        -o "Dir::State::Lists=$A/lists" -o "Dir::State::status=/dev/null" \
        -o "Dir::Cache=$A/cache" -o "APT::Default-Release=" -o "APT::Sandbox::User=root" \
        -o "APT::Architecture=$(dpkg --print-architecture)" -o "APT::Architectures::=$(dpkg --print-architecture)"
}

declare -A UPDATED=()
apt_update() { # suite
    local s="$1" A="$CACHE/apt/$1" o
    [[ -n "${UPDATED[$s]:-}" ]] && return 0
    mkdir -p "$A/lists/partial" "$A/cache/archives/partial"
    printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$s" >"$A/sources.list"
    mapfile -t o < <(apt_opts "$s")
    if ! apt-get "${o[@]}" -q update >"$A/update.log" 2>&1; then
        sed 's/^/  | /' "$A/update.log" >&2
        die "apt-get update of suite '$s' from $MIRROR failed (log above)"
    fi
    if grep -qE '^(E:|W: (Failed|Some index))' "$A/update.log"; then
        sed 's/^/  | /' "$A/update.log" >&2
        die "apt-get update of suite '$s' from $MIRROR reported errors (log above)"
    fi
    UPDATED[$s]=1
}

candidate() { # suite package -> the suite's version of package, or nothing
    local o v
    mapfile -t o < <(apt_opts "$1")
    v="$(apt-cache "${o[@]}" policy "$2" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')"
    [[ -n "$v" && "$v" != "(none)" ]] && printf '%s' "$v"
    return 0
}

upstream_of() { # 1:28.5.2+dfsg4-5 -> 28.5.2+dfsg4
    local v="${1#*:}"; printf '%s' "${v%-*}"
}

# ---- fetching one component --------------------------------------------------------------------
manifest_line() { # component key -> value from its MANIFEST
    awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$CACHE/$1/MANIFEST" 2>/dev/null || true
}

component_ok() { # component -> 0 if cached and complete
    local c="$1" d="$CACHE/$1"
    [[ -f "$d/MANIFEST" ]] || return 1
    case "$c" in
        docker26|docker28) [[ -x "$d/bin/dockerd" && -x "$d/bin/containerd" && -x "$d/bin/containerd-shim-runc-v2" ]] ;;
        cli28) [[ -x "$d/bin/docker" && -x "$d/cli-plugins/docker-buildx" ]] ;;
        *) return 1 ;;
    esac
}

describe_component() { # component -> one line about what is cached
    local c="$1" p out=""
    for p in $(component_packages "$c"); do
        p="${p%%=*}"
        out+="${out:+, }$p $(manifest_line "$c" "pkg:$p")"
    done
    printf '%s from %s (%s), fetched %s' "$out" "$(manifest_line "$c" suite)" "$(manifest_line "$c" mirror)" "$(manifest_line "$c" fetched)"
}

fetch_component() { # component refresh(0|1)
    local c="$1" refresh="$2"
    if (( ! refresh )) && component_ok "$c"; then
        say "$c: cached: $(describe_component "$c") in $CACHE/$c"
        return 0
    fi
    command -v apt-get >/dev/null || die "apt-get is needed to fetch $c"
    command -v dpkg-deb >/dev/null || die "dpkg-deb is needed to fetch $c"
    [[ -r "$KEYRING" ]] || die "$KEYRING is missing (apt-get install debian-archive-keyring)"

    local suites suite pkgs spec name glob v chosen="" report=""
    suites="$(component_suites "$c")"
    pkgs="$(component_packages "$c")"
    declare -A ver=()
    for suite in $suites; do
        apt_update "$suite"
        local fits=1 line=""
        for spec in $pkgs; do
            name="${spec%%=*}"; glob="${spec#*=}"
            v="$(candidate "$suite" "$name")"
            if [[ -z "$v" ]]; then
                line+=" $name: none;"; fits=0
            else
                # shellcheck disable=SC2053
                if [[ "$(upstream_of "$v")" == $glob ]]; then line+=" $name $v;"; else line+=" $name $v (want $glob);"; fits=0; fi
                ver[$suite/$name]="$v"
            fi
        done
        report+="  $suite:${line%;}"$'\n'
        if (( fits )); then chosen="$suite"; break; fi
    done
    if [[ -z "$chosen" ]]; then
        printf '%s: error: %s: no suite has the packages it needs (%s). What the suites have today:\n%s' \
            "$prog" "$c" "$pkgs" "$report" >&2
        printf '%s: the engine may have left these suites; set WATCHDOG_ENGINES_SUITES_%s to other suites, or update scripts/engines.sh\n' \
            "$prog" "$(suites_var "$c")" >&2
        exit 1
    fi

    local tmp="$CACHE/.$c.tmp.$$" o debs=()
    rm -rf "$tmp"; mkdir -p "$tmp/debs" "$tmp/x"
    TMPDIR_TO_CLEAN="$tmp"
    mapfile -t o < <(apt_opts "$chosen")
    local want=()
    for spec in $pkgs; do name="${spec%%=*}"; want+=("$name=${ver[$chosen/$name]}"); done
    if ! (cd "$tmp/debs" && apt-get "${o[@]}" -q download "${want[@]}") >"$tmp/download.log" 2>&1; then
        sed 's/^/  | /' "$tmp/download.log" >&2
        rm -rf "$tmp"
        die "$c: apt-get download ${want[*]} from $chosen failed (log above)"
    fi
    local f
    for spec in $pkgs; do
        name="${spec%%=*}"
        f="$(ls "$tmp/debs/${name}_"*.deb 2>/dev/null | head -n1 || true)"
        [[ -n "$f" ]] || { rm -rf "$tmp"; die "$c: apt-get download gave no .deb for $name"; }
        [[ "$(dpkg-deb -f "$f" Version)" == "${ver[$chosen/$name]}" ]] \
            || { rm -rf "$tmp"; die "$c: $f is not version ${ver[$chosen/$name]}"; }
        dpkg-deb -x "$f" "$tmp/x"
        debs+=("$name")
    done

    # Links that the engine is run through, then a check that the binaries run on this machine.
    case "$c" in
        docker26|docker28)
            mkdir -p "$tmp/bin"
            ln -s ../x/usr/sbin/dockerd "$tmp/bin/dockerd"
            ln -s ../x/usr/sbin/docker-proxy "$tmp/bin/docker-proxy"
            for f in containerd containerd-shim-runc-v2 ctr containerd-shim containerd-shim-runc-v1; do
                [[ -e "$tmp/x/usr/bin/$f" ]] && ln -s "../x/usr/bin/$f" "$tmp/bin/$f"
            done
            # Debian 13+/sid runc and tini need a newer glibc: use the machine's (bookworm) ones.
            ln -s "$SYS_RUNC" "$tmp/bin/runc"
            ln -s "$SYS_TINI" "$tmp/bin/docker-init"
            local out
            out="$("$tmp/bin/dockerd" --version 2>&1)" || { rm -rf "$tmp"; die "$c: the extracted dockerd does not run here: $out"; }
            [[ "$out" == *"$(upstream_of "${ver[$chosen/docker.io]}" | sed 's/+.*//')"* ]] \
                || { rm -rf "$tmp"; die "$c: dockerd --version says '$out', expected ${ver[$chosen/docker.io]}"; }
            out="$("$tmp/bin/containerd" --version 2>&1)" || { rm -rf "$tmp"; die "$c: the extracted containerd does not run here: $out"; }
            ;;
        cli28)
            mkdir -p "$tmp/bin" "$tmp/cli-plugins"
            ln -s ../x/usr/bin/docker "$tmp/bin/docker"
            ln -s ../x/usr/libexec/docker/cli-plugins/docker-buildx "$tmp/cli-plugins/docker-buildx"
            local out
            out="$("$tmp/bin/docker" --version 2>&1)" || { rm -rf "$tmp"; die "$c: the extracted docker client does not run here: $out"; }
            out="$("$tmp/cli-plugins/docker-buildx" version 2>&1)" || { rm -rf "$tmp"; die "$c: the extracted docker-buildx does not run here: $out"; }
            ;;
    esac
    {
        echo "component $c"
        echo "suite $chosen"
        echo "mirror $MIRROR"
        echo "fetched $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        for name in "${debs[@]}"; do echo "pkg:$name ${ver[$chosen/$name]}"; done
    } >"$tmp/MANIFEST"
    rm -rf "$tmp/debs" "$tmp/x/usr/share/doc" "$tmp/x/usr/share/man"
    rm -rf "$CACHE/$c.old"
    [[ -e "$CACHE/$c" ]] && mv "$CACHE/$c" "$CACHE/$c.old"
    mv "$tmp" "$CACHE/$c"
    TMPDIR_TO_CLEAN=""
    # An old copy may still be in use by a running daemon; it goes at the next refresh.
    say "$c: got $(describe_component "$c") into $CACHE/$c"
}

check_system_for() { # engine -> dies if the machine lacks what the engine runs with
    case "$1" in
        debian12)
            command -v dockerd >/dev/null || die "debian12 needs the machine's dockerd (apt-get install docker.io)"
            ;;
        docker26|docker28|docker28-containerd)
            [[ -x "$SYS_RUNC" ]] || die "$1 runs containers with the machine's runc: $SYS_RUNC is missing (apt-get install runc)"
            [[ -x "$SYS_TINI" ]] || die "$1 uses the machine's tini as docker-init: $SYS_TINI is missing (apt-get install tini)"
            ;;
        podman4)
            [[ -x "$SYS_PODMAN" ]] || die "podman4 is the machine's podman: $SYS_PODMAN is missing (apt-get install podman)"
            local v
            v="$("$SYS_PODMAN" --version 2>/dev/null | awk '{ print $NF }')"
            [[ "$v" == 4.* ]] || die "podman4 wants podman 4.x; $SYS_PODMAN is '${v:-?}'"
            ;;
    esac
}

do_fetch() {
    local refresh=0 engines=() e c comps=()
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --refresh) refresh=1 ;;
            -*) usage ;;
            *) valid_engine "$1" || die "unknown engine '$1' (one of: ${ALL_ENGINES[*]})"; engines+=("$1") ;;
        esac
        shift
    done
    (( ${#engines[@]} )) || engines=("${ALL_ENGINES[@]}")
    for e in "${engines[@]}"; do
        check_system_for "$e"
        for c in $(engine_components "$e"); do
            [[ " ${comps[*]-} " == *" $c "* ]] || comps+=("$c")
        done
    done
    if (( ${#comps[@]} == 0 )); then say "${engines[*]}: nothing to fetch (the machine's own engine)"; return 0; fi
    mkdir -p "$CACHE" || die "cannot create $CACHE (run as root, or set WATCHDOG_ENGINES_CACHE)"
    exec 8>"$CACHE/.lock"
    flock -w 600 8 || die "another $prog holds $CACHE/.lock"
    for c in "${comps[@]}"; do fetch_component "$c" "$refresh"; done
    for e in "${engines[@]}"; do
        case "$e" in
            debian12) say "debian12: the machine's $(dockerd --version 2>/dev/null || echo dockerd)" ;;
            podman4) say "podman4: the machine's $("$SYS_PODMAN" --version)" ;;
        esac
    done
}

q() { printf '%s=%q\n' "$1" "$2"; }

do_paths() {
    [[ $# -eq 1 ]] || usage
    local e="$1" c
    valid_engine "$e" || die "unknown engine '$e' (one of: ${ALL_ENGINES[*]})"
    for c in $(engine_components "$e"); do
        component_ok "$c" || { printf '%s: %s is not in %s (run: %s fetch %s)\n' "$prog" "$c" "$CACHE" "$0" "$e" >&2; exit 3; }
    done
    q ENGINE "$e"
    case "$e" in
        debian12)
            q ENGINE_KIND dockerd
            q ENGINE_DAEMON "$(command -v dockerd || echo /usr/sbin/dockerd)"
            q ENGINE_PATH ""
            q ENGINE_CLI /usr/bin/docker
            q ENGINE_BUILDX ""
            q ENGINE_PACKAGES "docker.io $(dpkg-query -W -f='${Version}' docker.io 2>/dev/null || echo '?') (machine)"
            ;;
        docker26|docker28|docker28-containerd)
            c="${e%-containerd}"
            q ENGINE_KIND dockerd
            q ENGINE_DAEMON "$CACHE/$c/bin/dockerd"
            q ENGINE_PATH "$CACHE/$c/bin"
            q ENGINE_CLI "$CACHE/cli28/bin/docker"
            q ENGINE_BUILDX "$CACHE/cli28/cli-plugins/docker-buildx"
            q ENGINE_PACKAGES "$(describe_component "$c"); client: $(describe_component cli28)"
            ;;
        podman4)
            q ENGINE_KIND podman
            q ENGINE_DAEMON "$SYS_PODMAN"
            q ENGINE_PATH ""
            q ENGINE_CLI "$CACHE/cli28/bin/docker"
            q ENGINE_BUILDX ""
            q ENGINE_PACKAGES "podman $(dpkg-query -W -f='${Version}' podman 2>/dev/null || echo '?') (machine); client: $(describe_component cli28)"
            ;;
    esac
    case "$e" in
        docker28) q ENGINE_SNAPSHOTTER false ;;
        docker28-containerd) q ENGINE_SNAPSHOTTER true ;;
        docker26) q ENGINE_SNAPSHOTTER false ;;
        *) q ENGINE_SNAPSHOTTER "" ;;
    esac
}

do_list() {
    local e c line
    say "cache: $CACHE"
    for e in "${ALL_ENGINES[@]}"; do
        line=""
        for c in $(engine_components "$e"); do
            if component_ok "$c"; then line+="${line:+; }$c: $(describe_component "$c")"; else line+="${line:+; }$c: not fetched"; fi
        done
        case "$e" in
            debian12) line="machine: $(dockerd --version 2>/dev/null || echo 'no dockerd')" ;;
            podman4) line="machine: $("$SYS_PODMAN" --version 2>/dev/null || echo 'no podman'); $line" ;;
        esac
        printf '  %-20s %s\n' "$e" "$line"
    done
}

[[ $# -ge 1 ]] || usage
cmd="$1"; shift
case "$cmd" in
    fetch) do_fetch "$@" ;;
    paths) do_paths "$@" ;;
    list) do_list ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac
