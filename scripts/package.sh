#!/usr/bin/env bash
# Builds a release of docker-watchdog and packages it: a Debian package, a tarball, checksums.
#
#   scripts/package.sh [--version X.Y.Z] [--out DIR]
#
#   --version  the version to stamp and package (a leading "v" is dropped). Default: from git, the
#              latest tag vX.Y.Z: X.Y.Z on the tag itself, X.Y.Z+N.gREV N commits after it; with
#              no tag, 0.1.0~dev+YYYYMMDDhhmmss.gREV (HEAD's commit time, UTC; REV: 7 hex digits,
#              the binary has 12). ".dirty" is added when the tree has changes. "~" sorts before the release in Debian (1.0.0~rc1 <
#              1.0.0), so a pre-release tag v1.0.0-rc1 becomes 1.0.0~rc1.
#   --out      where the artifacts go (default dist/, created if missing)
#
# 1. Release build with the Swift runtime linked statically, in its own scratch path (.build-release,
#    git-ignored; reused by the next run), stamped through CSystemShims' macros: version, git
#    revision (12 hex digits, "+dirty" when tracked files differ from HEAD or Sources/ has new files),
#    branch and build date (UTC, ISO 8601; SOURCE_DATE_EPOCH when set, so a rebuild of the same
#    commit can be bit-for-bit identical). `--version` of the result must print all of it.
# 2. From the binary itself: the reference configuration (every key of --help with its
#    documentation and default, commented out; it must load with --config.check, and its defaults
#    must equal the effective settings `--config.check` prints with nothing configured) and the
#    man page (help2man when installed, else the generator below).
# 3. OUT/docker-watchdog_VERSION-1_ARCH.deb (dpkg-deb --build --root-owner-group): the binary
#    (stripped) in /usr/bin; the systemd unit (deploy/systemd's, with ExecStart=/usr/bin/... and
#    /etc/docker-watchdog/config.yml); a sysusers.d user in the docker group; the configuration as
#    a conffile; the man page; /usr/share/doc (DEP-5 copyright, changelogs, READMEs, docs/,
#    examples/); the Grafana and Prometheus files in /usr/share/docker-watchdog; lintian
#    overrides. Maintainer scripts, control template, copyright and overrides come from
#    deploy/deb/. Depends: dpkg-shlibdeps (ldd + dpkg -S without it).
#    OUT/docker-watchdog-VERSION-linux-ARCH.tar.gz: binary, man page, reference configuration,
#    LICENSE, copyright (DEP-5: what the binary embeds), README.md, CHANGELOG.md, SECURITY.md,
#    deploy/systemd/ as in the repository (for the README's /usr/local/bin instructions),
#    grafana/, prometheus/, docs/, examples/.
#    OUT/sha256sums over both.
# 4. lintian on the .deb when installed: findings printed, errors fail the run (the artifacts are
#    kept for a look). Remaining warnings and why: deploy/deb/README.md.
#
# Needs: swift, git, dpkg-deb, gzip, tar, strip (binutils); dpkg-shlibdeps (dpkg-dev) and lintian
# are used when present. No network: SwiftPM's dependencies must be resolvable from its cache.
# Knobs: SWIFT (swift binary), WATCHDOG_PACKAGE_SCRATCH (scratch path, default REPO/.build-release),
# SOURCE_DATE_EPOCH, WATCHDOG_BRANCH (branch name to stamp, for detached CI checkouts),
# DEBFULLNAME/DEBEMAIL (maintainer; default: HEAD's author), WATCHDOG_PACKAGE_DEB_REVISION (the
# Debian revision, default 1), WATCHDOG_PACKAGE_LINTIAN=0 (skip lintian).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${WATCHDOG_REPO_ROOT:-$(cd "$SCRIPT_DIR/.." && pwd)}"
SWIFT="${SWIFT:-swift}"
export PATH="$PATH:/usr/sbin:/sbin"
umask 022

prog="package.sh"
t0=$(date +%s)
say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

VERSION=""
OUT=""
while (( $# > 0 )); do
    case "$1" in
        --version) (( $# >= 2 )) || die "--version needs a value, e.g. --version 1.2.3"; VERSION="$2"; shift 2 ;;
        --version=*) VERSION="${1#*=}"; shift ;;
        --out) (( $# >= 2 )) || die "--out needs a directory"; OUT="$2"; shift 2 ;;
        --out=*) OUT="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (usage: scripts/package.sh [--version X.Y.Z] [--out DIR])" ;;
    esac
done

for t in "$SWIFT" git dpkg dpkg-deb gzip tar strip sha256sum md5sum awk perl; do
    command -v "$t" >/dev/null || die "$t is missing (swift: a Swift 6 toolchain; strip: binutils; dpkg-deb: dpkg)"
done
cd "$REPO_ROOT"
git rev-parse --verify -q HEAD >/dev/null || die "$REPO_ROOT is not a git checkout with a commit: the revision is stamped from git"
for f in deploy/systemd/docker-watchdog.service deploy/systemd/docker-watchdog.sysusers deploy/deb/control.in \
         deploy/deb/copyright deploy/deb/lintian-overrides deploy/deb/postinst deploy/deb/prerm deploy/deb/postrm \
         LICENSE README.md CHANGELOG.md; do
    [[ -f "$f" ]] || die "$f is missing"
done

OUT="${OUT:-dist}"
mkdir -p "$OUT" || die "cannot create the output directory $OUT"
OUT="$(cd "$OUT" && pwd)"
SCRATCH="${WATCHDOG_PACKAGE_SCRATCH:-$REPO_ROOT/.build-release}"
ARCH="$(dpkg --print-architecture)"
TMP="$(mktemp -d /tmp/dwt-package.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

# ---- 1. stamp and build ------------------------------------------------------------------------------
REV="$(git rev-parse --short=12 HEAD)"
dirty=0
# no `git status`: it may rewrite the index, and someone else may be working in this checkout
git diff --no-ext-diff --quiet HEAD -- 2>/dev/null || dirty=1
[[ -z "$(git ls-files --others --exclude-standard -- Sources Package.swift 2>/dev/null)" ]] || dirty=1
REVISION="$REV"
(( dirty == 0 )) || REVISION="$REV+dirty"
BRANCH="${WATCHDOG_BRANCH:-$(git symbolic-ref --short -q HEAD || echo detached)}"
BRANCH="${BRANCH//[^A-Za-z0-9._\/+-]/_}"          # it goes into a C string literal

if [[ -z "$VERSION" ]]; then
    if tag="$(git describe --tags --abbrev=0 --match 'v[0-9]*.[0-9]*.[0-9]*' 2>/dev/null)"; then
        VERSION="${tag#v}"
        VERSION="${VERSION//-/\~}"
        n="$(git rev-list --count "$tag..HEAD")"
        (( n == 0 )) || VERSION="$VERSION+$n.g${REV:0:7}"
    else
        VERSION="0.1.0~dev+$(date -u -d "@$(git log -1 --format=%ct HEAD)" +%Y%m%d%H%M%S).g${REV:0:7}"
    fi
    (( dirty == 0 )) || VERSION="$VERSION.dirty"
fi
VERSION="${VERSION#v}"
[[ "$VERSION" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] \
    || die "version '$VERSION': must start with a digit and hold only letters, digits and . + ~ (a Debian upstream version without '-' or ':'; write 1.2.3~rc1 for a pre-release)"
DEB_VERSION="$VERSION-${WATCHDOG_PACKAGE_DEB_REVISION:-1}"

if [[ -n "${SOURCE_DATE_EPOCH:-}" ]]; then
    [[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH='$SOURCE_DATE_EPOCH' is not a number of seconds"
    EPOCH="$SOURCE_DATE_EPOCH"
else
    EPOCH="$(date +%s)"
fi
export SOURCE_DATE_EPOCH="$EPOCH"                  # dpkg-deb dates the archive members with it
BUILD_DATE="$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)"

# -Xcc reaches clang (and Swift's clang importer) as one argument each, no shell in between: the
# double quotes become part of the macro, so each expands to a C string literal. A new stamp
# changes the command lines, so the build after a new commit or date is a full one (about 70 s
# here on 2 cores); the same stamp again is an incremental build.
build=("$SWIFT" build -c release --static-swift-stdlib --product docker-watchdog --scratch-path "$SCRATCH"
       -Xcc "-DDOCKER_WATCHDOG_VERSION=\"$VERSION\""
       -Xcc "-DDOCKER_WATCHDOG_REVISION=\"$REVISION\""
       -Xcc "-DDOCKER_WATCHDOG_BRANCH=\"$BRANCH\""
       -Xcc "-DDOCKER_WATCHDOG_BUILD_DATE=\"$BUILD_DATE\"")
say "version $VERSION (deb $DEB_VERSION), revision $REVISION, branch $BRANCH, built $BUILD_DATE, $ARCH"
mkdir -p "$SCRATCH"
BUILD_LOG="$SCRATCH/package-build.log"
say "build: swift build -c release --static-swift-stdlib --product docker-watchdog --scratch-path ${SCRATCH#"$REPO_ROOT"/} -Xcc -DDOCKER_WATCHDOG_…=… (log: $BUILD_LOG)"
tb=$(date +%s)
"${build[@]}" >"$BUILD_LOG" 2>&1 || { tail -n 40 "$BUILD_LOG" >&2; die "release build failed (log: $BUILD_LOG)"; }
say "build: done in $(( $(date +%s) - tb ))s"
BUILT="$SCRATCH/release/docker-watchdog"
[[ -x "$BUILT" ]] || die "the build reported success but $BUILT is missing"

BIN="$TMP/docker-watchdog"
cp "$BUILT" "$BIN"
# as dh_strip does: the symbol table and debug information go, the dynamic symbols stay
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$BIN"
if ldd "$BIN" | grep -q 'libswift\|libFoundation\|lib_FoundationICU\|libdispatch'; then
    ldd "$BIN" >&2; die "$BUILT links the Swift runtime dynamically (it must be built with --static-swift-stdlib)"
fi
# bounded: should the binary ever miss its arguments, it would start the service instead of answering
run_bin() { timeout 30 env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$BIN" "$@"; }
version_line="$(run_bin --version)" || die "$BIN --version failed"
[[ "$version_line" == "docker-watchdog $VERSION (revision $REVISION, branch $BRANCH, built $BUILD_DATE, "* ]] \
    || die "the stamp did not reach the binary: --version printed '$version_line'"
say "binary: $version_line"
HELP="$TMP/help.txt"
run_bin --help >"$HELP" || die "$BIN --help failed"
grep -q '^Configuration flags:' "$HELP" || die "--help has no 'Configuration flags:' section: the generators below need updating"

# ---- 2. reference configuration and man page, from --help ---------------------------------------------
# --help lists each key as
#     "  --section.sub.name PLACEHOLDER (also --alias)", wrapped doc lines indented 8,
#     "        Type: TYPE; default: DEFAULT", "        Env: VARIABLES"
# The YAML key is the flag without "--", dashes to underscores (web.listen-address is
# web: listen_address:), as the README's table says. MODE=commented writes every YAML line behind a
# "#" (the file as shipped changes nothing); MODE=plain writes the same keys live, for the check.
gen_config() { # MODE
    awk -v mode="$1" -v version="$VERSION" -v revision="$REVISION" '
        function yq(s) {    # as ConfigReference.yamlScalar: plain when unambiguous, else double-quoted
            if (s ~ /^[A-Za-z0-9\/][A-Za-z0-9\/_.-]*$/ && s !~ /^(null|Null|NULL)$/) return s
            gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
            return "\"" s "\""
        }
        function out(line) { print (mode == "commented" ? "#" : "") line }
        function emit(   parts, n, i, ind, d) {
            n = split(key, parts, ".")
            common = 0
            while (common < n - 1 && common < depth && parts[common + 1] == open[common + 1]) common++
            if (common == 0 && nkeys > 0) print ""
            for (i = common + 1; i <= n - 1; i++) {
                out(sprintf("%" (2 * (i - 1)) "s%s:", "", parts[i]))
                open[i] = parts[i]
            }
            depth = n - 1
            ind = sprintf("%" (2 * depth) "s", "")
            for (d = 1; d <= ndoc; d++) out(ind "# " doc[d])
            out(ind "# Type: " type "; env: " env)
            out(ind parts[n] ": " yq(def))
            nkeys++
        }
        BEGIN {
            if (mode == "commented") {
                print "# /etc/docker-watchdog/config.yml: the configuration of docker-watchdog (YAML)."
                print "#"
                print "# Every key is listed with its built-in default, commented out: as shipped, this file"
                print "# changes nothing. To change a setting, remove the \"#\" in front of the key and of the"
                print "# section lines above it, e.g. for a first run that only plans and reports:"
                print "#"
                print "#   remediation:"
                print "#     dry_run: true"
                print "#"
                print "# Precedence, highest first: command-line flags, DOCKER_WATCHDOG_* environment variables"
                print "# (the systemd unit reads /etc/default/docker-watchdog), this file, built-in defaults."
                print "# An empty value counts as unset; unknown keys are errors. Value formats and the rules"
                print "# across keys: docker-watchdog --help, or man docker-watchdog."
                print "#   check:  docker-watchdog --config.file /etc/docker-watchdog/config.yml --config.check"
                print "#   apply:  systemctl reload docker-watchdog (SIGHUP; the log names keys that need a restart)"
                print "#"
                print "# Generated from the --help of docker-watchdog " version " (revision " revision ")."
                print ""
            }
        }
        /^Configuration flags:/ { conf = 1; next }
        /^Rules across keys:/ { if (key != "") emit(); key = ""; conf = 0; rules = 1
                                print ""; print "# Rules across keys:"; next }
        rules && /^$/ { next }
        rules { sub(/^  /, ""); print "# " $0; next }
        !conf { next }
        # A key whose flag is spelled by choice (the toolkit'"'"'s --web.config.file) lists the
        # spelling derived from its name as an alias: the same flag with "-" where it has "."
        # (--web.config-file); the key comes from that one.
        function derived(primary, rest,   a, i, ok) {
            while (match(rest, /--[A-Za-z0-9._-]+/)) {
                a = substr(rest, RSTART + 2, RLENGTH - 2); rest = substr(rest, RSTART + RLENGTH)
                if (length(a) != length(primary) || a == primary) continue
                ok = 1
                for (i = 1; i <= length(a); i++) {
                    if (substr(a, i, 1) != substr(primary, i, 1) && !(substr(primary, i, 1) == "." && substr(a, i, 1) == "-")) { ok = 0; break }
                }
                if (ok) return a
            }
            return primary
        }
        /^  --/ {
            line = $0; sub(/^  --/, "", line); sub(/[ (].*$/, "", line)
            also = ""; if (match($0, /\(also [^)]*\)/)) also = substr($0, RSTART, RLENGTH)
            key = derived(line, also); gsub(/-/, "_", key)
            ndoc = 0; type = ""; def = ""; env = ""
            next
        }
        /^        Type: / {
            t = $0; sub(/^        Type: /, "", t)
            if (!match(t, /.*; default: /)) { print "no default in: " $0 > "/dev/stderr"; exit 3 }
            def = substr(t, RLENGTH + 1); type = substr(t, 1, RLENGTH - 11)
            if (def == "\"\"") def = ""
            next
        }
        /^        Env: / { env = $0; sub(/^        Env: /, "", env); emit(); key = ""; next }
        /^        / { d = $0; sub(/^        /, "", d); doc[++ndoc] = d; next }
        /^$/ { next }
        { print "unexpected line in --help: " $0 > "/dev/stderr"; exit 3 }
        END { if (nkeys == 0) { print "no keys found in --help" > "/dev/stderr"; exit 3 } }
    ' "$HELP"
}

# roff from --help: NAME and SYNOPSIS from its first lines, DESCRIPTION from the paragraphs before
# the flags, OPTIONS with a tagged paragraph per flag, the rules across keys as a list; then the
# files, signals and exit status of the packaged service. Non-ASCII characters become \[uXXXX].
gen_man() {
    awk -v version="$VERSION" -v date="${BUILD_DATE%%T*}" -v q="'" '
        function esc(s) { gsub(/\\/, "\\e", s); return s }
        function line(s,   c) { c = substr(s, 1, 1); if (c == "." || c == q) s = "\\&" s; print s }
        function words(s,   n, w, i, r, x) {    # options and their dashes: \-
            n = split(s, w, " "); r = ""
            for (i = 1; i <= n; i++) {
                x = esc(w[i])
                if (x ~ /^[("]?--?[A-Za-z]/) gsub(/-/, "\\-", x)
                r = r (i > 1 ? " " : "") x
            }
            return r
        }
        function flagline(s,   n, w, i, r, x) { # --flag PLACEHOLDER (also --alias): bold flags, italic placeholders
            n = split(s, w, " "); r = ""
            for (i = 1; i <= n; i++) {
                x = esc(w[i]); gsub(/-/, "\\-", x)
                if (w[i] ~ /^-/) x = "\\fB" x "\\fR"
                else if (w[i] ~ /^[A-Z][A-Z_]*$/) x = "\\fI" x "\\fR"
                r = r (i > 1 ? " " : "") x
            }
            return r
        }
        NR == 1 { usage = $0; sub(/^Usage: /, "", usage); prog = usage; sub(/ .*/, "", prog); next }
        NR == 2 && /^$/ { next }
        NR == 3 {
            print ".TH DOCKER\\-WATCHDOG 1 \"" date "\" \"docker\\-watchdog " version "\" \"User Commands\""
            print ".SH NAME"
            name = $0; sub(/\.$/, "", name)
            print "docker\\-watchdog \\- " esc(name)
            print ".SH SYNOPSIS"
            print ".B docker\\-watchdog"
            print "[\\fIflags\\fR]"
            print ".SH DESCRIPTION"
            print "\\fBdocker\\-watchdog\\fR samples a Docker (or Podman) host through the Engine API, serves"
            print "Prometheus metrics, and repairs the host one audited action at a time: it frees disk space"
            print "object by object, restarts opted-in unhealthy containers and, if enabled, a hung daemon."
            print "\\fB\\-\\-docker.read\\-only\\fR turns all remediation off."
            indesc = 1; para = 1; next
        }
        indesc && /^General flags:/ { indesc = 0; print ".SH OPTIONS"; print ".SS \"General flags\""; sect = "opt"; next }
        indesc && /^$/ { para = 1; next }
        indesc { if (para) { print ".PP"; para = 0 }; line(words($0)); next }
        /^Configuration flags:/ {
            print ".SS \"Configuration flags\""
            print "Each flag below is also an environment variable and a YAML key; see DESCRIPTION."
            next
        }
        /^Rules across keys:/ { print ".SS \"Rules across keys\""; sect = "rules"; next }
        /^$/ { next }
        sect == "opt" && /^  -/ { sub(/^  /, ""); print ".TP"; line(flagline($0)); next }
        sect == "opt" && /^        (Type|Env): / { sub(/^        /, ""); print ".br"; line(words($0)); next }
        sect == "opt" && /^        / { sub(/^        /, ""); line(words($0)); next }
        sect == "rules" && /^  - / { sub(/^  - /, ""); print ".IP \\(bu 2"; line(words($0)); next }
        sect == "rules" && /^    / { sub(/^    /, ""); line(words($0)); next }
        { print "unexpected line in --help: " $0 > "/dev/stderr"; exit 3 }
        END {
            print ".SH FILES"
            print ".TP"; print ".I /etc/docker\\-watchdog/config.yml"
            print "The configuration file of the packaged service (every key, commented out, with its default)."
            print ".TP"; print ".I /etc/default/docker\\-watchdog"
            print "DOCKER_WATCHDOG_* environment variables for the packaged service; they override the file."
            print ".TP"; print ".I /var/lib/docker\\-watchdog/audit.jsonl"
            print "The audit log of remediation actions (remediation.audit_log); read back at start."
            print ".SH SIGNALS"
            print "SIGHUP re\\-reads the configuration without interrupting scrapes (systemctl reload docker\\-watchdog);"
            print "SIGTERM and SIGINT stop the watchdog within seconds."
            print ".SH \"EXIT STATUS\""
            print "0 after a clean stop (and for \\fB\\-\\-help\\fR, \\fB\\-\\-version\\fR, a valid \\fB\\-\\-config.check\\fR);"
            print "2 for an invalid configuration (the unit does not restart it then);"
            print "1 when the service cannot start (e.g. the listen address is taken)."
            print ".SH \"SEE ALSO\""
            print ".BR dockerd (8),"
            print ".BR systemctl (1),"
            print ".BR systemd\\-sysusers (8);"
            print "the README, /usr/share/doc/docker\\-watchdog/README.md.gz."
        }
    ' "$HELP" | perl -CS -pe 's/([^\x00-\x7f])/sprintf("\\[u%04X]", ord($1))/ge'
}

gen_config commented >"$TMP/config.yml" || die "could not generate the configuration from --help"
gen_config plain >"$TMP/config-plain.yml" || die "could not generate the configuration from --help"
# both must load: the commented one changes nothing, the plain one sets every key to its default
for f in config.yml config-plain.yml; do
    out="$(run_bin --config.file "$TMP/$f" --config.check 2>&1)" \
        || die "the generated $f does not load: $out"
done
# A binary whose --config.check prints the effective settings as YAML (with nothing configured:
# the defaults) must agree with the defaults --help shows, key for key and quote for quote.
run_bin --config.check 2>/dev/null | grep -v '^#' | grep -v '^$' >"$TMP/effective.yml" || true
how="loads with --config.check (so do they all set live)"
if [[ -s "$TMP/effective.yml" ]]; then
    grep -v '^ *#' "$TMP/config-plain.yml" | grep -v '^$' >"$TMP/plain-keys.yml"
    diff "$TMP/effective.yml" "$TMP/plain-keys.yml" >"$TMP/config.diff" \
        || { cat "$TMP/config.diff" >&2; die "the defaults of --help and the settings --config.check prints differ (< --config.check, > from --help)"; }
    how="$how; the same defaults as --config.check prints"
fi
say "config: $(grep -cE '^#(  )+[a-z_]+: ' "$TMP/config.yml") keys from --help, commented out; $how"

MAN="$TMP/docker-watchdog.1"
if command -v help2man >/dev/null; then
    help2man --no-info --section=1 --name="Prometheus exporter and self-healer for Docker hosts" \
        --version-string="$VERSION" --output="$MAN" "$BIN" || die "help2man failed"
    say "man page: help2man"
else
    gen_man >"$MAN" || die "could not generate the man page from --help"
    say "man page: generated from --help (help2man is not installed)"
fi

# ---- 3. the Debian package ------------------------------------------------------------------------------
PKG="$TMP/pkg"
ROOT="$PKG/debian/docker-watchdog"                 # where dpkg-shlibdeps expects a package's files
DOC="$ROOT/usr/share/doc/docker-watchdog"
install -d -m 0755 "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/usr/lib/systemd/system" "$ROOT/usr/lib/sysusers.d" \
    "$ROOT/etc/docker-watchdog" "$ROOT/usr/share/man/man1" "$DOC" "$ROOT/usr/share/docker-watchdog" \
    "$ROOT/usr/share/lintian/overrides"
install -m 0755 "$BIN" "$ROOT/usr/bin/docker-watchdog"

# The unit of deploy/systemd with the packaged binary and configuration file; its header is about
# installing it by hand, so it is replaced. Environment= is overridden by /etc/default/docker-watchdog.
UNIT_SRC=deploy/systemd/docker-watchdog.service
grep -qx 'ExecStart=/usr/local/bin/docker-watchdog' "$UNIT_SRC" || die "$UNIT_SRC: no 'ExecStart=/usr/local/bin/docker-watchdog' line to rewrite"
grep -q '^EnvironmentFile=' "$UNIT_SRC" || die "$UNIT_SRC: no EnvironmentFile= line to put the configuration file next to"
{
    echo "# docker-watchdog as a hardened systemd service, from the docker-watchdog package"
    echo "# (deploy/systemd/docker-watchdog.service with the package's paths)."
    echo "#"
    echo "# Not enabled on installation: review /etc/docker-watchdog/config.yml, then"
    echo "#   systemctl enable --now docker-watchdog"
    echo "# Settings: /etc/docker-watchdog/config.yml, or DOCKER_WATCHDOG_* variables in"
    echo "# /etc/default/docker-watchdog (they take precedence). Reload: systemctl reload docker-watchdog."
    echo "# Changes to the unit itself: systemctl edit docker-watchdog (a drop-in), not this file."
    echo ""
    sed -n '/^\[Unit\]/,$p' "$UNIT_SRC" \
        | sed -e 's#^ExecStart=/usr/local/bin/docker-watchdog#ExecStart=/usr/bin/docker-watchdog#' \
              -e '/^Description=/a Documentation=man:docker-watchdog(1) file:/usr/share/doc/docker-watchdog/README.md.gz' \
              -e '/^EnvironmentFile=/i Environment=DOCKER_WATCHDOG_CONFIG_FILE=/etc/docker-watchdog/config.yml'
} >"$TMP/docker-watchdog.service"
install -m 0644 "$TMP/docker-watchdog.service" "$ROOT/usr/lib/systemd/system/docker-watchdog.service"

# sysusers: deploy/systemd's user, and membership of the docker group (created by systemd-sysusers
# if Docker is not installed yet; the unit's SupplementaryGroups=docker needs the group to exist).
grep -q '^u docker-watchdog ' deploy/systemd/docker-watchdog.sysusers || die "deploy/systemd/docker-watchdog.sysusers has no 'u docker-watchdog' line"
{
    echo "# systemd-sysusers(8): the system user of docker-watchdog.service, from the docker-watchdog"
    echo "# package. Its only way to the Docker API is the docker group."
    grep '^u docker-watchdog ' deploy/systemd/docker-watchdog.sysusers
    echo "m docker-watchdog docker"
} >"$TMP/docker-watchdog.sysusers"
install -m 0644 "$TMP/docker-watchdog.sysusers" "$ROOT/usr/lib/sysusers.d/docker-watchdog.conf"

install -m 0644 "$TMP/config.yml" "$ROOT/etc/docker-watchdog/config.yml"
gzip -9n <"$MAN" >"$ROOT/usr/share/man/man1/docker-watchdog.1.gz"

if [[ -n "${DEBFULLNAME:-}" && -n "${DEBEMAIL:-}" ]]; then
    MAINTAINER="$DEBFULLNAME <$DEBEMAIL>"
else
    MAINTAINER="$(git log -1 --format='%an <%ae>' HEAD)"
fi
install -m 0644 deploy/deb/copyright "$DOC/copyright"
{
    printf 'docker-watchdog (%s) unstable; urgency=medium\n\n' "$DEB_VERSION"
    printf '  * Built by scripts/package.sh from revision %s (branch %s).\n' "$REVISION" "$BRANCH"
    printf '  * Upstream changes: /usr/share/doc/docker-watchdog/changelog.gz.\n\n'
    printf ' -- %s  %s\n' "$MAINTAINER" "$(LC_ALL=C date -u -R -d "@$EPOCH")"
} | gzip -9n >"$DOC/changelog.Debian.gz"
gzip -9n <CHANGELOG.md >"$DOC/changelog.gz"
gzip -9n <README.md >"$DOC/README.md.gz"
[[ ! -f SECURITY.md ]] || install -m 0644 SECURITY.md "$DOC/SECURITY.md"

install -m 0644 deploy/deb/lintian-overrides "$ROOT/usr/share/lintian/overrides/docker-watchdog"

# The repository's tracked files of a directory, as they are in the working tree.
copy_tracked() { # DIR DEST [EXCLUDED_PATH]
    local f
    while IFS= read -r -d '' f; do
        [[ -f "$f" && "$f" != "${3:-}" ]] || continue
        install -D -m 0644 "$f" "$2/$f"
    done < <(git ls-files -z -- "$1")
}
# dashboards, provisioning, rules and their tests in /usr/share/docker-watchdog; the two READMEs
# that explain them with the documentation (where lintian wants documentation)
for d in grafana prometheus; do
    copy_tracked "$d" "$ROOT/usr/share/docker-watchdog" "$d/README.md"
    [[ ! -f "$d/README.md" ]] || gzip -9n <"$d/README.md" >"$DOC/README.$d.md.gz"
done
# the manual the README links to (docs/*.md, compressed as dh_compress would) and the example configuration
copy_tracked docs "$DOC"
find "$DOC/docs" -name '*.md' -exec gzip -9n {} + 2>/dev/null || true
copy_tracked examples "$DOC"

# Depends: the packages of the shared libraries the binary needs
shlibs_depends() {
    local out
    if command -v dpkg-shlibdeps >/dev/null; then
        printf 'Source: docker-watchdog\n\nPackage: docker-watchdog\nArchitecture: any\n' >"$PKG/debian/control"
        if out="$(cd "$PKG" && dpkg-shlibdeps -O "debian/docker-watchdog/usr/bin/docker-watchdog" 2>"$TMP/shlibdeps.err")"; then
            out="${out#shlibs:Depends=}"
            [[ -n "$out" ]] && { printf '%s\n' "$out"; return; }
        fi
        say "dpkg-shlibdeps failed ($(head -c 300 "$TMP/shlibdeps.err")); mapping ldd through dpkg -S instead" >&2
    fi
    # ldd's direct dependencies (readelf NEEDED), each mapped to the package that owns the file
    # (usrmerge: /lib/... may be owned as /usr/lib/... or the other way round)
    local lib path owner cand pkgs=()
    for lib in $(readelf -d "$ROOT/usr/bin/docker-watchdog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        # "libz.so.1 => /lib/.../libz.so.1 (0x...)", or the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)"
        path="$(ldd "$ROOT/usr/bin/docker-watchdog" | awk -v l="$lib" '$1 == l && $2 == "=>" { print $3; exit }
                                                                        substr($1, length($1) - length(l)) == "/" l { print $1; exit }')"
        [[ "$path" == /* ]] || die "ldd does not resolve $lib"
        owner=""
        for cand in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}" "/usr$(readlink -f "$path")"; do
            owner="$(dpkg -S "$cand" 2>/dev/null | head -n 1 | sed 's/: .*//')" || true
            [[ -z "$owner" || "$owner" == *", "* ]] || break     # one package, not a shared directory
            owner=""
        done
        [[ -n "$owner" ]] || die "no package owns $path ($lib): cannot compute Depends"
        pkgs+=("${owner%%:*}")
    done
    printf '%s\n' "${pkgs[@]}" | sort -u | paste -sd, | sed 's/,/, /g'
}
DEPENDS="$(shlibs_depends)"
[[ -n "$DEPENDS" ]] || die "could not compute Depends"
say "depends: $DEPENDS"

# every file's mtime at the build date, for a reproducible archive
find "$ROOT" -depth -exec touch -h -d "@$EPOCH" {} +
INSTALLED_SIZE="$(du -sk --apparent-size --exclude=DEBIAN "$ROOT" | cut -f1)"
sed -e "s|@VERSION@|$DEB_VERSION|" -e "s|@ARCH@|$ARCH|" -e "s|@MAINTAINER@|$MAINTAINER|" \
    -e "s|@INSTALLED_SIZE@|$INSTALLED_SIZE|" -e "s|@DEPENDS@|$DEPENDS|" deploy/deb/control.in >"$ROOT/DEBIAN/control"
if grep -q '@[A-Z_]*@' "$ROOT/DEBIAN/control"; then die "deploy/deb/control.in has a placeholder this script does not fill: $(grep -o '@[A-Z_]*@' "$ROOT/DEBIAN/control" | head -n1)"; fi
echo /etc/docker-watchdog/config.yml >"$ROOT/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "deploy/deb/$s" "$ROOT/DEBIAN/$s"; done
# md5sums of everything but the conffiles (dpkg keeps those itself), as dh_md5sums
(cd "$ROOT" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$ROOT/DEBIAN/md5sums"
chmod 0644 "$ROOT/DEBIAN/control" "$ROOT/DEBIAN/conffiles" "$ROOT/DEBIAN/md5sums"
find "$ROOT" -depth -exec touch -h -d "@$EPOCH" {} +

DEB="docker-watchdog_${DEB_VERSION}_${ARCH}.deb"
rm -f "$OUT/$DEB"
dpkg-deb --root-owner-group --build "$ROOT" "$OUT/$DEB" >"$TMP/dpkg-deb.log" 2>&1 \
    || { cat "$TMP/dpkg-deb.log" >&2; die "dpkg-deb --build failed"; }

# ---- the tarball ------------------------------------------------------------------------------------
TARDIR="docker-watchdog-$VERSION-linux-$ARCH"
T="$TMP/tar/$TARDIR"
install -d -m 0755 "$T/deploy/systemd"
install -m 0755 "$BIN" "$T/docker-watchdog"
install -m 0644 "$MAN" "$T/docker-watchdog.1"
install -m 0644 "$TMP/config.yml" "$T/config.yml"
install -m 0644 LICENSE README.md CHANGELOG.md "$T/"
install -m 0644 deploy/deb/copyright "$T/copyright"      # what the binary embeds, and under which licenses
[[ ! -f SECURITY.md ]] || install -m 0644 SECURITY.md "$T/"
install -m 0644 deploy/systemd/docker-watchdog.service deploy/systemd/docker-watchdog.sysusers "$T/deploy/systemd/"
for d in grafana prometheus docs examples; do copy_tracked "$d" "$T"; done
TAR="$TARDIR.tar.gz"
tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner -C "$TMP/tar" -cf - "$TARDIR" \
    | gzip -9n >"$OUT/$TAR"

(cd "$OUT" && sha256sum -- "$DEB" "$TAR" >sha256sums)
size() { numfmt --to=iec-i --suffix=B --format='%.1f' "$(stat -c %s "$1")"; }
say "artifact: $OUT/$DEB ($(size "$OUT/$DEB"), installed $INSTALLED_SIZE KiB)"
say "artifact: $OUT/$TAR ($(size "$OUT/$TAR"))"
say "artifact: $OUT/sha256sums"

# ---- 4. lintian ------------------------------------------------------------------------------------
if [[ "${WATCHDOG_PACKAGE_LINTIAN:-1}" == 0 ]]; then
    say "lintian: skipped (WATCHDOG_PACKAGE_LINTIAN=0)"
elif ! command -v lintian >/dev/null; then
    say "lintian: not installed, not run (apt-get install lintian)"
else
    tl=$(date +%s)
    # --fail-on none: the verdict is ours, from the tags (lintian's exit code also covers its own trouble)
    lintian --display-info --show-overrides --fail-on none "$OUT/$DEB" >"$TMP/lintian.out" 2>"$TMP/lintian.err" \
        || { cat "$TMP/lintian.err" >&2; die "lintian failed to run"; }
    # lintian warns about running as root on stderr; anything else there is worth seeing
    grep -v 'running with root privileges is not recommended' "$TMP/lintian.err" >&2 || true
    sed 's/^/    /' "$TMP/lintian.out"
    errors="$(grep -c '^E: ' "$TMP/lintian.out" || true)"
    warnings="$(grep -c '^W: ' "$TMP/lintian.out" || true)"
    infos="$(grep -c '^I: ' "$TMP/lintian.out" || true)"
    overridden="$(grep -c '^O: ' "$TMP/lintian.out" || true)"
    say "lintian: $errors error(s), $warnings warning(s), $infos info(s), $overridden overridden in $(( $(date +%s) - tl ))s (why: deploy/deb/README.md)"
    (( errors == 0 )) || die "lintian reports errors (artifacts left in $OUT for a look)"
fi
say "done in $(( $(date +%s) - t0 ))s"
