#!/usr/bin/env bash
# The release packaging: scripts/package.sh run end to end into a temporary directory, and what it
# made taken apart.
#
#   build     scripts/package.sh --out TMP succeeds (release build in .build-release, reused:
#             SOURCE_DATE_EPOCH defaults to HEAD's commit time here, so a rerun on the same commit
#             has the same stamp and the build is incremental)
#   artifacts one .deb, one tarball, `sha256sum -c sha256sums`
#   deb       `dpkg-deb -c`: every file where it is stated, root-owned, with its mode; `dpkg-deb -I`:
#             control fields (version, architecture, Depends on the C libraries), conffiles,
#             maintainer scripts; copyright is DEP-5; changelog.Debian names the version
#   binary    the extracted binary's --version prints the stamped version, a git revision (HEAD's,
#             not "unknown"), branch and build date; its libraries all resolve, no Swift runtime
#   config    the conffile loads with --config.check and lists every key of --help, commented out;
#             uncommented, it is what --config.check prints for the defaults
#   unit      the packaged unit is deploy/systemd's with only the package's changes;
#             `systemd-analyze verify` is silent on it; systemd-sysusers makes the user, in docker
#   man       the man page renders without a warning (man --warnings, as lintian runs it; or groff)
#   tarball   the stated members, the same binary as the .deb
#   lintian   no errors (when lintian is installed; package.sh prints its findings)
#   install   when root and a Debian base tarball from scripts/checks/image.sh is cached: dpkg -i in a
#             chroot of it (postinst without systemd: the user by useradd, /var/lib/docker-watchdog),
#             the binary's libraries all resolve there (ldd), dpkg -V is clean, dpkg --purge removes
#             everything
# About 20 s with the release build up to date; after a new commit 70-140 s on 2 cores (a new stamp
# rebuilds every module: -Xcc reaches every Swift compilation too). Needs dpkg-deb, tar,
# sha256sum, git and what scripts/package.sh needs; lintian, man, systemd-analyze and
# systemd-sysusers when present.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${WATCHDOG_REPO_ROOT:-$(cd "$SCRIPT_DIR/../.." && pwd)}"
cd "$REPO_ROOT"
export PATH="$PATH:/usr/sbin:/sbin"
prog="package"
t0=$(date +%s)
say() { printf '%s: %s\n' "$prog" "$*"; }
fails=0
ok() { say "ok   $*"; }
bad() { say "FAIL $*"; fails=$((fails + 1)); }
skip() { say "skip $*"; }
for t in dpkg-deb dpkg tar gzip sha256sum git; do
    command -v "$t" >/dev/null || { say "FAIL $t is missing"; exit 1; }
done
TMP="$(mktemp -d /tmp/dwt-package.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

# ---- build ------------------------------------------------------------------------------------------
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}"
OUT="$TMP/dist"
REV_BEFORE="$(git rev-parse --short=12 HEAD)"
tb=$(date +%s)
if "$REPO_ROOT/scripts/package.sh" --out "$OUT" >"$TMP/package.log" 2>&1; then
    ok "scripts/package.sh --out TMP in $(( $(date +%s) - tb ))s"
else
    bad "scripts/package.sh --out TMP failed:"; tail -n 40 "$TMP/package.log" | sed 's/^/    /'
    exit 1
fi

# ---- artifacts -------------------------------------------------------------------------------------
shopt -s nullglob
debs=("$OUT"/*.deb); tars=("$OUT"/*.tar.gz)
shopt -u nullglob
if (( ${#debs[@]} == 1 && ${#tars[@]} == 1 )) && [[ -f "$OUT/sha256sums" ]]; then
    ok "artifacts: $(basename "${debs[0]}") ($(du -h "${debs[0]}" | cut -f1)), $(basename "${tars[0]}") ($(du -h "${tars[0]}" | cut -f1)), sha256sums"
else
    bad "artifacts: want one .deb, one .tar.gz and sha256sums in the output, got: $(ls "$OUT")"; exit 1
fi
DEB="${debs[0]}"; TARBALL="${tars[0]}"
if out="$(cd "$OUT" && sha256sum -c sha256sums 2>&1)" && [[ "$(grep -c ': OK$' <<<"$out")" == 2 ]]; then
    ok "sha256sum -c sha256sums (2 files)"
else
    bad "sha256sum -c sha256sums:"; printf '%s\n' "$out" | sed 's/^/    /'
fi

# ---- deb: control --------------------------------------------------------------------------------------
ARCH="$(dpkg --print-architecture)"
field() { dpkg-deb -f "$DEB" "$1"; }
DEB_VERSION="$(field Version)"
UPSTREAM="${DEB_VERSION%-*}"
[[ "$(field Package)" == docker-watchdog ]] || bad "Package: '$(field Package)', want docker-watchdog"
[[ "$DEB_VERSION" =~ ^[0-9][A-Za-z0-9.+~]*-[0-9][A-Za-z0-9.+~]*$ ]] || bad "Version: '$DEB_VERSION' is not UPSTREAM-REVISION"
[[ "$(basename "$DEB")" == "docker-watchdog_${DEB_VERSION}_$ARCH.deb" ]] || bad "file name $(basename "$DEB") does not match Version and Architecture"
[[ "$(field Architecture)" == "$ARCH" ]] || bad "Architecture: '$(field Architecture)', want $ARCH (dpkg --print-architecture)"
[[ -n "$(field Maintainer)" ]] || bad "no Maintainer"
[[ "$(field Installed-Size)" =~ ^[0-9]+$ ]] || bad "Installed-Size: '$(field Installed-Size)'"
[[ -n "$(field Description)" && -n "$(field Section)" && -n "$(field Priority)" ]] || bad "Description, Section or Priority missing"
depends="$(field Depends)"
missing_deps=()
for p in libc6 libcurl4 libmicrohttpd12 libgnutls30 zlib1g libyaml-0-2 libnghttp2-14; do
    [[ ", $depends," == *", $p "* || ", $depends," == *", $p,"* ]] || missing_deps+=("$p")
done
if (( ${#missing_deps[@]} == 0 )); then ok "control: $(field Package) $DEB_VERSION $ARCH, Depends: $depends"
else bad "Depends: '$depends' lacks ${missing_deps[*]}"; fi
if [[ "$(dpkg-deb -I "$DEB" conffiles 2>/dev/null)" == /etc/docker-watchdog/config.yml ]]; then
    ok "conffiles: /etc/docker-watchdog/config.yml"
else
    bad "conffiles: '$(dpkg-deb -I "$DEB" conffiles 2>&1)', want /etc/docker-watchdog/config.yml"
fi
for s in postinst prerm postrm md5sums; do
    dpkg-deb -I "$DEB" "$s" >/dev/null 2>&1 || bad "no $s in the control archive"
done

# ---- deb: contents --------------------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $1, $2, $6 }' >"$TMP/contents"
want=(
    "-rwxr-xr-x ./usr/bin/docker-watchdog"
    "-rw-r--r-- ./usr/lib/systemd/system/docker-watchdog.service"
    "-rw-r--r-- ./usr/lib/sysusers.d/docker-watchdog.conf"
    "-rw-r--r-- ./etc/docker-watchdog/config.yml"
    "-rw-r--r-- ./usr/share/man/man1/docker-watchdog.1.gz"
    "-rw-r--r-- ./usr/share/doc/docker-watchdog/copyright"
    "-rw-r--r-- ./usr/share/doc/docker-watchdog/changelog.Debian.gz"
    "-rw-r--r-- ./usr/share/doc/docker-watchdog/changelog.gz"
    "-rw-r--r-- ./usr/share/docker-watchdog/grafana/dashboards/docker-watchdog.json"
)
missing=0
for w in "${want[@]}"; do
    grep -qxF -- "${w%% *} root/root ${w#* }" "$TMP/contents" || { bad "dpkg-deb -c: no '${w#* }' (${w%% *} root/root)"; missing=1; }
done
if awk '$2 != "root/root"' "$TMP/contents" | grep -q .; then
    bad "dpkg-deb -c: entries not owned by root/root:"; awk '$2 != "root/root"' "$TMP/contents" | head -5 | sed 's/^/    /'
elif (( missing == 0 )); then
    ok "dpkg-deb -c: $(grep -c '^-' "$TMP/contents") files, all root/root, the ${#want[@]} stated ones where stated"
fi

ROOT="$TMP/root"
dpkg-deb -x "$DEB" "$ROOT"
DOC="$ROOT/usr/share/doc/docker-watchdog"
[[ "$(head -n 1 "$DOC/copyright")" == "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" ]] \
    || bad "copyright is not machine-readable (DEP-5 Format: line)"
grep -q '^License: Apache-2.0$' "$DOC/copyright" || bad "copyright has no Apache-2.0 license paragraph"
zcat "$DOC/changelog.Debian.gz" | head -n 1 | grep -qF "docker-watchdog ($DEB_VERSION)" \
    || bad "changelog.Debian.gz does not start with docker-watchdog ($DEB_VERSION)"

# ---- binary ---------------------------------------------------------------------------------------------
BIN="$ROOT/usr/bin/docker-watchdog"
# HEAD before and after the run: someone may commit in this checkout meanwhile
REV="$(git rev-parse --short=12 HEAD)"
revs="$REV_BEFORE"
[[ "$REV" == "$REV_BEFORE" ]] || revs="$REV_BEFORE or $REV (HEAD moved during the run)"
want_date="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
vline="$(timeout 30 env -i PATH=/usr/bin:/bin "$BIN" --version 2>&1 || true)"
re="^docker-watchdog ([^ ]+) \(revision ([^,]+), branch ([^,]+), built ([^,]+), Swift [0-9.]+\)$"
if [[ "$vline" =~ $re ]]; then
    v="${BASH_REMATCH[1]}"; r="${BASH_REMATCH[2]}"; b="${BASH_REMATCH[3]}"; d="${BASH_REMATCH[4]}"
    if [[ "$v" == "$UPSTREAM" && ( "${r%+dirty}" == "$REV_BEFORE" || "${r%+dirty}" == "$REV" ) && "$b" != unknown && "$d" == "$want_date" ]]; then
        ok "--version: $vline"
    else
        bad "--version: '$vline': want version $UPSTREAM, revision $revs (+dirty allowed), a branch, built $want_date"
    fi
else
    bad "--version printed '$vline'"
fi
if ldd "$BIN" | grep -q 'not found'; then bad "ldd: $(ldd "$BIN" | grep 'not found' | head -3 | tr '\n' ' ')"; fi
if ldd "$BIN" | grep -q 'libswift\|libFoundation\|libdispatch'; then bad "the binary links the Swift runtime dynamically"; fi
if file "$BIN" 2>/dev/null | grep -q 'not stripped'; then bad "the binary is not stripped"; fi

# ---- config --------------------------------------------------------------------------------------------
CONF="$ROOT/etc/docker-watchdog/config.yml"
help_keys="$(timeout 30 env -i PATH=/usr/bin:/bin "$BIN" --help | sed -n '/^Configuration flags:/,/^Rules across keys:/p' | grep -c '^  --' || true)"
conf_keys="$(grep -cE '^#(  )+[a-z_]+: ' "$CONF" || true)"     # "#", two spaces a level, key
live="$(grep -cE '^[a-z_ ]+:' "$CONF" || true)"
if out="$(timeout 30 env -i PATH=/usr/bin:/bin "$BIN" --config.file "$CONF" --config.check 2>&1)"; then
    # uncommented (the "#" before section and key lines taken away), it must be the defaults
    # --config.check prints (binaries that print the effective settings)
    sed -nE 's/^#([a-z_]+:.*)$/\1/p; s/^#((  )+[a-z_]+:.*)$/\1/p' "$CONF" >"$TMP/uncommented.yml"
    grep -v '^#' <<<"$out" | grep -v '^$' >"$TMP/effective.yml" || true
    same=""
    if [[ -s "$TMP/effective.yml" ]]; then
        if diff "$TMP/effective.yml" "$TMP/uncommented.yml" >"$TMP/config.diff"; then same="; uncommented, the defaults --config.check prints"
        else bad "config.yml uncommented differs from --config.check's defaults:"; head -20 "$TMP/config.diff" | sed 's/^/    /'; fi
    fi
    if [[ "$conf_keys" == "$help_keys" && "$help_keys" -gt 0 && "$live" == 0 ]]; then
        ok "config.yml: loads with --config.check; all $help_keys keys of --help, commented out$same"
    else
        bad "config.yml: $conf_keys commented keys and $live live lines; --help has $help_keys keys"
    fi
else
    bad "config.yml does not load: $out"
fi

# ---- unit and sysusers -------------------------------------------------------------------------------------
UNIT="$ROOT/usr/lib/systemd/system/docker-watchdog.service"
strip_unit() { sed -n '/^\[Unit\]/,$p' "$1" | grep -vE '^(ExecStart|Documentation|Environment)='; }
if grep -qx 'ExecStart=/usr/bin/docker-watchdog' "$UNIT" \
    && grep -qx 'Environment=DOCKER_WATCHDOG_CONFIG_FILE=/etc/docker-watchdog/config.yml' "$UNIT" \
    && diff <(strip_unit deploy/systemd/docker-watchdog.service) <(strip_unit "$UNIT") >"$TMP/unit.diff"; then
    ok "unit: deploy/systemd's (hardening included), ExecStart=/usr/bin/docker-watchdog, config /etc/docker-watchdog/config.yml"
else
    bad "unit: not deploy/systemd's unit with ExecStart=/usr/bin/docker-watchdog and the config file:"; sed 's/^/    /' "$TMP/unit.diff"
fi
if command -v systemd-analyze >/dev/null; then
    sed "s#^ExecStart=/usr/bin/docker-watchdog#ExecStart=$BIN#" "$UNIT" >"$TMP/docker-watchdog.service"
    if out="$(systemd-analyze verify --man=no "$TMP/docker-watchdog.service" 2>&1)" && [[ -z "$out" ]]; then
        ok "systemd-analyze verify: silent"
    else
        bad "systemd-analyze verify:"; printf '%s\n' "$out" | sed 's/^/    /'
    fi
else
    skip "systemd-analyze verify (no systemd-analyze)"
fi
SYSUSERS="$ROOT/usr/lib/sysusers.d/docker-watchdog.conf"
if command -v systemd-sysusers >/dev/null; then
    sr="$TMP/sysusers-root"
    mkdir -p "$sr/etc"
    touch "$sr/etc/passwd" "$sr/etc/group" "$sr/etc/shadow" "$sr/etc/gshadow"
    if systemd-sysusers --root="$sr" "$SYSUSERS" >"$TMP/sysusers.log" 2>&1 \
        && grep -q '^docker-watchdog:x:[0-9]*:[0-9]*:[^:]*:/var/lib/docker-watchdog:/usr/sbin/nologin$' "$sr/etc/passwd" \
        && grep -qE '^docker:x:[0-9]+:(.*,)?docker-watchdog(,.*)?$' "$sr/etc/group"; then
        ok "systemd-sysusers: user docker-watchdog (home /var/lib/docker-watchdog, nologin), member of docker"
    else
        bad "systemd-sysusers on an empty root:"; cat "$TMP/sysusers.log" "$sr/etc/passwd" "$sr/etc/group" | sed 's/^/    /'
    fi
else
    grep -q '^m docker-watchdog docker$' "$SYSUSERS" || bad "sysusers: no 'm docker-watchdog docker' line"
    skip "systemd-sysusers (not installed; lines checked only)"
fi

# ---- man page ----------------------------------------------------------------------------------------------
MAN="$ROOT/usr/share/man/man1/docker-watchdog.1.gz"
if command -v man >/dev/null; then
    # as lintian runs it (manpages check): any message is a finding
    if out="$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$MAN" 2>&1 >/dev/null)" && [[ -z "$out" ]]; then
        ok "man page: man --warnings -l renders it without a message"
    else
        bad "man page: man --warnings -l:"; printf '%s\n' "$out" | head -20 | sed 's/^/    /'
    fi
elif command -v groff >/dev/null; then
    if out="$(zcat "$MAN" | groff -man -Tutf8 -ww -z 2>&1)" && [[ -z "$out" ]]; then ok "man page: groff -man -ww renders it without a warning"
    else bad "man page: groff:"; printf '%s\n' "$out" | head -20 | sed 's/^/    /'; fi
else
    skip "man page rendering (neither man nor groff)"
fi
for s in NAME SYNOPSIS DESCRIPTION OPTIONS; do
    zcat "$MAN" | grep -q "^\.SH \"\{0,1\}$s" || bad "man page: no $s section"
done

# ---- tarball ----------------------------------------------------------------------------------------------
TD="docker-watchdog-$UPSTREAM-linux-$ARCH"
[[ "$(basename "$TARBALL")" == "$TD.tar.gz" ]] || bad "tarball name $(basename "$TARBALL"), want $TD.tar.gz"
tar -tzf "$TARBALL" >"$TMP/tar.list"
tmissing=()
for m in docker-watchdog docker-watchdog.1 config.yml LICENSE copyright README.md CHANGELOG.md \
         deploy/systemd/docker-watchdog.service deploy/systemd/docker-watchdog.sysusers \
         grafana/dashboards/docker-watchdog.json prometheus/prometheus.yml; do
    grep -qxF "$TD/$m" "$TMP/tar.list" || tmissing+=("$m")
done
grep -q "^$TD/prometheus/rules/." "$TMP/tar.list" || tmissing+=("prometheus/rules/")
if grep -qv "^$TD/" "$TMP/tar.list"; then bad "tarball: members outside $TD/"; fi
mkdir -p "$TMP/tar"
tar -xzf "$TARBALL" -C "$TMP/tar" "$TD/docker-watchdog"
if (( ${#tmissing[@]} > 0 )); then
    bad "tarball lacks: ${tmissing[*]}"
elif ! cmp -s "$TMP/tar/$TD/docker-watchdog" "$BIN"; then
    bad "tarball: its binary differs from the .deb's"
else
    ok "tarball: $(grep -c '[^/]$' "$TMP/tar.list") files under $TD/, the .deb's binary"
fi

# ---- lintian --------------------------------------------------------------------------------------------------
if command -v lintian >/dev/null; then
    summary="$(grep -E '^package\.sh: lintian: ' "$TMP/package.log" | tail -n 1 || true)"
    if [[ "$summary" =~ lintian:\ ([0-9]+)\ error ]] && (( BASH_REMATCH[1] == 0 )); then
        ok "lintian: ${summary#package.sh: lintian: }"
        grep -E '^    [EWO]: ' "$TMP/package.log" || true
    else
        bad "lintian: ${summary:-no summary from package.sh}"; grep -E '^    [EW]: ' "$TMP/package.log" | sed 's/^/  /' || true
    fi
else
    skip "lintian (not installed: apt-get install lintian)"
fi

# ---- install into a throwaway Debian -----------------------------------------------------------------------------
CACHE="${WATCHDOG_CI_CACHE:-/var/cache/docker-watchdog-ci}"
base="$(ls -t "$CACHE"/debian-*-minbase-*.tar 2>/dev/null | head -n 1 || true)"
if [[ "$(id -u)" != 0 ]]; then
    skip "install (needs root for a chroot)"
elif [[ -z "$base" ]]; then
    skip "install (no Debian base tarball in $CACHE; scripts/checks/image.sh makes one)"
else
    CH="$TMP/chroot"
    mkdir -p "$CH"
    mounted=()
    # Unmount before the temporary directory goes: rm -rf must never walk into /proc or the socket.
    trap 'for m in ${mounted[@]+"${mounted[@]}"}; do umount "$m" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT
    tar -xf "$base" -C "$CH"
    cp "$DEB" "$CH/tmp/docker-watchdog.deb"
    inch() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 chroot "$CH" "$@"; }
    if ! inch dpkg -i /tmp/docker-watchdog.deb >"$TMP/install.log" 2>&1; then
        bad "install: dpkg -i in a chroot of $(basename "$base"):"; tail -n 20 "$TMP/install.log" | sed 's/^/    /'
    else
        problems=()
        # ldd, not --version: without /proc (not mounted here) the Swift runtime does not see the
        # arguments, and the binary would start the service instead of printing its version
        if ! libs="$(inch ldd /usr/bin/docker-watchdog 2>&1)" || grep -q 'not found' <<<"$libs"; then
            problems+=("shared libraries missing with only Depends installed: $(grep 'not found' <<<"$libs" | tr -s ' \t\n' ' ')")
        fi
        inch id -nG docker-watchdog 2>/dev/null | grep -qw docker || problems+=("user docker-watchdog missing or not in docker")
        [[ "$(inch stat -c '%U:%G %a' /var/lib/docker-watchdog 2>/dev/null)" == "docker-watchdog:docker-watchdog 750" ]] \
            || problems+=("/var/lib/docker-watchdog: $(inch stat -c '%U:%G %a' /var/lib/docker-watchdog 2>&1)")
        inch dpkg -V docker-watchdog >"$TMP/verify.log" 2>&1 || problems+=("dpkg -V: $(head -c 200 "$TMP/verify.log")")
        # The installed binary, run in the Debian base against the test bed's private daemon (its
        # socket bind-mounted in): --version, --config.check of the shipped config, real metrics.
        ran=", not run against a daemon (no WATCHDOG_TEST_DOCKER_HOST: scripts/test.sh sets it)"
        sock="${WATCHDOG_TEST_DOCKER_HOST:-}"; sock="${sock#unix://}"
        if [[ -n "${WATCHDOG_TEST_DOCKER_HOST:-}" && -S "$sock" ]]; then
            mkdir -p "$CH/proc" "$CH/run"
            mount -t proc proc "$CH/proc" && mounted+=("$CH/proc")
            : >"$CH/run/wd-docker.sock" && mount --bind "$sock" "$CH/run/wd-docker.sock" && mounted+=("$CH/run/wd-docker.sock")
            version="$(timeout 10 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$CH" /usr/bin/docker-watchdog --version 2>&1 || true)"
            [[ "$version" == "docker-watchdog $UPSTREAM "* ]] || problems+=("installed --version: $version")
            timeout 10 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$CH" /usr/bin/docker-watchdog --config.file /etc/docker-watchdog/config.yml \
                --config.check >"$TMP/check.log" 2>&1 || problems+=("installed --config.check: $(head -c 300 "$TMP/check.log")")
            port=$(( 20000 + RANDOM % 10000 ))
            env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$CH" /usr/bin/docker-watchdog --config.file /etc/docker-watchdog/config.yml \
                --web.listen-address "127.0.0.1:$port" --docker.host unix:///run/wd-docker.sock --remediation.disk.enabled=false \
                --remediation.audit-log /tmp/audit.jsonl >"$TMP/run.log" 2>&1 &
            wdpid=$!
            up=""
            for _ in $(seq 1 50); do
                if curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null | grep -q '^docker_daemon_up 1'; then up=1; break; fi
                sleep 0.2
            done
            kill "$wdpid" 2>/dev/null || true  # it may have ended already: the log says why
            wait "$wdpid" 2>/dev/null || true
            [[ -n "$up" ]] && ran=", ran there against the private daemon (--version, --config.check, docker_daemon_up 1)" \
                || problems+=("installed binary: no docker_daemon_up 1 on 127.0.0.1:$port; log: $(tail -c 400 "$TMP/run.log")")
            for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}" 2>/dev/null || true; done
            mounted=()
        fi
        inch dpkg --purge docker-watchdog >>"$TMP/install.log" 2>&1 || problems+=("dpkg --purge failed")
        for p in /usr/bin/docker-watchdog /etc/docker-watchdog/config.yml /var/lib/docker-watchdog /usr/lib/systemd/system/docker-watchdog.service; do
            [[ ! -e "$CH$p" ]] || problems+=("$p left after purge")
        done
        if (( ${#problems[@]} == 0 )); then
            ok "install: dpkg -i, every library resolves, user in docker, /var/lib/docker-watchdog 750, dpkg -V clean$ran, purge leaves nothing (chroot of $(basename "$base"), no systemd)"
        else
            bad "install: ${problems[*]}"; tail -n 20 "$TMP/install.log" | sed 's/^/    /'
        fi
    fi
fi

(( fails == 0 )) || { say "$fails check(s) failed ($(( $(date +%s) - t0 ))s)"; exit 1; }
say "OK in $(( $(date +%s) - t0 ))s"
