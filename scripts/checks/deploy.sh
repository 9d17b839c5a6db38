#!/usr/bin/env bash
# Static checks of deploy/: the systemd unit, the compose example and the Swarm stack.
#
#   systemd   `systemd-analyze verify` of the unit (a copy whose ExecStart is a binary that exists
#             here), any message is a failure (verify exits 0 on unknown keys and bad values);
#             every hardening option present with its value; `systemd-analyze security --offline`
#             exposure at most 2.0
#   compose   `docker-compose config` (Debian's docker-compose 1.29, schema 2.4 and 3.8) of
#             deploy/compose and deploy/swarm, with and without DOCKER_GID (which must be
#             required); every bind-mounted or config file of the repository exists;
#             `docker stack config` of the stack too when the docker CLI has it (20.10's has not)
#   prometheus `promtool check config` of both Prometheus configurations, with
#             prometheus/rules where the containers see them; the stack ships every rule file
# The Python parts are scripts/checks/deploy_unit.py (hardening options) and deploy_files.py (mounted
# and shipped files), tested by scripts/checks/tests/.
# About 3 seconds. Needs systemd-analyze, docker-compose, promtool, python3-yaml (scripts/setup.sh).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${WATCHDOG_REPO_ROOT:-$(cd "$SCRIPT_DIR/../.." && pwd)}"
cd "$REPO_ROOT"
prog="deploy.sh"
say() { printf '%s: %s\n' "$prog" "$*"; }
fails=0
ok() { say "ok   $*"; }
bad() { say "FAIL $*"; fails=$((fails + 1)); }
for t in systemd-analyze docker-compose promtool python3; do
    command -v "$t" >/dev/null || { say "FAIL $t is missing (scripts/setup.sh installs it)"; exit 1; }
done
TMP="$(mktemp -d /tmp/dwt-deploy.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT

# ---- systemd ---------------------------------------------------------------------------------------
UNIT=deploy/systemd/docker-watchdog.service
exe=/usr/local/bin/docker-watchdog
grep -qx "ExecStart=$exe" "$UNIT" || bad "$UNIT: ExecStart is not $exe"
# verify wants ExecStart to exist: the same unit, pointed at a binary that does
stand_in="${WATCHDOG_BIN:-/bin/true}"
[[ -x "$stand_in" ]] || stand_in=/bin/true
sed "s#^ExecStart=$exe#ExecStart=$stand_in#" "$UNIT" >"$TMP/docker-watchdog.service"
if out="$(systemd-analyze verify --man=no "$TMP/docker-watchdog.service" 2>&1)" && [[ -z "$out" ]]; then
    ok "systemd-analyze verify $UNIT"
else
    bad "systemd-analyze verify $UNIT:"; printf '%s\n' "$out" | sed 's/^/    /'
fi
# a unit with a typo must fail this check, or the check proves nothing
printf '[Service]\nExecStart=/bin/true\nProtectSytem=strict\n' >"$TMP/typo.service"
out="$(systemd-analyze verify --man=no "$TMP/typo.service" 2>&1 || true)"
[[ -n "$out" ]] || bad "systemd-analyze verify is silent about an unknown key: the check above cannot fail"

python3 "$SCRIPT_DIR/deploy_unit.py" "$UNIT" || fails=$((fails + 1))

sec="$(systemd-analyze security --offline=true --no-pager "$TMP/docker-watchdog.service" 2>&1 | tail -n 1)"
level="$(grep -o 'exposure level for [^:]*: [0-9.]*' <<<"$sec" | awk '{ print $NF }')"
if [[ -n "$level" ]] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
    ok "systemd-analyze security: exposure $level (at most 2.0)"
else
    bad "systemd-analyze security: ${sec:-no answer} (want an exposure of at most 2.0)"
fi

# ---- compose and swarm -------------------------------------------------------------------------------
GID="$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 999)"
compose_check() { # FILE [stack]
    local f="$1" out
    if out="$(cd "$(dirname "$f")" && DOCKER_GID="$GID" docker-compose -f "$(basename "$f")" config 2>"$TMP/compose.err")"; then
        ok "docker-compose config $f"
        printf '%s\n' "$out" >"$TMP/$(basename "$f").resolved"
    else
        bad "docker-compose config $f:"; sed 's/^/    /' "$TMP/compose.err"
    fi
    if (cd "$(dirname "$f")" && env -u DOCKER_GID docker-compose -f "$(basename "$f")" config -q) >/dev/null 2>&1; then
        bad "$f is accepted without DOCKER_GID (the socket's group must be required)"
    else
        ok "$f requires DOCKER_GID"
    fi
    if [[ "${2:-}" == stack ]] && docker stack config --help >/dev/null 2>&1; then
        if (cd "$(dirname "$f")" && DOCKER_GID="$GID" docker stack config -c "$(basename "$f")") >/dev/null 2>"$TMP/stack.err"; then
            ok "docker stack config $f"
        else
            bad "docker stack config $f:"; sed 's/^/    /' "$TMP/stack.err"
        fi
    fi
}
compose_check deploy/compose/docker-compose.yml
compose_check deploy/swarm/docker-watchdog-stack.yml stack

python3 "$SCRIPT_DIR/deploy_files.py" "$REPO_ROOT" || fails=$((fails + 1))

# ---- prometheus configurations --------------------------------------------------------------------------
for f in deploy/compose/prometheus.yml deploy/swarm/prometheus.yml; do
    d="$TMP/prom-${f//\//_}"
    mkdir -p "$d"
    cp "$f" "$d/prometheus.yml"
    ln -s "$REPO_ROOT/prometheus/rules" "$d/rules"       # where the containers have them
    if out="$(promtool check config "$d/prometheus.yml" 2>&1)" && grep -q "SUCCESS: $(find prometheus/rules -maxdepth 1 -name "*.rules.yml" | wc -l) rule files found" <<<"$out"; then
        ok "promtool check config $f (with prometheus/rules)"
    else
        bad "promtool check config $f:"; printf '%s\n' "$out" | sed 's/^/    /'
    fi
done
grep -q 'dockerswarm_sd_configs' deploy/swarm/prometheus.yml || bad "deploy/swarm/prometheus.yml does not discover through dockerswarm_sd_configs"

(( fails == 0 )) || { say "$fails check(s) failed"; exit 1; }
say "OK"
