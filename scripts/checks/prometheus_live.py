"""The Python half of prometheus-live.sh: free ports, the Prometheus configuration, waits on the
watchdogs' /metrics, and the checks against Prometheus' HTTP API.

    python3 scripts/checks/prometheus_live.py ports N
    python3 scripts/checks/prometheus_live.py wait SECONDS URL[,URL...] COND...
    python3 scripts/checks/prometheus_live.py config SHIPPED_YML OUT_YML TARGETS_DIR INSTANCE_A INSTANCE_B
    python3 scripts/checks/prometheus_live.py check PROMETHEUS_URL START REPO_ROOT INSTANCE_A INSTANCE_B

See the header of prometheus-live.sh. The functions are imported by
scripts/checks/tests/test_prometheus_live.py.
"""
import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


# ---- free loopback ports -------------------------------------------------------------------------
def cmd_ports(args):
    """ports N : prints N free loopback ports, separated by spaces."""
    socks = [socket.socket() for _ in range(int(args[0]))]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()
    return 0


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
    """(whether cond holds on the exposition text, the sum or maximum it compared; None without a
    matching series)."""
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
def live_config(cfg, base, targets_dir, a):
    """The shipped configuration cfg (parsed; its directory base) changed in place for the test:
    2s intervals, absolute rule file paths, the docker-watchdog job's static target a and its
    file_sd_configs reading targets_dir/*.yml. Exits (SystemExit with the reason) if cfg has no rule
    files or no single docker-watchdog job with both static_configs and file_sd_configs."""
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
    return cfg


def cmd_config(args):
    import yaml
    shipped, out, targets_dir, a, b = args
    cfg = yaml.safe_load(open(shipped))
    base = os.path.dirname(os.path.abspath(shipped))
    cfg = live_config(cfg, base, targets_dir, a)
    os.makedirs(targets_dir, exist_ok=True)
    with open(os.path.join(targets_dir, "fleet.yml"), "w") as f:
        yaml.safe_dump([{"targets": [b]}], f)
    with open(out, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    return 0


# ---- the checks against Prometheus ---------------------------------------------------------------

# Dashboard queries that may return nothing in this test, each with the reason. Keys are
# "<panel id>/<refId>" (annotations: "annotation/<name>").
_NO_BUILD_HISTORY = ("the daemons here are Debian 12's dockerd 20.10, whose BuildKit has no build history; "
                     "IntegrationTests.BuildHistoryTests checks these series on docker26/28, the rule tests the expressions")
ALLOW_EMPTY = {
    key: _NO_BUILD_HISTORY
    for key in ("422/A", "423/A", "424/A", "425/A", "426/A", "426/B", "427/A", "428/A", "428/B")
}
# Recording rules that may record nothing here, with the reason.
ALLOW_EMPTY_RECORDS = {
    name: _NO_BUILD_HISTORY
    for name in (
        "instance:docker_builds_finished:increase1h", "instance:docker_build_steps_cached:ratio_rate1d",
        "instance:docker_build_steps_cached:ratio_rate1h", "instance:docker_build_duration_seconds:p50_rate1h",
        "instance:docker_build_duration_seconds:p95_rate1h",
    )
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


def shipped_rules(docs):
    """(group names, recording rules, alerts) of the parsed rule files docs."""
    groups, records, alerts = set(), [], []
    for doc in docs:
        for g in (doc or {}).get("groups") or []:
            groups.add(g["name"])
            for r in g.get("rules") or []:
                (records if "record" in r else alerts).append(r)
    return groups, records, alerts


def instances(result):
    return [s["metric"].get("instance") for s in result]


def active_alerts(result):
    """{alertname: {instance: state}} of an ALERTS query result. Of several series of an alert on one
    instance the greatest state string counts: 'pending' beats 'firing'."""
    active = {}
    for s in result:
        m = s["metric"]
        active.setdefault(m["alertname"], {})[m.get("instance")] = max(active.get(m["alertname"], {}).get(m.get("instance"), ""), m["alertstate"])
    return active


def alert_problems(active, want, expect_active=EXPECT_ACTIVE, expect_firing=EXPECT_FIRING, expect_quiet=EXPECT_QUIET):
    """The expected alerts not raised (pending or firing) on every instance of want, those not firing
    that must, and the quiet ones raised."""
    problems = []
    for name in sorted(expect_active):
        got = active.get(name, {})
        if set(got) != want:
            problems.append(f"alert {name}: should be pending or firing on both hosts, is on {sorted(map(str, got)) or 'none'}")
        elif name in expect_firing and set(got.values()) != {"firing"}:
            problems.append(f"alert {name}: should be firing on both hosts, is {got}")
    for name in sorted(expect_quiet & set(active)):
        problems.append(f"alert {name}: should be quiet, is {active[name]}")
    return problems


def dashboard_jobs(dash):
    """The queries Grafana runs for a dashboard: [(key, label, expr, instant, legend, min interval)]
    of its panel queries, annotation queries and label_values variable queries."""
    jobs = []

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
    return jobs


def grafana_query(expr, min_interval, range_s):
    """(the query Grafana sends for expr, its step in seconds): $instance -> .*, $__interval,
    $__rate_interval and $__range substituted as Grafana does with a scrape interval of SCRAPE."""
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
    return q, interval


def series_problems(result, want, key, legend, instant, q):
    """Problems of a non-empty dashboard query result: a series without an instance, instances other
    than want, not one series per instance where the legend names only the instance, several
    series of a range query with the same legend."""
    problems = []
    got = instances(result)
    if None in got:
        problems.append(f"series without an instance label: {[s['metric'] for s in result if 'instance' not in s['metric']][:3]}")
    if set(got) - {None} != want:
        problems.append(f"instances {sorted(set(map(str, got)))}, want both {sorted(want)}\n      query: {q}")
    placeholders = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
    if placeholders == {"instance"}:
        extra = {i: got.count(i) for i in want if got.count(i) != 1}
        if extra:
            problems.append(f"legend {legend!r} names only the instance but the series per instance are {extra}")
    if not instant and legend and legend != "__auto" and key.split("/")[0] != "annotation":
        rendered = [re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: s["metric"].get(m.group(1), ""), legend) for s in result]
        dupes = sorted({x for x in rendered if rendered.count(x) > 1})
        if dupes:
            problems.append(f"several series share the legend {dupes[:3]}")
    return problems


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
    rules_dir = os.path.join(repo, "prometheus/rules")
    shipped_groups, records, alerts = shipped_rules(
        yaml.safe_load(open(os.path.join(rules_dir, f)))
        for f in sorted(os.listdir(rules_dir)) if f.endswith(".rules.yml"))
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

    # ---- recording rules: the recorded series, and the expression itself
    before = len(failures)
    for r in records:
        name = r["record"]
        for what, expr in (("series", name), ("expression", r["expr"])):
            data, err = query(expr, True)
            if err:
                fail(f"record {name} ({what}): {err}")
            elif not data["result"]:
                if name not in ALLOW_EMPTY_RECORDS:
                    fail(f"record {name} ({what}): empty result")
            elif set(instances(data["result"])) != want:
                fail(f"record {name} ({what}): instances {sorted(set(map(str, instances(data['result']))))}, want both {sorted(want)}")
    # ---- alert expressions are valid; the expected alerts are raised, the others quiet
    for r in alerts:
        data, err = query(r["expr"], True)
        if err:
            fail(f"alert {r['alert']}: {err}")
    data, err = query("ALERTS", True)
    active = active_alerts((data or {}).get("result", []))
    for p in alert_problems(active, want):
        fail(p)
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
        jobs = dashboard_jobs(dash)  # (key, label, expr, instant, legend, min interval)
        for key, label, expr, instant, legend, min_interval in jobs:
            q, interval = grafana_query(expr, min_interval, range_s)
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
            for p in series_problems(result, want, key, legend, instant, q):
                fail(f"{label}: {p}")
        n_dash += len(jobs)
        allowed = [k for k in ALLOW_EMPTY if k in {j[0] for j in jobs}]
        print(f"prometheus-live.sh: {'ok   ' if len(failures) == before else 'FAIL '} {f}: {len(jobs)} queries "
              f"(panels, annotations, variables), {len(allowed)} allowed to be empty")
    print(f"prometheus-live.sh: {counts['queries']} queries ({counts['range']} range, {counts['instant']} instant) "
          f"over {int(end - start)}s of data; {len(failures)} failure(s)")
    return 1 if failures else 0


COMMANDS = {"ports": cmd_ports, "wait": cmd_wait, "config": cmd_config, "check": cmd_check}


def main(argv):
    """argv: [COMMAND, ARGS...]. Returns the exit status."""
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
