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

python3 - "$UNIT" <<'PY' || fails=$((fails + 1))
import sys
want = {  # option: exact value (the unit's hardening contract; README "Deployment")
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "ProtectClock": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "SystemCallArchitectures": "native", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "ReadWritePaths": "/var/lib/docker-watchdog", "StateDirectory": "docker-watchdog",
    "SupplementaryGroups": "docker", "User": "docker-watchdog", "Restart": "on-failure",
    "ExecReload": "/bin/kill -HUP $MAINPID", "Type": "exec",
}
opts = {}
section = None
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("["):
        section = line
        continue
    k, _, v = line.partition("=")
    if section == "[Service]":
        opts.setdefault(k, []).append(v)
bad = []
for k, v in want.items():
    if opts.get(k) != [v]:
        bad.append(f"{k}: {opts.get(k)!r}, want [{v!r}]")
if "@system-service" not in opts.get("SystemCallFilter", []):
    bad.append("SystemCallFilter lacks @system-service")
stop = opts.get("TimeoutStopSec", [""])[0]
if not stop.endswith("s") or not stop[:-1].isdigit() or not 0 < int(stop[:-1]) <= 90:
    bad.append(f"TimeoutStopSec {stop!r}: want a bound of at most 90s")
if any(k.startswith("ReadWritePaths") and v != ["/var/lib/docker-watchdog"] for k, v in opts.items()):
    bad.append("a second ReadWritePaths")
for b in bad:
    print(f"deploy.sh: FAIL {sys.argv[1]}: {b}")
if not bad:
    print(f"deploy.sh: ok   {sys.argv[1]}: {len(want) + 2} hardening and service options as required")
sys.exit(1 if bad else 0)
PY

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

python3 - "$REPO_ROOT" <<'PY' || fails=$((fails + 1))
import os, sys, yaml
root = sys.argv[1]
bad = []
def here(base, p):
    return os.path.normpath(os.path.join(root, base, p))
# every file of this repository a deployment mounts or ships must exist
for f in ("deploy/compose/docker-compose.yml", "deploy/swarm/docker-watchdog-stack.yml"):
    base = os.path.dirname(f)
    doc = yaml.safe_load(open(os.path.join(root, f)))
    for name, svc in doc["services"].items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else (v.get("source") if v.get("type") == "bind" else None)
            if src and src.startswith("."):
                if not os.path.exists(here(base, src)):
                    bad.append(f"{f}: {name} mounts {src}, which does not exist")
    for name, c in (doc.get("configs") or {}).items():
        if "file" in c and not os.path.exists(here(base, c["file"])):
            bad.append(f"{f}: config {name} names {c['file']}, which does not exist")
    if doc["services"]["docker-watchdog"].get("command") != ["--collector.disk.host-prefix", "/host"]:
        bad.append(f"{f}: the watchdog is not told where the host's root is (--collector.disk.host-prefix /host)")
# the stack ships every rule file, to the directory its prometheus.yml loads
stack = yaml.safe_load(open(os.path.join(root, "deploy/swarm/docker-watchdog-stack.yml")))
svc = stack["services"]["docker-watchdog"]
if svc.get("deploy", {}).get("mode") != "global":
    bad.append("swarm: the watchdog service is not mode: global")
shipped = {os.path.basename(stack["configs"][c["source"]]["file"]): c["target"]
           for c in stack["services"]["prometheus"]["configs"] if c["source"].startswith("rules-")}
rules = sorted(os.listdir(os.path.join(root, "prometheus/rules")))
for r in rules:
    if shipped.get(r) != f"/etc/prometheus/rules/{r}":
        bad.append(f"swarm: prometheus/rules/{r} is not shipped to /etc/prometheus/rules/{r}")
for b in bad:
    print(f"deploy.sh: FAIL {b}")
if not bad:
    print(f"deploy.sh: ok   mounted and shipped files exist; the stack ships all {len(rules)} rule files; global mode")
sys.exit(1 if bad else 0)
PY

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
