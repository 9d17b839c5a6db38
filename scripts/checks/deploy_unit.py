"""deploy.sh's hardening check of the systemd unit: every option of the unit's hardening contract
(docs/deployment.md) present in [Service] exactly once with its value.

    python3 scripts/checks/deploy_unit.py deploy/systemd/docker-watchdog.service

Prints `deploy.sh: ok|FAIL ...` lines; exits 1 if anything is missing or different. The functions
are imported by scripts/checks/tests/test_deploy_unit.py.
"""
import sys

WANT = {  # option: exact value (the unit's hardening contract; docs/deployment.md)
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


def service_options(lines):
    """{option: [values]} of the [Service] section of a unit file's lines."""
    opts = {}
    section = None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        k, _, v = line.partition("=")
        if section == "[Service]":
            opts.setdefault(k, []).append(v)
    return opts


def unit_problems(opts, want=WANT):
    """What the [Service] options {option: [values]} lack of the hardening contract."""
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
    return bad


def main(argv):
    """argv: [UNIT FILE]. Returns the exit status."""
    unit = argv[0]
    bad = unit_problems(service_options(open(unit)))
    for b in bad:
        print(f"deploy.sh: FAIL {unit}: {b}")
    if not bad:
        print(f"deploy.sh: ok   {unit}: {len(WANT) + 2} hardening and service options as required")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
