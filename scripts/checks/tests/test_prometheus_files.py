"""Tests of scripts/checks/prometheus_files.py (the static checks of prometheus.sh)."""
import json
import os

import pytest

import prometheus_files as pf

# ---- PromQL lexer ----------------------------------------------------------------------------------


def test_tokenize_keeps_strings_variables_and_durations_whole():
    tokens = pf.tokenize('rate(foo_total{a="x,}y"}[$__rate_interval]) # comment\n> 0.5')
    assert ("string", '"x,}y"') in tokens
    assert ("var", "$__rate_interval") in tokens
    assert ("number", "0.5") in tokens
    assert not any(kind == "comment" for kind, _ in tokens)


def test_tokenize_rejects_what_is_not_promql():
    with pytest.raises(ValueError, match="cannot parse near"):
        pf.tokenize("foo ; bar")


def test_selectors_finds_metric_names_matchers_and_labels():
    found, labels = pf.selectors(
        'sum by (job, path) (rate(foo_total{instance=~"$instance",type="x"}[5m])) '
        '/ on (instance) group_left bar and {__name__="baz", instance=~"$instance"}')
    assert found == [("foo_total", 'instance=~"$instance",type="x"'), ("bar", None),
                     ("baz", '__name__="baz",instance=~"$instance"')]
    assert {"job", "path", "instance", "type"} <= set(labels)


def test_selectors_skips_functions_aggregations_keywords_and_durations():
    found, _ = pf.selectors("max_over_time(up[1h:5m]) offset 1d > bool 0 unless absent(x)")
    assert [m for m, _ in found] == ["up", "x"]


@pytest.mark.parametrize("expr", [
    'foo{instance=~"$instance"}',
    'sum(rate(foo{job="a", instance=~"$instance"}[5m])) / bar{instance=~"$instance"}',
])
def test_instance_problems_accepts_queries_selecting_the_instance(expr):
    assert pf.instance_problems(expr) == []


@pytest.mark.parametrize("expr, want", [
    ("foo", 'foo lacks instance=~"$instance"'),
    ('foo{job="a"}', 'foo lacks instance=~"$instance"'),
    ('foo{myinstance=~"$instance"}', 'foo lacks instance=~"$instance"'),
    ('{job="a"}', '{…} lacks instance=~"$instance"'),
    ("foo ; bar", "cannot parse near"),
])
def test_instance_problems_finds_queries_not_selecting_the_instance(expr, want):
    problems = pf.instance_problems(expr)
    assert len(problems) == 1 and want in problems[0]


# ---- rules -----------------------------------------------------------------------------------------

GOOD_RULES = """
groups:
  - name: daemon
    rules:
      - record: instance:docker_daemon_up:max
        expr: max by (instance) (docker_daemon_up)
      - alert: DockerDaemonDown
        expr: instance:docker_daemon_up:max == 0
        for: 2m
        labels: {severity: critical}
        annotations:
          summary: Docker on {{ $labels.instance }} is down
          description: The daemon on {{ $labels.instance }} does not answer.
"""


def rules(text):
    return pf.check_rules([("rules.yml", text)])


def test_check_rules_accepts_good_rules():
    records, alerts, exprs, problems = rules(GOOD_RULES)
    assert problems == []
    assert set(records) == {"instance:docker_daemon_up:max"}
    assert set(alerts) == {"DockerDaemonDown"}
    assert ("alert DockerDaemonDown", "instance:docker_daemon_up:max == 0") in exprs


@pytest.mark.parametrize("old, new, want", [
    ("record: instance:docker_daemon_up:max", "record: docker_daemon_up_max", "is not named level:metric:operations"),
    ("severity: critical", "severity: page", "has no severity label"),
    ("summary: Docker on {{ $labels.instance }} is down", "summary: Docker is down", "has no summary annotation"),
    ("description: The daemon on {{ $labels.instance }}", "description: The daemon", "has no description annotation"),
    ("alert: DockerDaemonDown", "alert: docker_daemon_down", "is not CamelCase"),
    ("{severity: critical}", "{severity: critical, type: daemon}", "sets a `type` label"),
    ("    rules:", "    rules: [", "rules.yml: "),
])
def test_check_rules_finds_broken_conventions(old, new, want):
    assert old in GOOD_RULES
    problems = rules(GOOD_RULES.replace(old, new))[3]
    assert any(want in p for p in problems), problems


GOOD_TESTS = """
tests:
  - input_series: []
    alert_rule_test:
      - {alertname: DockerDaemonDown, eval_time: 5m, exp_alerts: [{exp_labels: {severity: critical}}]}
      - {alertname: DockerDaemonDown, eval_time: 1m, exp_alerts: []}
    promql_expr_test:
      - {expr: "instance:docker_daemon_up:max", eval_time: 1m, exp_samples: []}
"""


def rule_tests(text):
    _, alerts, _, _ = rules(GOOD_RULES)
    records = {"instance:docker_daemon_up:max": "rules.yml"}
    return pf.check_rule_tests([("tests.yml", text)], alerts, records)


def test_check_rule_tests_accepts_full_coverage():
    assert rule_tests(GOOD_TESTS) == []


@pytest.mark.parametrize("old, new, want", [
    ("eval_time: 5m, exp_alerts: [{exp_labels: {severity: critical}}]", "eval_time: 5m, exp_alerts: []",
     "alert DockerDaemonDown has no test in which it fires"),
    ("eval_time: 1m, exp_alerts: []", "eval_time: 1m, exp_alerts: [{exp_labels: {}}]",
     "alert DockerDaemonDown has no test in which it must not fire"),
    ('expr: "instance:docker_daemon_up:max"', 'expr: "instance:docker_daemon_up:max_other"',
     "recording rule instance:docker_daemon_up:max has no promql_expr_test"),
    ("tests:", "tests: {", "tests.yml: "),
])
def test_check_rule_tests_finds_missing_tests(old, new, want):
    assert old in GOOD_TESTS
    problems = rule_tests(GOOD_TESTS.replace(old, new))
    assert any(want in p for p in problems), problems


# ---- dashboards ------------------------------------------------------------------------------------

DS = {"type": "prometheus", "uid": "${datasource}"}


def good_dashboard():
    return {
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus"},
            {"name": "instance", "type": "query", "datasource": DS, "multi": True, "includeAll": True,
             "query": {"query": "label_values(docker_daemon_up, instance)"}},
        ]},
        "annotations": {"list": [
            {"builtIn": 1, "name": "Annotations & Alerts"},
            {"name": "Restarts", "datasource": DS, "expr": 'changes(up{instance=~"$instance"}[1m]) > 0'},
        ]},
        "panels": [
            {"id": 1, "type": "row", "title": "Daemon", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}, "collapsed": True,
             "panels": [
                 {"id": 2, "type": "stat", "title": "Up", "datasource": DS, "gridPos": {"x": 0, "y": 1, "w": 12, "h": 4},
                  "fieldConfig": {"defaults": {"unit": "bool"}},
                  "targets": [{"refId": "A", "expr": 'docker_daemon_up{instance=~"$instance"}'}]},
             ]},
            {"id": 3, "type": "timeseries", "title": "Ping", "datasource": DS, "gridPos": {"x": 12, "y": 1, "w": 12, "h": 4},
             "fieldConfig": {"defaults": {"unit": "s"}},
             "targets": [{"refId": "A", "expr": 'instance:docker_daemon_up:max{instance=~"$instance"}'}]},
        ],
    }


def test_good_dashboard_passes_every_check():
    dash = good_dashboard()
    assert pf.check_datasources(dash) == []
    assert pf.check_variables(dash) == []
    panels, problems, exprs = pf.check_panels(dash, "d.json")
    assert problems == [] and [p["id"] for p in panels] == [1, 2, 3] and len(exprs) == 2
    notes, problems, exprs = pf.check_annotations(dash, "d.json")
    assert problems == [] and len(notes) == 1 and len(exprs) == 1
    assert pf.check_layout(panels) == []


def test_check_dashboard_reports_each_check_once():
    lines = []
    report = pf.Report(lines.append)
    exprs = pf.check_dashboard("d.json", good_dashboard(), report)
    assert report.failures == 0 and len(lines) == 6
    assert ("d.json variable instance", "docker_daemon_up") in exprs
    report = pf.Report(lines.append)
    assert pf.check_dashboard("d.json", ["not", "an", "object"], report) == []
    assert report.failures == 1


@pytest.mark.parametrize("datasource, want", [
    ({"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}, "uid 'P1809F7CD0C75ACF3'"),
    ({"type": "loki", "uid": "${datasource}"}, "type 'loki'"),
    ("Prometheus", "'Prometheus' (use"),
])
def test_check_datasources_finds_hard_wired_data_sources(datasource, want):
    dash = good_dashboard()
    dash["panels"][1]["datasource"] = datasource
    problems = pf.check_datasources(dash)
    assert len(problems) == 1 and problems[0].startswith("$.panels[1].datasource: ") and want in problems[0]


def test_check_datasources_finds_exported_for_sharing_inputs():
    dash = good_dashboard()
    dash["__inputs"] = [{"name": "DS_PROMETHEUS"}]
    assert pf.check_datasources(dash) == ["$.__inputs: exported-for-sharing dashboards hard-wire their data source"]


@pytest.mark.parametrize("index, change, want", [
    (0, {"type": "custom"}, "no `datasource` variable"),
    (1, {"query": "label_values(up, instance)"}, "instance variable query is 'label_values(up, instance)'"),
    (1, {"multi": False}, "must be multi-value and include All"),
    (1, {"includeAll": False}, "must be multi-value and include All"),
    (1, {"name": "host"}, "no `instance` variable"),
])
def test_check_variables_finds_bad_variables(index, change, want):
    dash = good_dashboard()
    dash["templating"]["list"][index].update(change)
    problems = pf.check_variables(dash)
    assert any(want in p for p in problems), problems


def panel_problems(dash):
    return pf.check_panels(dash, "d.json")[1]


@pytest.mark.parametrize("change, want", [
    ({"fieldConfig": {"defaults": {}}}, "panel 3 'Ping': no fieldConfig.defaults.unit"),
    ({"targets": []}, "panel 3 'Ping': no queries"),
    ({"targets": [{"refId": "A", "expr": " "}]}, "panel 3 'Ping' query A: empty expr"),
    ({"targets": [{"refId": "B", "expr": "rate(x[5m])"}]}, "panel 3 'Ping' query B: x lacks instance=~\"$instance\""),
    ({"title": ""}, "panel 3: no title"),
    ({"id": 2}, "panel 2 'Ping': id 2 also used by 'Up'"),
])
def test_check_panels_finds_bad_panels(change, want):
    dash = good_dashboard()
    dash["panels"][1].update(change)
    assert want in panel_problems(dash)


def test_check_panels_looks_into_collapsed_rows():
    dash = good_dashboard()
    dash["panels"][0]["panels"][0]["targets"][0]["expr"] = "docker_daemon_up"
    assert panel_problems(dash) == ["panel 2 'Up' query A: docker_daemon_up lacks instance=~\"$instance\""]


def test_check_panels_finds_a_panel_without_grid_position():
    dash = good_dashboard()
    del dash["panels"][1]["gridPos"]
    assert panel_problems(dash) == ["panel 3 'Ping': no gridPos"]


@pytest.mark.parametrize("change, want", [
    ({"expr": ""}, "annotation 'Restarts': no expr"),
    ({"expr": "changes(up[1m]) > 0"}, "annotation 'Restarts': up lacks instance=~\"$instance\""),
])
def test_check_annotations_finds_bad_annotation_queries(change, want):
    dash = good_dashboard()
    dash["annotations"]["list"][1].update(change)
    assert pf.check_annotations(dash, "d.json")[1] == [want]


@pytest.mark.parametrize("grid, want", [
    ({"x": 6, "y": 2, "w": 12, "h": 4}, "panel 3 'Ping' overlaps panel 2 'Up'"),
    ({"x": 20, "y": 10, "w": 6, "h": 4}, "outside the 24-column grid"),
    ({"x": 0, "y": 10, "w": 0, "h": 4}, "outside the 24-column grid"),
])
def test_check_layout_finds_overlaps_and_panels_outside_the_grid(grid, want):
    dash = good_dashboard()
    dash["panels"][1]["gridPos"] = grid
    problems = pf.check_layout(list(pf.all_panels(dash["panels"])))
    assert any(want in p for p in problems), problems


def test_variable_exprs_takes_the_expression_of_label_values():
    dash = good_dashboard()
    dash["templating"]["list"].append({"name": "path", "type": "query", "query": "query_result(topk(3, foo))"})
    assert pf.variable_exprs(dash, "d.json") == [("d.json variable instance", "docker_daemon_up"),
                                                 ("d.json variable path", "topk(3, foo)")]


# ---- metric references -------------------------------------------------------------------------------

RECORDS = {"instance:docker_daemon_up:max"}


def test_check_references_accepts_exported_names_and_existing_recording_rules():
    used, problems = pf.check_references(
        [("a", 'instance:docker_daemon_up:max{instance=~"$instance"} * on (instance) docker_daemon_up'),
         ("b", '{job="x"}')], RECORDS)
    assert (used, problems) == (2, [])


@pytest.mark.parametrize("expr, want", [
    ("instance:docker_daemon_up:min", "a: instance:docker_daemon_up:min is not a recording rule"),
    ('sum by (type) (foo)', "a: uses a `type` label"),
    ('foo{type="x"}', "a: uses a `type` label"),
    ("foo ; bar", "a: cannot parse near"),
])
def test_check_references_finds_bad_references(expr, want):
    _, problems = pf.check_references([("a", expr)], RECORDS)
    assert len(problems) == 1 and problems[0].startswith(want), problems


# ---- provisioning and reporting ----------------------------------------------------------------------

@pytest.mark.parametrize("doc, want", [
    ({"apiVersion": 1, "providers": [{"name": "x"}]}, None),
    ({"apiVersion": 1, "datasources": [{"name": "x"}]}, None),
    ({"apiVersion": 2, "providers": [{"name": "x"}]}, "no apiVersion: 1"),
    (["apiVersion", 1], "no apiVersion: 1"),
    ({"apiVersion": 1}, "neither providers nor datasources"),
])
def test_provisioning_problem(doc, want):
    assert pf.provisioning_problem(doc) == want


def test_check_provisioning_reports_missing_and_unparsable_files(tmp_path):
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text("apiVersion: 1\nproviders: [{name: x}]\n")
    bad.write_text("apiVersion: [1\n")
    problems = pf.check_provisioning([str(good), str(bad), str(tmp_path / "missing.yml")], os.path.basename)
    assert [p.split(":")[0] for p in problems] == ["bad.yml", "missing.yml"]


def test_report_counts_failures_and_shortens_long_lists():
    lines = []
    report = pf.Report(lines.append)
    report("fine", [])
    report("broken", [f"p{i}" for i in range(45)])
    assert report.failures == 1
    assert lines[0] == "prometheus.sh: ok    fine" and lines[1] == "prometheus.sh: FAIL  broken"
    assert len(lines) == 2 + 40 + 1 and lines[-1] == "    ... and 5 more"


# ---- main, on a small repository -----------------------------------------------------------------------

def small_repo(root):
    (root / "prometheus/rules").mkdir(parents=True)
    (root / "prometheus/tests").mkdir(parents=True)
    (root / "grafana/dashboards").mkdir(parents=True)
    (root / "grafana/provisioning/dashboards").mkdir(parents=True)
    (root / "grafana/provisioning/datasources").mkdir(parents=True)
    (root / "prometheus/rules/daemon.rules.yml").write_text(GOOD_RULES)
    (root / "prometheus/tests/daemon.rules.test.yml").write_text(GOOD_TESTS)
    (root / "grafana/dashboards/d.json").write_text(json.dumps(good_dashboard()))
    (root / "grafana/provisioning/dashboards/docker-watchdog.yml").write_text("apiVersion: 1\nproviders: [{name: x}]\n")
    (root / "grafana/provisioning/datasources/prometheus.yml").write_text("apiVersion: 1\ndatasources: [{name: x}]\n")
    (root / "docs").mkdir()
    (root / "docs/metrics.md").write_text(METRICS_TABLE)


def test_main_passes_a_good_repository_without_sources(tmp_path):
    small_repo(tmp_path)
    lines = []
    assert pf.main([str(tmp_path)], out=lines.append) == 0, lines
    assert not (tmp_path / "Sources").exists()
    assert all(line.startswith("prometheus.sh: ok    ") for line in lines) and len(lines) == 10


def test_main_counts_failed_checks(tmp_path):
    small_repo(tmp_path)
    (tmp_path / "grafana/dashboards/d.json").write_text("{")
    (tmp_path / "prometheus/tests/daemon.rules.test.yml").write_text("tests: []\n")
    lines = []
    assert pf.main([str(tmp_path)], out=lines.append) == 2
    assert "prometheus.sh: FAIL  grafana/dashboards/d.json: valid JSON" in lines


def test_main_fails_without_alerts_and_dashboards(tmp_path):
    small_repo(tmp_path)
    (tmp_path / "prometheus/rules/daemon.rules.yml").unlink()
    (tmp_path / "grafana/dashboards/d.json").unlink()
    lines = []
    assert pf.main([str(tmp_path)], out=lines.append) == 2  # rule conventions, dashboards
    assert "    no alerts found in prometheus/rules" in lines
    assert "    no dashboard JSON in grafana/dashboards" in lines


# ---- exported series from the generated table of docs/metrics.md ---------------------------------

METRICS_TABLE = """intro
<!-- BEGIN GENERATED metrics table -->
| metric | type | labels | collector | description |
| --- | --- | --- | --- | --- |
| `docker_daemon_up` | gauge |  | daemon | x |
| `docker_daemon_ping_duration_seconds` | histogram |  | daemon | x |
| `docker_watchdog_collector_runs_total` | counter | `collector` | core | x |
<!-- END GENERATED metrics table -->
"""


def test_exported_series_from_the_metrics_table():
    names = pf.exported_series(METRICS_TABLE)
    assert "docker_daemon_up" in names
    assert {"docker_daemon_ping_duration_seconds_bucket", "docker_daemon_ping_duration_seconds_count"} <= names
    assert "docker_watchdog_collector_runs_total" in names
    assert "metric" not in names


def test_main_fails_on_a_metric_the_metrics_table_does_not_list(tmp_path):
    small_repo(tmp_path)
    (tmp_path / "docs/metrics.md").write_text(METRICS_TABLE.replace("docker_daemon_up", "docker_daemon_renamed"))
    lines = []
    assert pf.main([str(tmp_path)], out=lines.append) == 1
    assert any("docker_daemon_up is not exported" in line for line in lines), lines


def test_exported_series_needs_the_table():
    with pytest.raises(ValueError):
        pf.exported_series("no table here")


def test_a_reference_to_a_metric_not_exported_is_reported():
    exported = pf.exported_series(METRICS_TABLE)
    used, problems = pf.check_references(
        [("r.yml", "docker_daemon_up == 0"), ("d.json", "rate(docker_daemon_gone_total[5m])"), ("u", "up")],
        set(), exported)
    assert used == 3
    assert problems == ["d.json: docker_daemon_gone_total is not exported by the watchdog (docs/metrics.md metrics table)"]


def test_main_fails_without_the_metrics_doc(tmp_path):
    small_repo(tmp_path)
    (tmp_path / "docs/metrics.md").unlink()
    (tmp_path / "README.md").write_text(METRICS_TABLE)  # the table's old home is not read
    lines = []
    assert pf.main([str(tmp_path)], out=lines.append) == 1
    assert any("docs/metrics.md" in line for line in lines), lines
