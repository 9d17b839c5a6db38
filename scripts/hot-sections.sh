#!/usr/bin/env bash
# Regenerates Sources/docker-watchdog/hot-sections.txt: the functions a running watchdog executes,
# which the release link places together (Package.swift, `functionSections`). The kernel keeps
# whole 64 KiB blocks of a binary's text resident around each page touched; with the executed code
# spread over the binary most of its text was resident, with it placed together about 1.5 MiB less
# (BENCHMARKS.md, resident memory).
#
# How: the release binary runs under valgrind's callgrind against the synthetic engine (300
# containers changing every 2 s, health flaps, restarts, events; remediation in dry run) while
# /metrics is scraped in every format, the landing page, history and a 404 are fetched; every
# function callgrind saw run in the binary is listed as its section name. A function missing from
# the list still works, it is only placed elsewhere: rerun this after larger changes.
#
#   scripts/hot-sections.sh        (about 2 minutes once built; needs valgrind)
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
SWIFT="${SWIFT:-swift}"
command -v "$SWIFT" >/dev/null || SWIFT=/opt/swift/usr/bin/swift
command -v valgrind >/dev/null || { echo "hot-sections.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
SCRATCH="${BENCH_SCRATCH:-$REPO_ROOT/.build-bench}"
for product in docker-watchdog fake-docker-engine; do
    "$SWIFT" build -c release --static-swift-stdlib --product "$product" --scratch-path "$SCRATCH" >/dev/null
done
BIN="$("$SWIFT" build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)"
WORK="$(mktemp -d /tmp/hot-sections.XXXXXX)"
PORT=19479
pids=()
cleanup() { for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$BIN/fake-docker-engine" engine --socket "$WORK/engine.sock" --containers 300 --root-dir "$WORK" --seed 7 \
    --churn-interval 2 --churn-creates 1 --churn-removes 1 --churn-flaps 3 --churn-restarts 1 >"$WORK/engine.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [[ -S "$WORK/engine.sock" ]] && break; sleep 0.2; done
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.out" \
    "$BIN/docker-watchdog" --docker.host "unix://$WORK/engine.sock" --web.listen-address "127.0.0.1:$PORT" \
    --log.level info --collector.containers.interval=2s --collector.containers.resync-interval=4s \
    --remediation.dry-run=true --remediation.audit-log="$WORK/audit.jsonl" >"$WORK/watchdog.log" 2>&1 &
watchdog=$!
pids+=($watchdog)
for _ in $(seq 1 120); do curl -fs -m 5 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 1; done
for _ in 1 2 3; do
    sleep 8
    for accept in "text/plain" "application/openmetrics-text;version=1.0.0"; do
        curl -s -m 30 -H "Accept: $accept" "http://127.0.0.1:$PORT/metrics" -o /dev/null
        curl -s -m 30 -H "Accept: $accept" -H "Accept-Encoding: gzip" "http://127.0.0.1:$PORT/metrics" -o /dev/null
    done
    for path in / /api/v1/history /nope; do curl -s -m 30 "http://127.0.0.1:$PORT$path" -o /dev/null; done
done
kill -TERM "$watchdog"
wait "$watchdog" || true

python3 - "$WORK/callgrind.out" "$BIN/docker-watchdog" "$REPO_ROOT/Sources/docker-watchdog/hot-sections.txt" <<'PY'
import re, subprocess, sys
profile, binary, target = sys.argv[1:4]
objects, functions, current, executed = {}, {}, None, set()
definition = re.compile(r"^(ob|cob|fn|cfn)=\((\d+)\)(?: (.*))?$")
for line in open(profile, errors="replace"):
    m = definition.match(line.rstrip("\n"))
    if not m:
        continue
    kind, key, name = m.groups()
    table = objects if kind in ("ob", "cob") else functions
    if name:
        table[key] = name
    if kind == "ob":
        current = key
    elif kind == "fn":
        executed.add((current, key))
names = {re.sub(r"'\d+$", "", functions.get(f, "")) for ob, f in executed if objects.get(ob, "").endswith("/docker-watchdog")}
symbols = set()
for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        symbols.add(parts[2])
hot = sorted(n for n in names if n in symbols)
if len(hot) < 1000:
    sys.exit(f"hot-sections.sh: only {len(hot)} executed functions found in {binary}: the profile looks wrong")
with open(target, "w") as f:
    f.writelines(f".text.{n}\n" for n in hot)
print(f"hot-sections.sh: {len(hot)} functions written to {target}")
PY
rm -rf "$WORK"
