#!/usr/bin/env bash
# Checks the Prometheus configuration, rules and rule tests in prometheus/ and the Grafana
# dashboard in grafana/:
#
#   - promtool check config prometheus/prometheus.yml   (also parses its rule files and target files)
#   - promtool check rules prometheus/rules/*.yml
#   - promtool test rules prometheus/tests/*.yml
#   - rule conventions: level:metric:operations record names; every alert has a severity label
#     (critical, warning, info) and summary/description annotations naming {{ $labels.instance }};
#     no `type` label; every alert has a test where it fires and one where it must not, and every
#     recording rule a value test
#   - the dashboard: valid JSON; no data source uid but the ${datasource} variable; every panel
#     (rows aside) has a title and a unit; every query (panels and annotations) is non-empty and
#     selects instance=~"$instance"; panels lie inside the 24-column grid without overlapping
#   - every metric name in rule and dashboard queries is exported (Sources/Watchdog/Metrics/
#     MetricCatalog.swift and MetricCatalog+*.swift, with _total/_info/_bucket/_sum/_count), a
#     recording rule, or `up`
#
# Prints one line per check and exits non-zero if any failed. Needs promtool (Debian: prometheus)
# and python3 with PyYAML (Debian: python3-yaml).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$REPO_ROOT"

PROMTOOL="${PROMTOOL:-promtool}"
PYTHON="${PYTHON:-python3}"
failures=0

ok() { printf 'prometheus.sh: ok    %s\n' "$*"; }
fail() { printf 'prometheus.sh: FAIL  %s\n' "$*"; failures=$((failures + 1)); }

# Runs a command quietly; prints its output only when it fails.
run_check() {
    local label="$1" out
    shift
    if out="$("$@" 2>&1)"; then
        ok "$label"
    else
        fail "$label"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
}

shopt -s nullglob
rule_files=(prometheus/rules/*.yml)
test_files=(prometheus/tests/*.yml)
shopt -u nullglob

if ! command -v "$PROMTOOL" >/dev/null; then
    fail "promtool not found (install Debian's prometheus package; scripts/setup.sh does)"
else
    run_check "promtool check config prometheus/prometheus.yml" "$PROMTOOL" check config prometheus/prometheus.yml
    if (( ${#rule_files[@]} == 0 )); then
        fail "no rule files in prometheus/rules/"
    else
        run_check "promtool check rules ${rule_files[*]}" "$PROMTOOL" check rules "${rule_files[@]}"
    fi
    if (( ${#test_files[@]} == 0 )); then
        fail "no rule tests in prometheus/tests/"
    else
        run_check "promtool test rules ${test_files[*]}" "$PROMTOOL" test rules "${test_files[@]}"
    fi
fi

if ! command -v "$PYTHON" >/dev/null; then
    fail "python3 not found"
elif ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
    fail "python3 has no PyYAML module (Debian: apt-get install python3-yaml)"
else
    # The static checks print their own ok/FAIL lines and exit with the number of failures.
    set +e
    "$PYTHON" - "$REPO_ROOT" <<'PY'
import json
import os
import re
import sys

import yaml

root = sys.argv[1]
CATALOG = os.path.join(root, "Sources/Watchdog/Metrics/MetricCatalog.swift")
RULES_DIR = os.path.join(root, "prometheus/rules")
TESTS_DIR = os.path.join(root, "prometheus/tests")
DASHBOARD_DIR = os.path.join(root, "grafana/dashboards")
PROVISIONING = [
    os.path.join(root, "grafana/provisioning/dashboards/docker-watchdog.yml"),
    os.path.join(root, "grafana/provisioning/datasources/prometheus.yml"),
]
failures = 0


def report(label, problems):
    """One line per check; the problems (if any) indented below it."""
    global failures
    if problems:
        failures += 1
        print(f"prometheus.sh: FAIL  {label}")
        for p in problems[:40]:
            print(f"    {p}")
        if len(problems) > 40:
            print(f"    ... and {len(problems) - 40} more")
    else:
        print(f"prometheus.sh: ok    {label}")


def yaml_files(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".yml", ".yaml"))) if os.path.isdir(d) else []


def rel(p):
    return os.path.relpath(p, root)


# ---- PromQL: a small lexer, enough to find vector selectors -------------------------------------

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<var>\$\{[^}]*\}|\$[A-Za-z_]\w*|\[\[[^\]]*\]\])
  | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<punct>=~|!~|!=|==|>=|<=|[{}()\[\],=<>+\-*/%^@:])
""", re.X)

AGGREGATORS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
               "bottomk", "topk", "quantile"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "offset", "bool", "atan2", "inf", "nan"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}


def tokenize(expr):
    tokens, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot parse near {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup not in ("ws", "comment"):
            tokens.append((m.lastgroup, m.group()))
    return tokens


def selectors(expr):
    """(metric name, matcher text) of every vector selector, and every label name the expr uses."""
    tokens = tokenize(expr)
    found, labels = [], []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if text == "[":  # range or subquery duration
            while i < len(tokens) and tokens[i][1] != "]":
                i += 1
        elif text == "{":  # selector without a metric name
            j = i
            while tokens[j][1] != "}":
                j += 1
            matchers = "".join(t for _, t in tokens[i + 1:j])
            labels += re.findall(r"([A-Za-z_]\w*)(?:=~|!~|!=|=)", matchers)
            m = re.search(r'__name__="([^"]*)"', matchers)
            found.append((m.group(1) if m else None, matchers))
            i = j
        elif kind == "ident":
            low = text.lower()
            if low in GROUPING and nxt == "(":
                j = i + 2
                while tokens[j][1] != ")":
                    if tokens[j][0] == "ident":
                        labels.append(tokens[j][1])
                    j += 1
                i = j
            elif low in KEYWORDS or text in AGGREGATORS or nxt == "(":
                pass  # keyword, aggregation or function
            else:
                matchers = None
                if nxt == "{":
                    j = i + 1
                    while tokens[j][1] != "}":
                        j += 1
                    matchers = "".join(t for _, t in tokens[i + 2:j])
                    labels += re.findall(r"([A-Za-z_]\w*)(?:=~|!~|!=|=)", matchers)
                    i = j
                found.append((text, matchers))
        i += 1
    return found, labels


# ---- the catalog ----------------------------------------------------------------------------------

catalog = set()
problems = []
try:
    swift = open(CATALOG).read()
    # Areas keep their descriptors in extensions beside it (MetricCatalog+Containers.swift, ...).
    metrics_dir = os.path.dirname(CATALOG)
    for extension in sorted(f for f in os.listdir(metrics_dir) if f.startswith("MetricCatalog+") and f.endswith(".swift")):
        swift += open(os.path.join(metrics_dir, extension)).read()
except OSError as e:
    swift = ""
    problems.append(f"cannot read {rel(CATALOG)}: {e}")
for name, mtype in re.findall(r'name:\s*"([A-Za-z_:][A-Za-z0-9_:]*)"\s*,\s*type:\s*\.(\w+)', swift):
    if mtype == "counter":
        catalog.add(name + "_total")
    elif mtype == "info":
        catalog.add(name + "_info")
    elif mtype == "histogram":
        catalog.update(name + s for s in ("_bucket", "_sum", "_count"))
    else:
        catalog.add(name)
if swift and "docker_daemon_up" not in catalog:
    problems.append("no metric names found in MetricCatalog.swift (has the descriptor syntax changed?)")
report(f"{len(catalog)} exported series names read from {rel(CATALOG)} and its extensions", problems)

# ---- rules ----------------------------------------------------------------------------------------

records, alerts, rule_exprs = {}, {}, []
problems = []
for path in yaml_files(RULES_DIR):
    try:
        doc = yaml.safe_load(open(path)) or {}
    except yaml.YAMLError as e:
        problems.append(f"{rel(path)}: {e}")
        continue
    for group in doc.get("groups") or []:
        for rule in group.get("rules") or []:
            where = f"{rel(path)} group {group.get('name')}"
            expr = str(rule.get("expr", ""))
            if "record" in rule:
                name = rule["record"]
                records[name] = where
                rule_exprs.append((f"record {name}", expr))
                if not re.fullmatch(r"[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9][a-z0-9_]*", name):
                    problems.append(f"{where}: record {name} is not named level:metric:operations")
            else:
                name = rule.get("alert")
                alerts[name] = where
                rule_exprs.append((f"alert {name}", expr))
                labels = rule.get("labels") or {}
                notes = rule.get("annotations") or {}
                if labels.get("severity") not in ("critical", "warning", "info"):
                    problems.append(f"{where}: alert {name} has no severity label critical, warning or info")
                for key in ("summary", "description"):
                    if "$labels.instance" not in str(notes.get(key, "")):
                        problems.append(f"{where}: alert {name} has no {key} annotation naming {{{{ $labels.instance }}}}")
                if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", str(name)):
                    problems.append(f"{where}: alert name {name!r} is not CamelCase")
            if "type" in (rule.get("labels") or {}):
                problems.append(f"{where}: rule {name} sets a `type` label")
if not alerts:
    problems.append(f"no alerts found in {rel(RULES_DIR)}")
report(f"rule conventions ({len(records)} recording rules, {len(alerts)} alerts)", problems)

# ---- rule tests cover every alert and recording rule -------------------------------------------------

problems = []
fires, silent, tested_exprs = set(), set(), []
for path in yaml_files(TESTS_DIR):
    try:
        doc = yaml.safe_load(open(path)) or {}
    except yaml.YAMLError as e:
        problems.append(f"{rel(path)}: {e}")
        continue
    for test in doc.get("tests") or []:
        for a in test.get("alert_rule_test") or []:
            (fires if a.get("exp_alerts") else silent).add(a.get("alertname"))
        for p in test.get("promql_expr_test") or []:
            tested_exprs.append(str(p.get("expr", "")))
for name in sorted(alerts):
    if name not in fires:
        problems.append(f"alert {name} has no test in which it fires")
    if name not in silent:
        problems.append(f"alert {name} has no test in which it must not fire (exp_alerts: [])")
for name in sorted(records):
    if not any(re.search(r"(?<![\w:])" + re.escape(name) + r"(?![\w:])", e) for e in tested_exprs):
        problems.append(f"recording rule {name} has no promql_expr_test")
report(f"rule tests cover every alert (firing and silent) and recording rule", problems)

# ---- the dashboards ------------------------------------------------------------------------------

dash_exprs = []
dashboards = sorted(os.path.join(DASHBOARD_DIR, f) for f in os.listdir(DASHBOARD_DIR) if f.endswith(".json")) \
    if os.path.isdir(DASHBOARD_DIR) else []
if not dashboards:
    report(f"dashboards in {rel(DASHBOARD_DIR)}", [f"no dashboard JSON in {rel(DASHBOARD_DIR)}"])


def walk(node, path="$"):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def all_panels(panels):
    for p in panels or []:
        yield p
        yield from all_panels(p.get("panels"))  # collapsed rows hold their panels


for path in dashboards:
    name = rel(path)
    try:
        dash = json.load(open(path))
    except (OSError, ValueError) as e:
        report(f"{name}: valid JSON", [str(e)])
        continue
    report(f"{name}: valid JSON", [] if isinstance(dash, dict) else ["not a JSON object"])
    if not isinstance(dash, dict):
        continue

    # data sources: only ever the ${datasource} variable
    problems = []
    for where, node in walk(dash):
        if not where.endswith(".datasource"):
            continue
        if isinstance(node, dict):
            if "uid" in node and node["uid"] not in ("${datasource}", "$datasource"):
                problems.append(f"{where}: uid {node['uid']!r} (use the ${{datasource}} variable)")
            if node.get("type") not in (None, "prometheus"):
                problems.append(f"{where}: type {node.get('type')!r}")
        elif node is not None and node not in ("${datasource}", "$datasource"):
            problems.append(f"{where}: {node!r} (use {{\"type\": \"prometheus\", \"uid\": \"${{datasource}}\"}})")
    if "__inputs" in dash:
        problems.append("$.__inputs: exported-for-sharing dashboards hard-wire their data source")
    report(f"{name}: no data source uid except ${{datasource}}", problems)

    # variables
    problems = []
    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list") or []}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource for prometheus")
    inst = variables.get("instance")
    if not inst:
        problems.append("no `instance` variable")
    else:
        q = inst.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not re.fullmatch(r"\s*label_values\(\s*docker_daemon_up\s*,\s*instance\s*\)\s*", str(q)):
            problems.append(f"instance variable query is {q!r}, not label_values(docker_daemon_up, instance)")
        if not inst.get("multi") or not inst.get("includeAll"):
            problems.append("instance variable must be multi-value and include All")
    report(f"{name}: datasource and instance variables", problems)

    # panels
    problems = []
    ids = {}
    panels = list(all_panels(dash.get("panels")))
    for p in panels:
        pid = p.get("id")
        label = f"panel {pid} {p.get('title')!r}"
        if pid in ids:
            problems.append(f"{label}: id {pid} also used by {ids[pid]!r}")
        ids[pid] = p.get("title")
        if not str(p.get("title") or "").strip():
            problems.append(f"panel {pid}: no title")
        if "gridPos" not in p:
            problems.append(f"{label}: no gridPos")
        if p.get("type") == "row":
            continue
        if not str(((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit") or "").strip():
            problems.append(f"{label}: no fieldConfig.defaults.unit")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"{label}: no queries")
        for t in targets:
            expr = str(t.get("expr") or "").strip()
            if not expr:
                problems.append(f"{label} query {t.get('refId')}: empty expr")
                continue
            dash_exprs.append((f"{name} {label} query {t.get('refId')}", expr))
            try:
                sels, _ = selectors(expr)
            except ValueError as e:
                problems.append(f"{label} query {t.get('refId')}: {e}")
                continue
            for metric, matchers in sels:
                if not matchers or not re.search(r'(^|,)\s*instance\s*=~\s*"\$instance"', matchers):
                    problems.append(f"{label} query {t.get('refId')}: {metric or '{…}'} lacks instance=~\"$instance\"")
    report(f"{name}: {len(panels)} panels have titles and units, queries select instance=~\"$instance\"", problems)

    # annotations from Prometheus: the same rules as panel queries
    problems = []
    notes = [a for a in (dash.get("annotations") or {}).get("list") or [] if not a.get("builtIn")]
    for a in notes:
        label = f"annotation {a.get('name')!r}"
        expr = str(a.get("expr") or "").strip()
        if not expr:
            problems.append(f"{label}: no expr")
            continue
        dash_exprs.append((f"{name} {label}", expr))
        try:
            sels, _ = selectors(expr)
        except ValueError as e:
            problems.append(f"{label}: {e}")
            continue
        for metric, matchers in sels:
            if not matchers or not re.search(r'(^|,)\s*instance\s*=~\s*"\$instance"', matchers):
                problems.append(f"{label}: {metric or '{…}'} lacks instance=~\"$instance\"")
    report(f"{name}: {len(notes)} annotation queries select instance=~\"$instance\"", problems)

    # layout: panels inside the 24-column grid, none overlapping another
    problems = []
    boxes = []
    for p in panels:
        g = p.get("gridPos") or {}
        x, y, w, h = (g.get(k, 0) for k in ("x", "y", "w", "h"))
        if x < 0 or w <= 0 or h <= 0 or x + w > 24:
            problems.append(f"panel {p.get('id')} {p.get('title')!r}: gridPos {g} outside the 24-column grid")
        for q, (qx, qy, qw, qh) in boxes:
            if x < qx + qw and qx < x + w and y < qy + qh and qy < y + h:
                problems.append(f"panel {p.get('id')} {p.get('title')!r} overlaps panel {q.get('id')} {q.get('title')!r}")
        boxes.append((p, (x, y, w, h)))
    report(f"{name}: panel layout (inside the grid, no overlaps)", problems)

    for v in variables.values():
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"\s*(?:label_values|metrics|query_result)\((.*)\)\s*$", str(q or ""), re.S)
        if v.get("type") == "query" and m:
            arg = m.group(1).rsplit(",", 1)[0] if q.strip().startswith("label_values") and "," in m.group(1) else m.group(1)
            dash_exprs.append((f"{name} variable {v.get('name')}", arg))

# ---- every metric name exists ---------------------------------------------------------------------------

problems = []
known = catalog | set(records) | {"up"}
used = 0
for where, expr in rule_exprs + dash_exprs:
    try:
        sels, labels = selectors(expr)
    except ValueError as e:
        problems.append(f"{where}: {e}")
        continue
    for metric, _ in sels:
        if metric is None:
            continue
        used += 1
        if metric not in known:
            problems.append(f"{where}: {metric} is neither exported (MetricCatalog.swift) nor a recording rule")
    if "type" in labels:
        problems.append(f"{where}: uses a `type` label")
report(f"{used} metric references in rules and dashboards exist", problems)

# ---- provisioning files parse ---------------------------------------------------------------------------

problems = []
for path in PROVISIONING:
    try:
        doc = yaml.safe_load(open(path))
        if not isinstance(doc, dict) or doc.get("apiVersion") != 1:
            problems.append(f"{rel(path)}: no apiVersion: 1")
        elif not (doc.get("providers") or doc.get("datasources")):
            problems.append(f"{rel(path)}: neither providers nor datasources")
    except (OSError, yaml.YAMLError) as e:
        problems.append(f"{rel(path)}: {e}")
report("Grafana provisioning files", problems)

sys.exit(min(failures, 100))
PY
    py_failures=$?
    set -e
    failures=$((failures + py_failures))
fi

if (( failures > 0 )); then
    printf 'prometheus.sh: %d check(s) FAILED\n' "$failures"
    exit 1
fi
printf 'prometheus.sh: all checks passed\n'
