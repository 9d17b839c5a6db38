"""deploy.sh's check of the files the deployments name: every file of the repository that the compose
example or the Swarm stack bind-mounts or ships exists; the watchdog is told where the host's root
is; the stack runs the watchdog in global mode and ships every rule file of prometheus/rules to the
directory its prometheus.yml loads.

    python3 scripts/checks/deploy_files.py REPO_ROOT

Prints `deploy.sh: ok|FAIL ...` lines; exits 1 if anything is wrong. The functions are imported by
scripts/checks/tests/test_deploy_files.py.
"""
import os
import sys

import yaml

DEPLOYMENTS = ("deploy/compose/docker-compose.yml", "deploy/swarm/docker-watchdog-stack.yml")
STACK = "deploy/swarm/docker-watchdog-stack.yml"
HOST_PREFIX = ["--collector.disk.host-prefix", "/host"]


def deployment_problems(f, doc, exists):
    """Problems of the parsed compose file f (a path relative to the repository): a bind mount or
    config file of the repository that does not exist (exists: a repository-relative, normalised
    path -> bool), or a watchdog without --collector.disk.host-prefix /host."""
    bad = []
    base = os.path.dirname(f)

    def here(p):
        return os.path.normpath(os.path.join(base, p))
    for name, svc in doc["services"].items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else (v.get("source") if v.get("type") == "bind" else None)
            if src and src.startswith("."):
                if not exists(here(src)):
                    bad.append(f"{f}: {name} mounts {src}, which does not exist")
    for name, c in (doc.get("configs") or {}).items():
        if "file" in c and not exists(here(c["file"])):
            bad.append(f"{f}: config {name} names {c['file']}, which does not exist")
    if doc["services"]["docker-watchdog"].get("command") != HOST_PREFIX:
        bad.append(f"{f}: the watchdog is not told where the host's root is (--collector.disk.host-prefix /host)")
    return bad


def stack_problems(stack, rules):
    """Problems of the parsed Swarm stack: the watchdog not in global mode, a rule file (of the
    names in rules) not shipped to /etc/prometheus/rules/<name>."""
    bad = []
    svc = stack["services"]["docker-watchdog"]
    if svc.get("deploy", {}).get("mode") != "global":
        bad.append("swarm: the watchdog service is not mode: global")
    shipped = {os.path.basename(stack["configs"][c["source"]]["file"]): c["target"]
               for c in stack["services"]["prometheus"]["configs"] if c["source"].startswith("rules-")}
    for r in rules:
        if shipped.get(r) != f"/etc/prometheus/rules/{r}":
            bad.append(f"swarm: prometheus/rules/{r} is not shipped to /etc/prometheus/rules/{r}")
    return bad


def main(argv):
    """argv: [REPO_ROOT]. Returns the exit status."""
    root = argv[0]

    def exists(p):
        return os.path.exists(os.path.join(root, p))
    bad = []
    # every file of this repository a deployment mounts or ships must exist
    for f in DEPLOYMENTS:
        bad += deployment_problems(f, yaml.safe_load(open(os.path.join(root, f))), exists)
    # the stack ships every rule file, to the directory its prometheus.yml loads
    stack = yaml.safe_load(open(os.path.join(root, STACK)))
    rules = sorted(os.listdir(os.path.join(root, "prometheus/rules")))
    bad += stack_problems(stack, rules)
    for b in bad:
        print(f"deploy.sh: FAIL {b}")
    if not bad:
        print(f"deploy.sh: ok   mounted and shipped files exist; the stack ships all {len(rules)} rule files; global mode")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
