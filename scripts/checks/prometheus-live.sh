#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # trap handlers; the containers' scripts are for their own shell
# The shipped Prometheus configuration, rules and Grafana dashboard against a real Prometheus
# scraping two real watchdogs on two private Docker daemons (a fleet of two):
#
#   1. starts private daemons prom-a and prom-b (scripts/test-dockerd.sh, each on its own 1 GB
#      ext4 loop filesystem so that disk remediation measures only its own daemon) and, on each,
#      the same workload: a healthy and an unhealthy compose stack, a plain container, a
#      crash-looping container (restart policy), a container killed by the OOM killer, a
#      container slowly filling its filesystem (so time-to-full has a trend), multi-stage BuildKit
#      builds (hits and misses), a 3-second stall of dockerd (SIGSTOP: probe failures and Docker
#      API errors), and remediation: disk remediation that always acts (act below 99.9% free,
#      target 99.99%, build_cache step, 10s cool-down) so it prunes, reclaims, is held back and
#      stays under pressure; autoheal in dry run for the opted-in unhealthy container; and an
#      audit log made unwritable (replaced by a directory) for the last phase, so actions fail;
#   2. runs a docker-watchdog ($WATCHDOG_BIN) per daemon on 127.0.0.1 with short intervals;
#   3. runs Debian's prometheus on 127.0.0.1 with a configuration generated from the shipped
#      prometheus/prometheus.yml: scrape and evaluation interval 2s, the static target replaced by
#      watchdog A, the file_sd_configs files replaced by a file naming watchdog B, rule_files the
#      shipped prometheus/rules/*.rules.yml (absolute paths);
#   4. then asks Prometheus' HTTP API for: both targets up; every shipped rule group loaded and
#      every rule evaluated without error; every recording rule (its series and its expression)
#      non-empty with a series for each watchdog; every alert expression valid; the alerts this
#      workload must raise raised (pending or firing) on both hosts and the ones it must not
#      raise quiet; and EVERY PromQL expression in grafana/dashboards/*.json (panel queries,
#      annotation queries, variable queries), with Grafana's variables substituted as Grafana
#      would ($instance -> .*, $__interval, $__rate_interval, $__range), run as the range or
#      instant query Grafana runs: no error, no empty result, both instances present, exactly
#      one series per instance where the legend names only the instance, and no two series
#      with the same legend. ALLOW_EMPTY below lists panels allowed to be empty, with why.
#
# Everything it starts (daemons, watchdogs, prometheus) is stopped by pid on exit. Listens on
# loopback and unix sockets only. Takes about 75 seconds.
#
# Environment (as scripts/test.sh exports it; defaults for running it by hand as root):
#   WATCHDOG_BIN                  docker-watchdog binary   (default $REPO/.build/debug/docker-watchdog)
#   WATCHDOG_TEST_DOCKERD_SCRIPT  scripts/test-dockerd.sh
#   WATCHDOG_TEST_DOCKER_CLI      docker client            (default /usr/bin/docker)
#   WATCHDOG_TEST_NO_DOCKER=1     skip (no daemons in this run)
#   WATCHDOG_REQUIRE_DOCKER=1     fail rather than skip when daemons cannot be started
#   PROMETHEUS                    prometheus binary        (default /usr/bin/prometheus)
#   PROM_LIVE_KEEP=1              keep the temporary directory (configs, logs, TSDB)
#   PROM_LIVE_VERBOSE=1           print the number of series and points of every dashboard query
# Logs of a failed run are copied to .build/prometheus-live-logs/.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$REPO_ROOT"

WATCHDOG_BIN="${WATCHDOG_BIN:-$REPO_ROOT/.build/debug/docker-watchdog}"
TD="${WATCHDOG_TEST_DOCKERD_SCRIPT:-$REPO_ROOT/scripts/test-dockerd.sh}"
DOCKER_CLI="${WATCHDOG_TEST_DOCKER_CLI:-/usr/bin/docker}"
PROMETHEUS="${PROMETHEUS:-/usr/bin/prometheus}"
PYTHON="${PYTHON:-python3}"
DAEMONS=(prom-a prom-b)
LOGDIR="$REPO_ROOT/.build/prometheus-live-logs"
T0=$(date +%s)

say() { printf 'prometheus-live.sh: %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }
skip() { say "SKIPPED: $*"; exit 0; }
die() { say "FAIL: $*"; exit 1; }
unavailable() { # can't run here: fail when the run requires Docker, skip otherwise
    if [[ "${WATCHDOG_REQUIRE_DOCKER:-0}" == 1 ]]; then die "$*"; else skip "$*"; fi
}

[[ "${WATCHDOG_TEST_NO_DOCKER:-0}" == 1 ]] && skip "WATCHDOG_TEST_NO_DOCKER=1 (no private daemons in this run)"
[[ "$(id -u)" == 0 ]] || unavailable "private Docker daemons need root"
[[ -x "$WATCHDOG_BIN" ]] || die "no watchdog binary at $WATCHDOG_BIN (set WATCHDOG_BIN)"
[[ -x "$TD" ]] || die "no $TD"
[[ -x "$DOCKER_CLI" ]] || die "no docker client at $DOCKER_CLI"
[[ -x "$PROMETHEUS" ]] || die "no prometheus at $PROMETHEUS (Debian: apt-get install prometheus; scripts/setup.sh does)"
"$PYTHON" -c 'import yaml' 2>/dev/null || die "python3 with PyYAML is needed (Debian: python3-yaml)"
command -v curl >/dev/null || die "curl is needed"

TMP="$(mktemp -d /tmp/prom-live.XXXXXX)"
pids=()          # watchdogs and prometheus, stopped by pid
started=()       # private daemons, stopped with test-dockerd.sh
stalled=()       # dockerd pids we SIGSTOPped and have not continued yet
py_pid=""        # the Python helper running now
result=1

stop_pid() {
    local pid="$1" n
    kill -TERM "$pid" 2>/dev/null || return 0
    for n in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? p n bg=()
    trap - EXIT INT TERM
    for p in ${stalled[@]+"${stalled[@]}"}; do kill -CONT "$p" 2>/dev/null || true; done
    [[ -n "$py_pid" ]] && stop_pid "$py_pid"
    for p in ${pids[@]+"${pids[@]}"}; do stop_pid "$p"; done
    if (( rc != 0 || result != 0 )); then
        mkdir -p "$LOGDIR"
        rm -f "$LOGDIR"/*
        cp "$TMP"/*.log "$TMP"/prometheus.yml "$LOGDIR"/ 2>/dev/null || true
        for n in ${started[@]+"${started[@]}"}; do
            cp "${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}/$n/dockerd.log" "$LOGDIR/dockerd-$n.log" 2>/dev/null || true
        done
        say "logs copied to $LOGDIR"
    fi
    for n in ${started[@]+"${started[@]}"}; do
        { "$TD" stop "$n" >/dev/null || say "could not stop private daemon $n cleanly"; } &
        bg+=($!)
    done
    for p in ${bg[@]+"${bg[@]}"}; do wait "$p" || true; done
    if [[ "${PROM_LIVE_KEEP:-0}" == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---- the Python half: config generation, metric waits, the Prometheus queries -------------------
read -r -d '' PY <<'PYEOF' || true
import json, os, re, sys, time, urllib.parse, urllib.request

def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()

# ---- watchdog /metrics conditions: 'name{a="b"} >= N' over the sum of matching series ----------
SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([A-Za-z_]\w*)="((?:\\.|[^"\\])*)"')
COND = re.compile(r'^\s*(max:)?([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s*(>=|==|>)\s*(\S+)\s*$')

def samples(text):
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m:
            yield m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))

def holds(text, cond):
    m = COND.match(cond)
    name, want, op, n = m.group(2), dict(LABEL.findall(m.group(3) or "")), m.group(4), float(m.group(5))
    found = [v for s, l, v in samples(text) if s == name and all(l.get(k) == x for k, x in want.items())]
    if not found:
        return False, None
    total = max(found) if m.group(1) else sum(found)
    return {">=": total >= n, "==": total == n, ">": total > n}[op], total

def cmd_wait(args):
    """wait SECONDS URL[,URL...] COND... : exit 0 once every condition holds at every URL.
    COND is 'name{label="value",...} OP N' (OP >=, == or >) on the sum of the matching series,
    or on their maximum with a 'max:' prefix."""
    deadline, urls, conds = time.time() + float(args[0]), args[1].split(","), args[2:]
    while True:
        missing = []
        for u in urls:
            try:
                text = get(u)
            except Exception as e:
                missing.append(f"{u}: {e}")
                continue
            for c in conds:
                ok, total = holds(text, c)
                if not ok:
                    missing.append(f"{u}: {c} (now {total})")
        if not missing:
            return 0
        if time.time() >= deadline:
            for m in missing:
                print(f"    not met: {m}")
            return 1
        time.sleep(0.5)

# ---- the Prometheus configuration, from the shipped one ------------------------------------------
def cmd_config(args):
    import yaml
    shipped, out, targets_dir, a, b = args
    cfg = yaml.safe_load(open(shipped))
    base = os.path.dirname(os.path.abspath(shipped))
    cfg.setdefault("global", {})
    cfg["global"].update({"scrape_interval": "2s", "scrape_timeout": "2s", "evaluation_interval": "2s"})
    cfg["rule_files"] = [os.path.join(base, f) for f in cfg.get("rule_files") or []]
    if not cfg["rule_files"]:
        sys.exit("the shipped prometheus.yml loads no rule files")
    jobs = [j for j in cfg.get("scrape_configs") or [] if j.get("job_name") == "docker-watchdog"]
    if len(jobs) != 1:
        sys.exit("the shipped prometheus.yml has no single job docker-watchdog")
    job = jobs[0]
    if not job.get("static_configs") or not job.get("file_sd_configs"):
        sys.exit("the shipped job has no static_configs or no file_sd_configs to point at the watchdogs")
    job["static_configs"] = [{"targets": [a]}]
    job["file_sd_configs"] = [{"files": [os.path.join(targets_dir, "*.yml")], "refresh_interval": "5s"}]
    os.makedirs(targets_dir, exist_ok=True)
    with open(os.path.join(targets_dir, "fleet.yml"), "w") as f:
        yaml.safe_dump([{"targets": [b]}], f)
    with open(out, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return 0

# ---- the checks against Prometheus ---------------------------------------------------------------

# Dashboard queries that may return nothing in this test, each with the reason. Keys are
# "<panel id>/<refId>" (annotations: "annotation/<name>"). Empty now: every panel gets a workload.
ALLOW_EMPTY = {
}

# Alerts this workload raises on both hosts (pending or firing), those that must be firing
# already (no `for:`), and those that must stay quiet.
EXPECT_ACTIVE = {
    "DockerContainerUnhealthy", "DockerComposeStackUnhealthy", "DockerContainerRestartLoop",
    "DockerContainerOOMKilled", "DockerWatchdogRemediationFailing", "DockerWatchdogRemediationSuppressed",
    "DockerWatchdogRemediationNotRestoringSpace",
}
EXPECT_FIRING = {"DockerContainerOOMKilled", "DockerWatchdogRemediationFailing"}
EXPECT_QUIET = {
    "DockerWatchdogDown", "DockerWatchdogStale", "DockerWatchdogEventsStreamDown", "DockerRootDiskLow",
    "DockerRootInodesLow", "DockerRootFilesystemReadOnly", "DockerRootStatfsHung", "DockerBuildCacheHitRateCollapsed",
    "DockerWatchdogUnauthorizedRequests",
}

SCRAPE = 15  # the provisioned data source's timeInterval (grafana/provisioning/datasources)

def dur(s):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(s or ""))
    if not m:
        return 0
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]

def cmd_check(args):
    import yaml
    prom, start, repo, inst_a, inst_b = args
    start = float(start)
    end = time.time()
    want = {inst_a, inst_b}
    failures, counts = [], {"queries": 0, "range": 0, "instant": 0}

    def api(path, **params):
        # queries are POSTed (as Grafana does with httpMethod POST); the other endpoints want GET
        data = urllib.parse.urlencode(params).encode() if params else None
        try:
            with urllib.request.urlopen(urllib.request.Request(prom + path, data=data), timeout=30) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            try:
                body = json.load(e)
            except Exception:
                return None, f"HTTP {e.code}"
        except Exception as e:
            return None, str(e)
        if body.get("status") != "success":
            return None, f"{body.get('errorType')}: {body.get('error')}"
        return body["data"], None

    def fail(msg):
        failures.append(msg)
        print(f"prometheus-live.sh: FAIL  {msg}")

    def query(expr, instant, step=15):
        counts["queries"] += 1
        if instant:
            counts["instant"] += 1
            return api("/api/v1/query", query=expr, time=f"{end:.3f}")
        counts["range"] += 1
        return api("/api/v1/query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=str(step))

    # ---- targets
    data, err = api("/api/v1/targets")
    ups = {t["labels"].get("instance"): t["health"] for t in (data or {}).get("activeTargets", [])} if data else {}
    if err or {i: ups.get(i) for i in want} != {i: "up" for i in want}:
        fail(f"targets: want {sorted(want)} up, got {ups or err}")

    # ---- rules as loaded
    shipped_groups, records, alerts = set(), [], []
    rules_dir = os.path.join(repo, "prometheus/rules")
    for f in sorted(os.listdir(rules_dir)):
        if not f.endswith(".rules.yml"):
            continue
        for g in (yaml.safe_load(open(os.path.join(rules_dir, f))) or {}).get("groups") or []:
            shipped_groups.add(g["name"])
            for r in g.get("rules") or []:
                (records if "record" in r else alerts).append(r)
    data, err = api("/api/v1/rules")
    loaded = {g["name"]: g for g in (data or {}).get("groups", [])}
    if err or set(loaded) != shipped_groups:
        fail(f"rule groups: shipped {sorted(shipped_groups)}, loaded {sorted(loaded) if not err else err}")
    bad = [f"{r.get('name')}: {r.get('health')} {r.get('lastError', '')}".strip()
           for g in loaded.values() for r in g.get("rules", []) if r.get("health") != "ok"]
    if bad:
        fail("rules not evaluated cleanly: " + "; ".join(bad))
    if not failures:
        print(f"prometheus-live.sh: ok    both targets up; {len(loaded)} rule groups loaded, all "
              f"{len(records)} recording rules and {len(alerts)} alerts evaluated without error")

    def instances(result):
        return [s["metric"].get("instance") for s in result]

    # ---- recording rules: the recorded series, and the expression itself
    before = len(failures)
    for r in records:
        name = r["record"]
        for what, expr in (("series", name), ("expression", r["expr"])):
            data, err = query(expr, True)
            if err:
                fail(f"record {name} ({what}): {err}")
            elif not data["result"]:
                fail(f"record {name} ({what}): empty result")
            elif set(instances(data["result"])) != want:
                fail(f"record {name} ({what}): instances {sorted(set(map(str, instances(data['result']))))}, want both {sorted(want)}")
    # ---- alert expressions are valid; the expected alerts are raised, the others quiet
    for r in alerts:
        data, err = query(r["expr"], True)
        if err:
            fail(f"alert {r['alert']}: {err}")
    data, err = query("ALERTS", True)
    active = {}
    for s in (data or {}).get("result", []):
        m = s["metric"]
        active.setdefault(m["alertname"], {})[m.get("instance")] = max(active.get(m["alertname"], {}).get(m.get("instance"), ""), m["alertstate"])
    for name in sorted(EXPECT_ACTIVE):
        got = active.get(name, {})
        if set(got) != want:
            fail(f"alert {name}: should be pending or firing on both hosts, is on {sorted(map(str, got)) or 'none'}")
        elif name in EXPECT_FIRING and set(got.values()) != {"firing"}:
            fail(f"alert {name}: should be firing on both hosts, is {got}")
    for name in sorted(EXPECT_QUIET & set(active)):
        fail(f"alert {name}: should be quiet, is {active[name]}")
    print(f"prometheus-live.sh: {'ok   ' if len(failures) == before else 'FAIL '} recording rules (series and "
          f"expressions) non-empty for both instances; alert expressions valid; alerts now: "
          + ", ".join(f"{k} ({'/'.join(sorted(set(v.values())))})" for k, v in sorted(active.items())))

    # ---- the dashboards
    dash_dir = os.path.join(repo, "grafana/dashboards")
    range_s = max(60, int(end - start))
    n_dash = 0
    for f in sorted(os.listdir(dash_dir)):
        if not f.endswith(".json"):
            continue
        dash = json.load(open(os.path.join(dash_dir, f)))
        before = len(failures)
        jobs = []  # (key, label, expr, instant, legend, min interval)

        def panels(ps):
            for p in ps or []:
                yield p
                yield from panels(p.get("panels"))
        for p in panels(dash.get("panels")):
            for t in p.get("targets") or []:
                if str(t.get("expr") or "").strip():
                    instant = bool(t.get("instant")) and not t.get("range")
                    jobs.append((f"{p['id']}/{t.get('refId')}", f"panel {p['id']} {p.get('title')!r} {t.get('refId')}",
                                 t["expr"], instant, t.get("legendFormat") or "", p.get("interval")))
        for a in (dash.get("annotations") or {}).get("list") or []:
            if a.get("expr"):
                jobs.append((f"annotation/{a.get('name')}", f"annotation {a.get('name')!r}", a["expr"], False,
                             a.get("titleFormat") or "", a.get("step")))
        for v in (dash.get("templating") or {}).get("list") or []:
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.match(r"\s*label_values\((.*),\s*(\w+)\)\s*$", str(q or ""), re.S)
            if v.get("type") == "query" and m:
                jobs.append((f"variable/{v.get('name')}", f"variable {v.get('name')}", m.group(1), True, "{{" + m.group(2) + "}}", None))
        for key, label, expr, instant, legend, min_interval in jobs:
            interval = max(SCRAPE, dur(min_interval))
            rate_interval = max(interval + SCRAPE, 4 * SCRAPE)
            q = expr
            for pat, val in ((r"\$\{instance(?::\w+)?\}|\$instance\b|\[\[instance\]\]", ".*"),
                             (r"\$\{?__rate_interval\}?", f"{rate_interval}s"),
                             (r"\$\{?__interval_ms\}?", str(interval * 1000)),
                             (r"\$\{?__interval\}?", f"{interval}s"),
                             (r"\$\{?__range_ms\}?", str(range_s * 1000)),
                             (r"\$\{?__range_s\}?", str(range_s)),
                             (r"\$\{?__range\}?", f"{range_s}s")):
                q = re.sub(pat, val, q)
            if "$" in q:
                fail(f"{label}: unknown variable in {q!r}")
                continue
            data, err = query(q, instant, step=interval)
            if err:
                fail(f"{label}: {err}\n      query: {q}")
                continue
            result = data["result"]
            if os.environ.get("PROM_LIVE_VERBOSE") == "1":
                print(f"    {label}: {len(result)} series, {sum(len(x.get('values', [1])) for x in result)} points")
            if not result:
                if key not in ALLOW_EMPTY:
                    fail(f"{label}: empty result\n      query: {q}")
                continue
            got = instances(result)
            if None in got:
                fail(f"{label}: series without an instance label: {[s['metric'] for s in result if 'instance' not in s['metric']][:3]}")
            if set(got) - {None} != want:
                fail(f"{label}: instances {sorted(set(map(str, got)))}, want both {sorted(want)}\n      query: {q}")
            placeholders = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
            if placeholders == {"instance"}:
                extra = {i: got.count(i) for i in want if got.count(i) != 1}
                if extra:
                    fail(f"{label}: legend {legend!r} names only the instance but the series per instance are {extra}")
            if not instant and legend and legend != "__auto" and key.split("/")[0] != "annotation":
                rendered = [re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: s["metric"].get(m.group(1), ""), legend) for s in result]
                dupes = sorted({x for x in rendered if rendered.count(x) > 1})
                if dupes:
                    fail(f"{label}: several series share the legend {dupes[:3]}")
        n_dash += len(jobs)
        allowed = [k for k in ALLOW_EMPTY if k in {j[0] for j in jobs}]
        print(f"prometheus-live.sh: {'ok   ' if len(failures) == before else 'FAIL '} {f}: {len(jobs)} queries "
              f"(panels, annotations, variables), {len(allowed)} allowed to be empty")
    print(f"prometheus-live.sh: {counts['queries']} queries ({counts['range']} range, {counts['instant']} instant) "
          f"over {int(end - start)}s of data; {len(failures)} failure(s)")
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit({"wait": cmd_wait, "config": cmd_config, "check": cmd_check}[sys.argv[1]](sys.argv[2:]))
PYEOF
# In the background and waited for, so that a TERM or INT runs the trap at once (the trap stops it).
py() {
    local rc=0
    "$PYTHON" -c "$PY" "$@" &
    py_pid=$!
    wait "$py_pid" || rc=$?
    py_pid=""
    return "$rc"
}

free_ports() { # N free loopback ports
    "$PYTHON" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()' "$1"
}

# ---- 1. daemons ------------------------------------------------------------------------------------
say "starting private daemons ${DAEMONS[*]} (1 GB loop filesystems)"
declare -A HOST PIDFILE
bg=()
for n in "${DAEMONS[@]}"; do
    "$TD" stop "$n" >/dev/null 2>&1 || true     # leftovers of an interrupted run
    started+=("$n")
    "$TD" start "$n" --loopfs 1024 >"$TMP/start-$n.log" 2>&1 &
    bg+=($!)
done
for i in "${!bg[@]}"; do
    wait "${bg[$i]}" || { cat "$TMP/start-${DAEMONS[$i]}.log"; die "could not start private daemon ${DAEMONS[$i]}"; }
done
for n in "${DAEMONS[@]}"; do
    eval "$("$TD" env "$n" --prefix D)"
    HOST[$n]="$D_HOST"
    PIDFILE[$n]="$D_PIDFILE"
done
dk() { local n="$1"; shift; env -u DOCKER_HOST -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY "$DOCKER_CLI" -H "${HOST[$n]}" "$@"; }

# ---- 2. watchdogs and prometheus ----------------------------------------------------------------------
read -r PORT_A PORT_B PORT_P <<<"$(free_ports 3)"
declare -A PORT=([prom-a]=$PORT_A [prom-b]=$PORT_B) AUDIT URL
for n in "${DAEMONS[@]}"; do
    AUDIT[$n]="$TMP/audit-$n/audit.jsonl"
    URL[$n]="http://127.0.0.1:${PORT[$n]}/metrics"
    "$WATCHDOG_BIN" \
        --docker.host "${HOST[$n]}" \
        --web.listen-address "127.0.0.1:${PORT[$n]}" \
        --collector.daemon.interval 1s --collector.daemon.timeout 1s \
        --collector.disk.interval 1s \
        --collector.system-df.interval 5s \
        --collector.build-cache.interval 2s \
        --collector.process.interval 2s \
        --collector.containers.interval 1s \
        --remediation.interval 2s \
        --remediation.audit-log "${AUDIT[$n]}" \
        --remediation.disk.enabled=true \
        --remediation.disk.act-below-ratio 0.999 --remediation.disk.target-ratio 0.9999 \
        --remediation.disk.steps build_cache --remediation.disk.cooldown 10s \
        --remediation.autoheal.dry-run=true --remediation.autoheal.min-unhealthy 1s --remediation.autoheal.backoff 2s \
        >"$TMP/watchdog-$n.log" 2>&1 &
    pids+=($!)
done
INST_A="127.0.0.1:$PORT_A"; INST_B="127.0.0.1:$PORT_B"
ALL_URLS="${URL[prom-a]},${URL[prom-b]}"

py config "$REPO_ROOT/prometheus/prometheus.yml" "$TMP/prometheus.yml" "$TMP/targets" "$INST_A" "$INST_B" \
    || die "could not generate the Prometheus configuration"
PROM="http://127.0.0.1:$PORT_P"
"$PROMETHEUS" --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PORT_P" --storage.tsdb.retention.time=1d --log.level=warn \
    >"$TMP/prometheus.log" 2>&1 &
pids+=($!)
prom_pid=$!
PROM_START=$(date +%s.%N)
for _ in $(seq 100); do
    curl -sf "$PROM/-/ready" >/dev/null 2>&1 && break
    kill -0 "$prom_pid" 2>/dev/null || { tail -20 "$TMP/prometheus.log"; die "prometheus exited"; }
    sleep 0.2
done
curl -sf "$PROM/-/ready" >/dev/null || die "prometheus is not ready after 20s"
py wait 20 "$ALL_URLS" 'docker_watchdog_events_stream_up == 1' 'docker_daemon_up == 1' \
    || die "the watchdogs did not come up (logs: $TMP/watchdog-*.log)"
say "watchdogs on $INST_A (prom-a) and $INST_B (prom-b), prometheus on 127.0.0.1:$PORT_P ($(elapsed))"

# ---- 3. workloads ---------------------------------------------------------------------------------------
CTX="$TMP/build"
mkdir -p "$CTX"
cat >"$CTX/Dockerfile" <<'EOF'
# An 8 MB intermediate stage that is not in the final image: its records are build cache of
# their own (not shared with an image), so pruning them frees space the watchdog can measure.
FROM busybox:latest AS blob
RUN head -c 8000000 /dev/urandom > /blob
RUN wc -c /blob > /size
FROM busybox:latest
COPY --from=blob /size /size
RUN cat /size > /copied
EOF
build() { DOCKER_BUILDKIT=1 dk "$1" build --network none -q "$CTX" >>"$TMP/build-$1.log" 2>&1; }
build_all() { # the same build on every daemon at once
    local n b=()
    for n in "${DAEMONS[@]}"; do build "$n" & b+=($!); done
    for n in "${b[@]}"; do wait "$n" || { tail -20 "$TMP"/build-*.log; die "a build failed"; }; done
}

containers() {
    local n="$1"
    # compose stack "shop": two healthy services; "batch": an unhealthy worker (opted in to
    # autoheal, which runs in dry run) and a cron service without a health check
    local p=com.docker.compose.project s=com.docker.compose.service
    dk "$n" run -d --network none --name shop-web --label "$p=shop" --label "$s=web" \
        --health-cmd true --health-interval 1s busybox sleep 100000
    dk "$n" run -d --network none --name shop-db --label "$p=shop" --label "$s=db" \
        --health-cmd true --health-interval 1s busybox sleep 100000
    dk "$n" run -d --network none --name batch-worker --label "$p=batch" --label "$s=worker" \
        --label docker-watchdog.autoheal=true \
        --health-cmd false --health-interval 1s --health-retries 1 busybox sleep 100000
    dk "$n" run -d --network none --name batch-cron --label "$p=batch" --label "$s=cron" busybox sleep 100000
    dk "$n" run -d --network none --name plain busybox sleep 100000
    dk "$n" run -d --network none --name crashloop --restart always busybox sh -c 'sleep 2; exit 3'
    # 1 MB a second into its own layer (on the daemon's loop filesystem): a shrinking trend
    dk "$n" run -d --network none --name filler busybox \
        sh -c 'i=0; while [ $i -lt 300 ]; do head -c 1048576 /dev/zero > /f$i; i=$((i+1)); sleep 1; done; sleep 100000'
    build "$n"
}
say "workload: compose stacks, crash loop, filler, first builds"
bg=()
for n in "${DAEMONS[@]}"; do containers "$n" >"$TMP/workload-$n.log" 2>&1 & bg+=($!); done
for i in "${!bg[@]}"; do
    wait "${bg[$i]}" || { cat "$TMP/workload-${DAEMONS[$i]}.log"; die "workload on ${DAEMONS[$i]} failed"; }
done

# Builds until both hits and misses of build steps are counted and a prune has reclaimed space:
# a build of the same Dockerfile hits unless the disk ladder pruned the cache in between.
say "workload: builds until hits, misses and reclaimed space are counted ($(elapsed))"
ok=0
for _ in $(seq 12); do
    if py wait 0 "$ALL_URLS" \
        'docker_build_cache_hits_total{record_type="regular",origin="build"} >= 1' \
        'docker_build_cache_misses_total{record_type="regular",origin="build"} >= 1' \
        'docker_watchdog_remediation_reclaimed_bytes_total > 0' >/dev/null; then ok=1; break; fi
    build_all
    sleep 3
done
(( ok )) || py wait 0 "$ALL_URLS" \
    'docker_build_cache_hits_total{record_type="regular",origin="build"} >= 1' \
    'docker_build_cache_misses_total{record_type="regular",origin="build"} >= 1' \
    'docker_watchdog_remediation_reclaimed_bytes_total > 0' || die "builds were not counted as hits and misses, or no space was reclaimed"

# The OOM kill only now that Prometheus has scraped the counter at 0: an increase it never saw
# start is no increase (DockerContainerOOMKilled must fire).
# Docker 20.10 occasionally misses its own OOMKilled flag (the exit overtakes the OOM event): such
# a container is removed and the kill done again under a new name.
oom_kill() {
    local n="$1" i
    for i in 1 2 3; do
        dk "$n" run -d --network none --name "oom-$i" --memory 16m --memory-swap 16m busybox \
            sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a)' || return 1
        dk "$n" wait "oom-$i" || return 1
        [[ "$(dk "$n" inspect -f '{{.State.OOMKilled}}' "oom-$i")" == true ]] && return 0
        echo "oom-$i ended without Docker's OOMKilled flag; once more"
        dk "$n" rm -f "oom-$i" || return 1
    done
    return 1
}
say "workload: a container killed by the OOM killer ($(elapsed))"
bg=()
for n in "${DAEMONS[@]}"; do oom_kill "$n" >>"$TMP/workload-$n.log" 2>&1 & bg+=($!); done
for i in "${!bg[@]}"; do
    wait "${bg[$i]}" || { tail -5 "$TMP/workload-${DAEMONS[$i]}.log"; die "no container was OOM-killed on ${DAEMONS[$i]}"; }
done
grep -h 'once more' "$TMP"/workload-*.log | sed 's/^/prometheus-live.sh: note: /' || true

say "workload: dockerd stalled for 3s (SIGSTOP) for probe failures and API errors ($(elapsed))"
for n in "${DAEMONS[@]}"; do
    p="$(tr -dc '0-9' <"${PIDFILE[$n]}")"
    kill -STOP "$p"
    stalled+=("$p")
done
sleep 3
for p in "${stalled[@]}"; do kill -CONT "$p"; done
stalled=()

py wait 60 "$ALL_URLS" \
    'docker_container_oom_kills_total >= 1' \
    'docker_container_restarts_total >= 2' \
    'docker_container_health_transitions_total{status="unhealthy"} >= 1' \
    'docker_daemon_probe_failures_total >= 1' \
    'docker_watchdog_docker_api_errors_total >= 1' \
    'docker_watchdog_remediation_actions_total{policy="disk"} >= 2' \
    'docker_watchdog_remediation_dry_run_actions_total{policy="autoheal"} >= 1' \
    'docker_watchdog_remediation_suppressed{policy="disk"} == 1' \
    'docker_watchdog_disk_pressure == 1' \
    || die "the workload did not show up in the watchdogs' metrics"

# Last phase: the audit log becomes a directory, so every action fails ("not run"), and the cache
# of one more build stays for the build-cache panels.
say "workload: audit log unwritable until actions fail; last build ($(elapsed))"
for n in "${DAEMONS[@]}"; do
    mv "${AUDIT[$n]}" "${AUDIT[$n]}.before"
    mkdir "${AUDIT[$n]}"
done
build_all
py wait 60 "$ALL_URLS" 'max:docker_watchdog_remediation_failures_total >= 2' \
    || die "remediation failures were not counted"

# A minute of data at least (a 1-minute rate window), and a few scrapes and rule evaluations
# after the last change.
while (( $(date +%s) - ${PROM_START%.*} < 60 )); do sleep 1; done
sleep 6
for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null && continue
    tail -n 20 "$TMP"/watchdog-*.log "$TMP/prometheus.log"
    die "process ${pids[$i]} (watchdog A, B, prometheus: #$i) has exited"
done

say "querying prometheus ($(elapsed))"
if py check "$PROM" "$PROM_START" "$REPO_ROOT" "$INST_A" "$INST_B"; then
    result=0
    say "OK ($(elapsed))"
else
    say "FAILED ($(elapsed))"
fi
exit "$result"
