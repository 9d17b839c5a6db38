"""Tests of scripts/checks/prometheus_live.py (the Python half of prometheus-live.sh)."""
import copy
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import prometheus_live as pl

METRICS = """# HELP docker_watchdog_remediation_failures_total Failed actions.
# TYPE docker_watchdog_remediation_failures_total counter
docker_watchdog_remediation_failures_total{policy="disk"} 3
docker_watchdog_remediation_failures_total{policy="autoheal",reason="a \\"quoted\\" one"} 1
docker_daemon_up 1
docker_build_cache_hits_total{record_type="regular",origin="build"} 0
"""


# ---- /metrics conditions -------------------------------------------------------------------------

def test_samples_parses_names_labels_and_values():
    got = list(pl.samples(METRICS))
    assert ("docker_daemon_up", {}, 1.0) in got
    assert ("docker_watchdog_remediation_failures_total", {"policy": "autoheal", "reason": 'a \\"quoted\\" one'}, 1.0) in got
    assert len(got) == 4


@pytest.mark.parametrize("cond, want", [
    ("docker_daemon_up == 1", (True, 1.0)),
    ("docker_watchdog_remediation_failures_total >= 4", (True, 4.0)),           # the sum
    ("max:docker_watchdog_remediation_failures_total >= 3", (True, 3.0)),       # the maximum
    ('docker_watchdog_remediation_failures_total{policy="disk"} > 2', (True, 3.0)),
    ("docker_daemon_up == 0", (False, 1.0)),
    ("docker_watchdog_remediation_failures_total > 4", (False, 4.0)),
    ("max:docker_watchdog_remediation_failures_total >= 4", (False, 3.0)),
    ('docker_build_cache_hits_total{origin="build"} >= 1', (False, 0.0)),
    ('docker_watchdog_remediation_failures_total{policy="network"} >= 0', (False, None)),  # no such series
    ("docker_nonexistent >= 0", (False, None)),
])
def test_holds(cond, want):
    assert pl.holds(METRICS, cond) == want


class MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = METRICS.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def metrics_url():
    server = HTTPServer(("127.0.0.1", 0), MetricsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


def test_cmd_wait_succeeds_when_every_condition_holds(metrics_url, capsys):
    assert pl.cmd_wait(["0", f"{metrics_url},{metrics_url}", "docker_daemon_up == 1",
                        "max:docker_watchdog_remediation_failures_total >= 3"]) == 0
    assert capsys.readouterr().out == ""


def test_cmd_wait_fails_and_names_what_is_not_met(metrics_url, capsys):
    assert pl.cmd_wait(["0", metrics_url, "docker_daemon_up == 1", "docker_daemon_up == 0"]) == 1
    assert capsys.readouterr().out == f"    not met: {metrics_url}: docker_daemon_up == 0 (now 1.0)\n"


def test_cmd_ports_prints_distinct_ports(capsys):
    assert pl.cmd_ports(["3"]) == 0
    ports = [int(p) for p in capsys.readouterr().out.split()]
    assert len(set(ports)) == 3 and all(0 < p < 65536 for p in ports)


# ---- the Prometheus configuration --------------------------------------------------------------------

SHIPPED = {
    "global": {"scrape_interval": "15s"},
    "rule_files": ["rules/*.rules.yml"],
    "scrape_configs": [
        {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
        {"job_name": "docker-watchdog", "static_configs": [{"targets": ["localhost:9734"]}],
         "file_sd_configs": [{"files": ["targets/*.yml"]}]},
    ],
}


def test_live_config_points_the_shipped_job_at_the_test_watchdogs():
    cfg = pl.live_config(copy.deepcopy(SHIPPED), "/repo/prometheus", "/tmp/t", "127.0.0.1:1")
    assert cfg["global"] == {"scrape_interval": "2s", "scrape_timeout": "2s", "evaluation_interval": "2s"}
    assert cfg["rule_files"] == ["/repo/prometheus/rules/*.rules.yml"]
    job = cfg["scrape_configs"][1]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:1"]}]
    assert job["file_sd_configs"] == [{"files": ["/tmp/t/*.yml"], "refresh_interval": "5s"}]
    assert cfg["scrape_configs"][0] == SHIPPED["scrape_configs"][0]


@pytest.mark.parametrize("change, want", [
    (lambda c: c.pop("rule_files"), "loads no rule files"),
    (lambda c: c["scrape_configs"].pop(1), "no single job docker-watchdog"),
    (lambda c: c["scrape_configs"].append(copy.deepcopy(c["scrape_configs"][1])), "no single job docker-watchdog"),
    (lambda c: c["scrape_configs"][1].pop("file_sd_configs"), "no static_configs or no file_sd_configs"),
    (lambda c: c["scrape_configs"][1].pop("static_configs"), "no static_configs or no file_sd_configs"),
])
def test_live_config_refuses_a_shipped_configuration_it_cannot_adapt(change, want):
    cfg = copy.deepcopy(SHIPPED)
    change(cfg)
    with pytest.raises(SystemExit, match=want):
        pl.live_config(cfg, "/repo/prometheus", "/tmp/t", "127.0.0.1:1")


# ---- rules and alerts --------------------------------------------------------------------------------

def test_shipped_rules_splits_groups_records_and_alerts():
    docs = [{"groups": [{"name": "a", "rules": [{"record": "x:y:z", "expr": "1"}, {"alert": "A", "expr": "1"}]}]},
            None, {"groups": [{"name": "b", "rules": None}]}]
    groups, records, alerts = pl.shipped_rules(docs)
    assert groups == {"a", "b"} and [r["record"] for r in records] == ["x:y:z"] and [r["alert"] for r in alerts] == ["A"]


def alert(name, instance, state):
    return {"metric": {"__name__": "ALERTS", "alertname": name, "instance": instance, "alertstate": state}}


WANT = {"a:1", "b:1"}


def test_active_alerts_keeps_pending_over_firing():
    # max() of the state strings, as the check always did: an alert is firing on an instance only
    # when none of its series there is still pending
    active = pl.active_alerts([alert("X", "a:1", "firing"), alert("X", "a:1", "pending"), alert("X", "b:1", "firing")])
    assert active == {"X": {"a:1": "pending", "b:1": "firing"}}
    assert pl.alert_problems(active, WANT, {"X"}, {"X"}, set()) == [
        "alert X: should be firing on both hosts, is {'a:1': 'pending', 'b:1': 'firing'}"]


def test_alert_problems_accepts_the_expected_alerts():
    active = pl.active_alerts([alert("Up", "a:1", "firing"), alert("Up", "b:1", "firing"),
                               alert("Slow", "a:1", "pending"), alert("Slow", "b:1", "firing")])
    assert pl.alert_problems(active, WANT, {"Up", "Slow"}, {"Up"}, {"Down"}) == []


@pytest.mark.parametrize("alerts, want", [
    ([alert("Up", "a:1", "firing")], "alert Up: should be pending or firing on both hosts, is on ['a:1']"),
    ([alert("Up", "a:1", "firing"), alert("Up", "b:1", "pending")], "alert Up: should be firing on both hosts"),
    ([], "alert Up: should be pending or firing on both hosts, is on none"),
    ([alert("Up", "a:1", "firing"), alert("Up", "b:1", "firing"), alert("Down", "b:1", "pending")],
     "alert Down: should be quiet, is {'b:1': 'pending'}"),
])
def test_alert_problems_finds_missing_and_unexpected_alerts(alerts, want):
    problems = pl.alert_problems(pl.active_alerts(alerts), WANT, {"Up"}, {"Up"}, {"Down"})
    assert any(p.startswith(want) for p in problems), problems


# ---- the dashboards --------------------------------------------------------------------------------------

DASH = {
    "panels": [
        {"id": 1, "type": "row", "title": "Row", "panels": [
            {"id": 2, "title": "Up", "interval": "1m", "targets": [
                {"refId": "A", "expr": 'docker_daemon_up{instance=~"$instance"}', "instant": True, "legendFormat": "{{instance}}"},
                {"refId": "B", "expr": "  "}]},
        ]},
        {"id": 3, "title": "Rate", "targets": [
            {"refId": "A", "expr": "rate(x[$__rate_interval])", "instant": True, "range": True}]},
    ],
    "annotations": {"list": [{"builtIn": 1, "name": "builtin"},
                             {"name": "Restarts", "expr": "changes(up[1m])", "titleFormat": "{{instance}}", "step": "30s"}]},
    "templating": {"list": [
        {"name": "instance", "type": "query", "query": {"query": "label_values(docker_daemon_up, instance)"}},
        {"name": "datasource", "type": "datasource", "query": "prometheus"},
    ]},
}


def test_dashboard_jobs_lists_the_queries_grafana_runs():
    assert pl.dashboard_jobs(DASH) == [
        ("2/A", "panel 2 'Up' A", 'docker_daemon_up{instance=~"$instance"}', True, "{{instance}}", "1m"),
        ("3/A", "panel 3 'Rate' A", "rate(x[$__rate_interval])", False, "", None),
        ("annotation/Restarts", "annotation 'Restarts'", "changes(up[1m])", False, "{{instance}}", "30s"),
        ("variable/instance", "variable instance", "docker_daemon_up", True, "{{instance}}", None),
    ]


@pytest.mark.parametrize("s, want", [("15s", 15), ("2m", 120), ("1h", 3600), ("500ms", 0.5), ("", 0), (None, 0), ("1d", 0)])
def test_dur(s, want):
    assert pl.dur(s) == want


@pytest.mark.parametrize("expr, min_interval, want", [
    ('up{instance=~"$instance"}', None, ('up{instance=~".*"}', 15)),
    ('up{instance=~"${instance:regex}"}', None, ('up{instance=~".*"}', 15)),
    ('up{instance=~"[[instance]]"}', None, ('up{instance=~".*"}', 15)),
    ("rate(x[$__rate_interval])", None, ("rate(x[60s])", 15)),
    ("rate(x[$__rate_interval])", "1m", ("rate(x[75s])", 60)),
    ("avg_over_time(x[$__interval]) / ${__interval_ms}", "30s", ("avg_over_time(x[30s]) / 30000", 30)),
    ("increase(x[$__range]) / $__range_s", None, ("increase(x[120s]) / 120", 15)),
    ("x[$__rangeX]", None, ("x[120sX]", 15)),
    ("x{a=\"$unknown\"}", None, ("x{a=\"$unknown\"}", 15)),
])
def test_grafana_query_substitutes_variables_as_grafana_does(expr, min_interval, want):
    assert pl.grafana_query(expr, min_interval, 120) == want


def series(instance, **labels):
    metric = dict(labels)
    if instance:
        metric["instance"] = instance
    return {"metric": metric, "values": [[0, "1"]]}


@pytest.mark.parametrize("result, legend", [
    ([series("a:1"), series("b:1")], "{{instance}}"),
    ([series("a:1", path="/"), series("a:1", path="/x"), series("b:1", path="/")], "{{instance}} {{path}}"),
    ([series("a:1"), series("b:1")], "__auto"),
])
def test_series_problems_accepts_good_results(result, legend):
    assert pl.series_problems(result, WANT, "1/A", legend, False, "q") == []


@pytest.mark.parametrize("result, legend, want", [
    ([series("a:1"), series("b:1"), series(None)], "", "series without an instance label: [{}]"),
    ([series("a:1")], "", "instances ['a:1'], want both ['a:1', 'b:1']\n      query: q"),
    ([series("a:1", path="/"), series("a:1", path="/x"), series("b:1", path="/")], "{{instance}}",
     "legend '{{instance}}' names only the instance but the series per instance are {'a:1': 2}"),
    ([series("a:1", path="/"), series("a:1", path="/x"), series("b:1", path="/")], "{{ path }}",
     "several series share the legend ['/']"),
])
def test_series_problems_finds_bad_results(result, legend, want):
    assert want in pl.series_problems(result, WANT, "1/A", legend, False, "q")


def test_series_problems_allows_shared_legends_in_instant_queries_and_annotations():
    result = [series("a:1", path="/"), series("b:1", path="/")]
    assert pl.series_problems(result, WANT, "1/A", "{{path}}", True, "q") == []
    assert pl.series_problems(result, WANT, "annotation/x", "{{path}}", False, "q") == []
    assert pl.series_problems(result, WANT, "1/A", "{{path}}", False, "q") == ["several series share the legend ['/']"]


def test_main_dispatches_by_command(capsys):
    assert pl.main(["ports", "1"]) == 0
    assert capsys.readouterr().out.strip().isdigit()
    with pytest.raises(KeyError):
        pl.main(["nope"])
