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
#   - every rule and dashboard query parses; a metric name with a colon is a recording rule; no
#     query uses a `type` label
#
# The static checks are scripts/checks/prometheus_files.py (tested by scripts/checks/tests/).
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
    "$PYTHON" "$SCRIPT_DIR/prometheus_files.py" "$REPO_ROOT"
    py_failures=$?
    set -e
    failures=$((failures + py_failures))
fi

if (( failures > 0 )); then
    printf 'prometheus.sh: %d check(s) FAILED\n' "$failures"
    exit 1
fi
printf 'prometheus.sh: all checks passed\n'
