#!/usr/bin/env bash
# Unit tests of the checks' Python (scripts/checks/*.py, e.g. prometheus_files.py, prometheus_live.py,
# deploy_unit.py, deploy_files.py), in scripts/checks/tests/test_*.py:
#
#   python3 -m pytest -q scripts/checks/tests
#
# Each test feeds a parser or validator good input (which must pass) and bad input (whose problem
# must be found). A few seconds; no Docker, no network but loopback. Needs python3 with pytest
# (Debian: python3-pytest) and PyYAML (Debian: python3-yaml).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$REPO_ROOT"

PYTHON="${PYTHON:-python3}"
say() { printf 'pytest.sh: %s\n' "$*"; }

command -v "$PYTHON" >/dev/null || { say "FAIL $PYTHON not found"; exit 1; }
"$PYTHON" -m pytest --version >/dev/null 2>&1 \
    || { say "FAIL $PYTHON has no pytest ($PYTHON -m pytest --version fails; Debian: apt-get install python3-pytest)"; exit 1; }
"$PYTHON" -c 'import yaml' 2>/dev/null \
    || { say "FAIL $PYTHON has no PyYAML module (Debian: apt-get install python3-yaml)"; exit 1; }

# no __pycache__ in the work tree (pytest.ini turns off .pytest_cache)
if PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m pytest -q scripts/checks/tests; then
    say "OK"
else
    say "FAIL: the tests above failed"
    exit 1
fi
