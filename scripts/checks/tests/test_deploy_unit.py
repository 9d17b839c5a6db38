"""Tests of scripts/checks/deploy_unit.py (deploy.sh's hardening check of the systemd unit)."""
import pytest

import deploy_unit as du


def good_unit():
    lines = ["[Unit]", "Description=docker-watchdog", "After=docker.service", "", "[Service]",
             "# the hardening contract"]
    lines += [f"{k}={v}" for k, v in du.WANT.items()]
    lines += ["ExecStart=/usr/local/bin/docker-watchdog", "SystemCallFilter=@system-service",
              "SystemCallFilter=~@privileged", "TimeoutStopSec=30s", "", "[Install]", "WantedBy=multi-user.target"]
    return [line + "\n" for line in lines]


def problems(lines):
    return du.unit_problems(du.service_options(lines))


def test_service_options_reads_only_the_service_section():
    opts = du.service_options(good_unit())
    assert opts["SystemCallFilter"] == ["@system-service", "~@privileged"]
    assert opts["CapabilityBoundingSet"] == [""]
    assert "Description" not in opts and "WantedBy" not in opts


def test_a_unit_with_the_whole_contract_passes():
    assert problems(good_unit()) == []


@pytest.mark.parametrize("old, new, want", [
    ("ProtectSystem=strict", "ProtectSystem=full", "ProtectSystem: ['full'], want ['strict']"),
    ("NoNewPrivileges=yes", "# NoNewPrivileges=yes", "NoNewPrivileges: None, want ['yes']"),
    ("CapabilityBoundingSet=", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet: "),
    ("SystemCallFilter=@system-service", "SystemCallFilter=@basic-io", "SystemCallFilter lacks @system-service"),
    ("TimeoutStopSec=30s", "TimeoutStopSec=120s", "TimeoutStopSec '120s': want a bound of at most 90s"),
    ("TimeoutStopSec=30s", "TimeoutStopSec=30", "TimeoutStopSec '30': want a bound"),
    ("TimeoutStopSec=30s", "TimeoutStopSec=0s", "TimeoutStopSec '0s': want a bound"),
    ("TimeoutStopSec=30s", "", "TimeoutStopSec '': want a bound"),
    ("TimeoutStopSec=30s", "ReadWritePaths-=/tmp", "a second ReadWritePaths"),
])
def test_a_unit_missing_part_of_the_contract_fails(old, new, want):
    unit = [new + "\n" if line == old + "\n" else line for line in good_unit()]
    assert unit != good_unit()
    found = problems(unit)
    assert any(p.startswith(want) for p in found), found


def test_an_option_given_twice_fails():
    unit = good_unit()
    unit.insert(unit.index("[Install]\n"), "ReadWritePaths=/var/lib/docker\n")
    assert "ReadWritePaths: ['/var/lib/docker-watchdog', '/var/lib/docker'], want ['/var/lib/docker-watchdog']" in problems(unit)


def test_options_outside_the_service_section_do_not_count():
    unit = [line for line in good_unit() if line != "User=docker-watchdog\n"] + ["User=docker-watchdog\n"]
    assert problems(unit) == ["User: None, want ['docker-watchdog']"]


def test_main_prints_one_line_per_problem(tmp_path, capsys):
    path = tmp_path / "u.service"
    path.write_text("".join(good_unit()))
    assert du.main([str(path)]) == 0
    assert capsys.readouterr().out == f"deploy.sh: ok   {path}: {len(du.WANT) + 2} hardening and service options as required\n"
    path.write_text("".join(good_unit()).replace("PrivateTmp=yes", "PrivateTmp=no"))
    assert du.main([str(path)]) == 1
    assert capsys.readouterr().out == f"deploy.sh: FAIL {path}: PrivateTmp: ['no'], want ['yes']\n"
