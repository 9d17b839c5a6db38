"""The static checks of prometheus.sh: Prometheus rules and rule tests, Grafana dashboards and
provisioning files (no promtool here; prometheus.sh runs that itself).

    python3 scripts/checks/prometheus_files.py REPO_ROOT

Prints one `prometheus.sh: ok|FAIL  <check>` line per check (the problems indented below) and exits
with the number of failed checks (at most 100). Needs PyYAML. The functions are imported by
scripts/checks/tests/test_prometheus_files.py.
"""
import json
import os
import re
import sys

import yaml

PROG = "prometheus.sh"


class Report:
    """One line per check; the problems (if any) indented below it. Counts the failed checks."""

    def __init__(self, out=print):
        self.failures = 0
        self.out = out

    def __call__(self, label, problems):
        if problems:
            self.failures += 1
            self.out(f"{PROG}: FAIL  {label}")
            for p in problems[:40]:
                self.out(f"    {p}")
            if len(problems) > 40:
                self.out(f"    ... and {len(problems) - 40} more")
        else:
            self.out(f"{PROG}: ok    {label}")


def yaml_files(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".yml", ".yaml"))) if os.path.isdir(d) else []


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

# a matcher list that selects the dashboard's instance variable
INSTANCE_MATCHER = re.compile(r'(^|,)\s*instance\s*=~\s*"\$instance"')


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


def instance_problems(expr):
    """Problems of a dashboard query: unparsable, or a selector without instance=~"$instance"."""
    try:
        sels, _ = selectors(expr)
    except ValueError as e:
        return [str(e)]
    return [f"{metric or '{…}'} lacks instance=~\"$instance\""
            for metric, matchers in sels if not matchers or not INSTANCE_MATCHER.search(matchers)]


# ---- rules ----------------------------------------------------------------------------------------

def check_rules(files):
    """Rule conventions of the rule files [(relative path, YAML text or open file)]:
    returns ({record: where}, {alert: where}, [(what, expr)], problems)."""
    records, alerts, rule_exprs = {}, {}, []
    problems = []
    for path, source in files:
        try:
            doc = yaml.safe_load(source) or {}
        except yaml.YAMLError as e:
            problems.append(f"{path}: {e}")
            continue
        for group in doc.get("groups") or []:
            for rule in group.get("rules") or []:
                where = f"{path} group {group.get('name')}"
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
    return records, alerts, rule_exprs, problems


def check_rule_tests(files, alerts, records):
    """Problems: an alert without a test in which it fires and one in which it must not, a recording
    rule without a promql_expr_test. files: [(relative path, YAML text or open file)]."""
    problems = []
    fires, silent, tested_exprs = set(), set(), []
    for path, source in files:
        try:
            doc = yaml.safe_load(source) or {}
        except yaml.YAMLError as e:
            problems.append(f"{path}: {e}")
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
    return problems


# ---- the dashboards ------------------------------------------------------------------------------

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


def check_datasources(dash):
    """Data sources: only ever the ${datasource} variable."""
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
    return problems


def dashboard_variables(dash):
    return {v.get("name"): v for v in (dash.get("templating") or {}).get("list") or []}


def check_variables(dash):
    """The datasource variable (type datasource, prometheus) and the multi-value instance variable."""
    problems = []
    variables = dashboard_variables(dash)
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
    return problems


def check_panels(dash, name):
    """Every panel has a unique id, a title and a gridPos; every panel but rows a unit and non-empty
    queries selecting instance=~"$instance". Returns (panels, problems, [(where, expr)])."""
    problems, exprs = [], []
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
            exprs.append((f"{name} {label} query {t.get('refId')}", expr))
            problems += [f"{label} query {t.get('refId')}: {x}" for x in instance_problems(expr)]
    return panels, problems, exprs


def check_annotations(dash, name):
    """Annotations from Prometheus: the same rules as panel queries. Returns (annotations, problems,
    [(where, expr)])."""
    problems, exprs = [], []
    notes = [a for a in (dash.get("annotations") or {}).get("list") or [] if not a.get("builtIn")]
    for a in notes:
        label = f"annotation {a.get('name')!r}"
        expr = str(a.get("expr") or "").strip()
        if not expr:
            problems.append(f"{label}: no expr")
            continue
        exprs.append((f"{name} {label}", expr))
        problems += [f"{label}: {x}" for x in instance_problems(expr)]
    return notes, problems, exprs


def check_layout(panels):
    """Panels inside the 24-column grid, none overlapping another."""
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
    return problems


def variable_exprs(dash, name):
    """[(where, expr)] of the query variables (label_values(expr, label), metrics(...), query_result(...))."""
    exprs = []
    for v in dashboard_variables(dash).values():
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"\s*(?:label_values|metrics|query_result)\((.*)\)\s*$", str(q or ""), re.S)
        if v.get("type") == "query" and m:
            arg = m.group(1).rsplit(",", 1)[0] if q.strip().startswith("label_values") and "," in m.group(1) else m.group(1)
            exprs.append((f"{name} variable {v.get('name')}", arg))
    return exprs


def check_dashboard(name, dash, report):
    """Reports the checks of one parsed dashboard; returns its [(where, expr)]."""
    report(f"{name}: valid JSON", [] if isinstance(dash, dict) else ["not a JSON object"])
    if not isinstance(dash, dict):
        return []
    report(f"{name}: no data source uid except ${{datasource}}", check_datasources(dash))
    report(f"{name}: datasource and instance variables", check_variables(dash))
    panels, problems, exprs = check_panels(dash, name)
    report(f"{name}: {len(panels)} panels have titles and units, queries select instance=~\"$instance\"", problems)
    notes, problems, note_exprs = check_annotations(dash, name)
    report(f"{name}: {len(notes)} annotation queries select instance=~\"$instance\"", problems)
    report(f"{name}: panel layout (inside the grid, no overlaps)", check_layout(panels))
    return exprs + note_exprs + variable_exprs(dash, name)


# ---- metric references ----------------------------------------------------------------------------

METRICS_DOC = "docs/metrics.md"


def exported_series(metrics_doc_text):
    """The series names the watchdog exports, from the generated metrics table of docs/metrics.md
    (which ReadmeDriftTests keeps equal to MetricCatalog.all): histograms add _bucket, _sum and
    _count. Raises ValueError when the table is missing."""
    begin, end = "<!-- BEGIN GENERATED metrics table -->", "<!-- END GENERATED metrics table -->"
    if begin not in metrics_doc_text or end not in metrics_doc_text:
        raise ValueError(f"{METRICS_DOC} has no generated metrics table")
    table = metrics_doc_text.split(begin, 1)[1].split(end, 1)[0]
    names = set()
    for line in table.splitlines():
        m = re.match(r"\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(\w+)\s*\|", line)
        if not m:
            continue
        name, kind = m.groups()
        names.add(name)
        if kind == "histogram":
            names.update({name + "_bucket", name + "_sum", name + "_count"})
    if not names:
        raise ValueError(f"{METRICS_DOC}'s metrics table lists no metric")
    return names


def check_references(exprs, records, exported=None):
    """Every [(where, expr)] parses, names no recording rule (a name with a colon) that is not one,
    names only exported series (when `exported` is given), recording rules or `up`, and uses no
    `type` label. Returns (number of metric references, problems)."""
    problems = []
    used = 0
    for where, expr in exprs:
        try:
            sels, labels = selectors(expr)
        except ValueError as e:
            problems.append(f"{where}: {e}")
            continue
        for metric, _ in sels:
            if metric is None:
                continue
            used += 1
            if ":" in metric and metric not in records:
                problems.append(f"{where}: {metric} is not a recording rule")
            elif ":" not in metric and exported is not None and metric not in exported and metric != "up":
                problems.append(f"{where}: {metric} is not exported by the watchdog ({METRICS_DOC} metrics table)")
        if "type" in labels:
            problems.append(f"{where}: uses a `type` label")
    return used, problems


# ---- provisioning ---------------------------------------------------------------------------------

def provisioning_problem(doc):
    """What is wrong with a parsed Grafana provisioning file, or None."""
    if not isinstance(doc, dict) or doc.get("apiVersion") != 1:
        return "no apiVersion: 1"
    if not (doc.get("providers") or doc.get("datasources")):
        return "neither providers nor datasources"
    return None


def check_provisioning(paths, rel):
    problems = []
    for path in paths:
        try:
            problem = provisioning_problem(yaml.safe_load(open(path)))
            if problem:
                problems.append(f"{rel(path)}: {problem}")
        except (OSError, yaml.YAMLError) as e:
            problems.append(f"{rel(path)}: {e}")
    return problems


# ---- main -----------------------------------------------------------------------------------------

def main(argv, out=print):
    """argv: [REPO_ROOT]. Returns the number of failed checks (at most 100)."""
    root = argv[0]
    rules_dir = os.path.join(root, "prometheus/rules")
    tests_dir = os.path.join(root, "prometheus/tests")
    dashboard_dir = os.path.join(root, "grafana/dashboards")
    provisioning = [
        os.path.join(root, "grafana/provisioning/dashboards/docker-watchdog.yml"),
        os.path.join(root, "grafana/provisioning/datasources/prometheus.yml"),
    ]
    report = Report(out)

    def rel(p):
        return os.path.relpath(p, root)

    records, alerts, rule_exprs, problems = check_rules([(rel(p), open(p)) for p in yaml_files(rules_dir)])
    if not alerts:
        problems.append(f"no alerts found in {rel(rules_dir)}")
    report(f"rule conventions ({len(records)} recording rules, {len(alerts)} alerts)", problems)

    report("rule tests cover every alert (firing and silent) and recording rule",
           check_rule_tests([(rel(p), open(p)) for p in yaml_files(tests_dir)], alerts, records))

    dash_exprs = []
    dashboards = sorted(os.path.join(dashboard_dir, f) for f in os.listdir(dashboard_dir) if f.endswith(".json")) \
        if os.path.isdir(dashboard_dir) else []
    if not dashboards:
        report(f"dashboards in {rel(dashboard_dir)}", [f"no dashboard JSON in {rel(dashboard_dir)}"])
    for path in dashboards:
        name = rel(path)
        try:
            dash = json.load(open(path))
        except (OSError, ValueError) as e:
            report(f"{name}: valid JSON", [str(e)])
            continue
        dash_exprs += check_dashboard(name, dash, report)

    try:
        exported = exported_series(open(os.path.join(root, METRICS_DOC)).read())
        export_problems = []
    except (OSError, ValueError) as e:
        exported, export_problems = None, [str(e)]
    used, problems = check_references(rule_exprs + dash_exprs, records, exported)
    report(f"{used} metric references in rules and dashboards parse, name only exported series "
           f"({len(exported or ())} from the generated table of {METRICS_DOC}), recording rules or `up`, "
           f"and no `type` label", export_problems + problems)

    report("Grafana provisioning files", check_provisioning(provisioning, rel))
    return min(report.failures, 100)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
