"""Tests of scripts/checks/deploy_files.py (deploy.sh's check of the files the deployments name)."""
import copy

import pytest
import yaml

import deploy_files as dfiles

COMPOSE = yaml.safe_load("""
services:
  docker-watchdog:
    command: ["--collector.disk.host-prefix", "/host"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /:/host:ro
  prometheus:
    volumes:
      - ./prometheus.yml:/etc/prometheus/prometheus.yml:ro
      - ../../prometheus/rules:/etc/prometheus/rules:ro
      - type: bind
        source: ../../grafana/dashboards
        target: /var/lib/grafana/dashboards
      - type: volume
        source: ./not-a-path
        target: /prometheus
configs:
  extra:
    file: ./extra.yml
  inline:
    external: true
""")
EXISTING = {"deploy/compose/prometheus.yml", "prometheus/rules", "grafana/dashboards", "deploy/compose/extra.yml"}

RULES = ["a.rules.yml", "b.rules.yml"]
STACK = yaml.safe_load("""
services:
  docker-watchdog:
    deploy: {mode: global}
  prometheus:
    configs:
      - {source: prometheus-config, target: /etc/prometheus/prometheus.yml}
      - {source: rules-a, target: /etc/prometheus/rules/a.rules.yml}
      - {source: rules-b, target: /etc/prometheus/rules/b.rules.yml}
configs:
  prometheus-config: {file: ./prometheus.yml}
  rules-a: {file: ../../prometheus/rules/a.rules.yml}
  rules-b: {file: ../../prometheus/rules/b.rules.yml}
""")


def compose_problems(doc, existing=EXISTING):
    return dfiles.deployment_problems("deploy/compose/docker-compose.yml", doc, existing.__contains__)


def test_a_deployment_whose_files_exist_passes():
    assert compose_problems(COMPOSE) == []


def test_a_missing_bind_mounted_file_fails():
    assert compose_problems(COMPOSE, EXISTING - {"prometheus/rules"}) == [
        "deploy/compose/docker-compose.yml: prometheus mounts ../../prometheus/rules, which does not exist"]


def test_a_missing_long_syntax_bind_source_fails():
    assert compose_problems(COMPOSE, EXISTING - {"grafana/dashboards"}) == [
        "deploy/compose/docker-compose.yml: prometheus mounts ../../grafana/dashboards, which does not exist"]


def test_a_missing_config_file_fails():
    assert compose_problems(COMPOSE, EXISTING - {"deploy/compose/extra.yml"}) == [
        "deploy/compose/docker-compose.yml: config extra names ./extra.yml, which does not exist"]


@pytest.mark.parametrize("command", [None, ["--collector.disk.host-prefix", "/"], ["--web.listen-address", ":9734"]])
def test_a_watchdog_not_told_the_host_prefix_fails(command):
    doc = copy.deepcopy(COMPOSE)
    doc["services"]["docker-watchdog"]["command"] = command
    assert compose_problems(doc) == ["deploy/compose/docker-compose.yml: the watchdog is not told where the host's "
                                     "root is (--collector.disk.host-prefix /host)"]


def test_a_stack_shipping_every_rule_file_in_global_mode_passes():
    assert dfiles.stack_problems(STACK, RULES) == []


def test_a_stack_not_in_global_mode_fails():
    stack = copy.deepcopy(STACK)
    stack["services"]["docker-watchdog"]["deploy"]["mode"] = "replicated"
    assert dfiles.stack_problems(stack, RULES) == ["swarm: the watchdog service is not mode: global"]


def test_a_stack_missing_a_rule_file_fails():
    assert dfiles.stack_problems(STACK, RULES + ["c.rules.yml"]) == [
        "swarm: prometheus/rules/c.rules.yml is not shipped to /etc/prometheus/rules/c.rules.yml"]


def test_a_stack_shipping_a_rule_file_elsewhere_fails():
    stack = copy.deepcopy(STACK)
    stack["services"]["prometheus"]["configs"][2]["target"] = "/etc/prometheus/b.rules.yml"
    assert dfiles.stack_problems(stack, RULES) == [
        "swarm: prometheus/rules/b.rules.yml is not shipped to /etc/prometheus/rules/b.rules.yml"]


def test_main_on_a_small_repository(tmp_path, capsys):
    for d in ("deploy/compose", "deploy/swarm", "prometheus/rules", "grafana/dashboards"):
        (tmp_path / d).mkdir(parents=True)
    for f in ("deploy/compose/prometheus.yml", "deploy/compose/extra.yml", "deploy/swarm/prometheus.yml",
              "prometheus/rules/a.rules.yml", "prometheus/rules/b.rules.yml"):
        (tmp_path / f).write_text("")
    (tmp_path / "deploy/compose/docker-compose.yml").write_text(yaml.safe_dump(COMPOSE))
    swarm = copy.deepcopy(STACK)
    swarm["services"]["docker-watchdog"]["command"] = ["--collector.disk.host-prefix", "/host"]
    (tmp_path / "deploy/swarm/docker-watchdog-stack.yml").write_text(yaml.safe_dump(swarm))
    assert dfiles.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("deploy.sh: ok   mounted and shipped files exist; the stack ships all 2")
    (tmp_path / "prometheus/rules/c.rules.yml").write_text("")
    assert dfiles.main([str(tmp_path)]) == 1
    assert capsys.readouterr().out == ("deploy.sh: FAIL swarm: prometheus/rules/c.rules.yml is not shipped to "
                                       "/etc/prometheus/rules/c.rules.yml\n")
