#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # trap handlers; the containers' scripts are for their own shell
# The shipped Prometheus configuration, rules and Grafana dashboard against a real Prometheus
# scraping two real watchdogs on two private Docker daemons (a fleet of two):
#
#   1. starts private daemons prom-a and prom-b ($PROM_LIVE_PREFIX before each name, when set;
#      scripts/test-dockerd.sh, each on its own 1 GB
#      ext4 loop filesystem so that disk remediation measures only its own daemon) and, on each,
#      the same workload: a healthy and an unhealthy compose stack, a plain container, a
#      crash-looping container (restart policy), a container killed by the OOM killer, a
#      container slowly filling its filesystem (so time-to-full has a trend), multi-stage BuildKit
#      builds (hits and misses), a 3-second stall of dockerd (SIGSTOP: probe failures and Docker
#      API errors), and remediation: disk remediation that always acts (act below 99.9% free,
#      target 99.99%, build_cache step, 10s cool-down) so it prunes, reclaims, is held back and
#      stays under pressure; autoheal in dry run for the opted-in unhealthy container; and an
#      audit log made unwritable (replaced by a directory) for the last phase, so actions fail;
#   2. runs a docker-watchdog ($WATCHDOG_BIN) per daemon on 127.0.0.1 with short intervals;
#   3. runs Debian's prometheus on 127.0.0.1 with a configuration generated from the shipped
#      prometheus/prometheus.yml: scrape and evaluation interval 2s, the static target replaced by
#      watchdog A, the file_sd_configs files replaced by a file naming watchdog B, rule_files the
#      shipped prometheus/rules/*.rules.yml (absolute paths);
#   4. then asks Prometheus' HTTP API for: both targets up; every shipped rule group loaded and
#      every rule evaluated without error; every recording rule (its series and its expression)
#      non-empty with a series for each watchdog; every alert expression valid; the alerts this
#      workload must raise raised (pending or firing) on both hosts and the ones it must not
#      raise quiet; and EVERY PromQL expression in grafana/dashboards/*.json (panel queries,
#      annotation queries, variable queries), with Grafana's variables substituted as Grafana
#      would ($instance -> .*, $__interval, $__rate_interval, $__range), run as the range or
#      instant query Grafana runs: no error, no empty result, both instances present, exactly
#      one series per instance where the legend names only the instance, and no two series
#      with the same legend. ALLOW_EMPTY below lists panels allowed to be empty, with why.
#
# Everything it starts (daemons, watchdogs, prometheus) is stopped by pid on exit. Listens on
# loopback and unix sockets only. Takes about 75 seconds.
#
# Environment (as scripts/test.sh exports it; defaults for running it by hand as root):
#   WATCHDOG_BIN                  docker-watchdog binary   (default $REPO/.build/debug/docker-watchdog)
#   WATCHDOG_TEST_DOCKERD_SCRIPT  scripts/test-dockerd.sh
#   WATCHDOG_TEST_DOCKER_CLI      docker client            (default /usr/bin/docker)
#   WATCHDOG_TEST_NO_DOCKER=1     skip (no daemons in this run)
#   WATCHDOG_REQUIRE_DOCKER=1     fail rather than skip when daemons cannot be started
#   PROMETHEUS                    prometheus binary        (default /usr/bin/prometheus)
#   PROM_LIVE_KEEP=1              keep the temporary directory (configs, logs, TSDB)
#   PROM_LIVE_VERBOSE=1           print the number of series and points of every dashboard query
#   PROM_LIVE_PREFIX              prefix of the private daemons' names (default none: prom-a, prom-b)
# Logs of a failed run are copied to .build/prometheus-live-logs/.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$REPO_ROOT"

WATCHDOG_BIN="${WATCHDOG_BIN:-$REPO_ROOT/.build/debug/docker-watchdog}"
TD="${WATCHDOG_TEST_DOCKERD_SCRIPT:-$REPO_ROOT/scripts/test-dockerd.sh}"
DOCKER_CLI="${WATCHDOG_TEST_DOCKER_CLI:-/usr/bin/docker}"
PROMETHEUS="${PROMETHEUS:-/usr/bin/prometheus}"
PYTHON="${PYTHON:-python3}"
DAEMONS=("${PROM_LIVE_PREFIX:-}prom-a" "${PROM_LIVE_PREFIX:-}prom-b")
LOGDIR="$REPO_ROOT/.build/prometheus-live-logs"
T0=$(date +%s)

say() { printf 'prometheus-live.sh: %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }
skip() { say "SKIPPED: $*"; exit 0; }
die() { say "FAIL: $*"; exit 1; }
unavailable() { # can't run here: fail when the run requires Docker, skip otherwise
    if [[ "${WATCHDOG_REQUIRE_DOCKER:-0}" == 1 ]]; then die "$*"; else skip "$*"; fi
}

[[ "${WATCHDOG_TEST_NO_DOCKER:-0}" == 1 ]] && skip "WATCHDOG_TEST_NO_DOCKER=1 (no private daemons in this run)"
[[ "$(id -u)" == 0 ]] || unavailable "private Docker daemons need root"
[[ -x "$WATCHDOG_BIN" ]] || die "no watchdog binary at $WATCHDOG_BIN (set WATCHDOG_BIN)"
[[ -x "$TD" ]] || die "no $TD"
[[ -x "$DOCKER_CLI" ]] || die "no docker client at $DOCKER_CLI"
[[ -x "$PROMETHEUS" ]] || die "no prometheus at $PROMETHEUS (Debian: apt-get install prometheus; scripts/setup.sh does)"
"$PYTHON" -c 'import yaml' 2>/dev/null || die "python3 with PyYAML is needed (Debian: python3-yaml)"
command -v curl >/dev/null || die "curl is needed"

TMP="$(mktemp -d /tmp/prom-live.XXXXXX)"
pids=()          # watchdogs and prometheus, stopped by pid
started=()       # private daemons, stopped with test-dockerd.sh
stalled=()       # dockerd pids we SIGSTOPped and have not continued yet
rebuilder=""     # the background loop of builds (pid), while the workload runs
py_pid=""        # the Python helper running now
result=1

stop_pid() {
    local pid="$1" n
    kill -TERM "$pid" 2>/dev/null || return 0
    for n in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? p n bg=()
    trap - EXIT INT TERM
    for p in ${stalled[@]+"${stalled[@]}"}; do kill -CONT "$p" 2>/dev/null || true; done
    [[ -n "$rebuilder" ]] && stop_pid "$rebuilder"
    [[ -n "$py_pid" ]] && stop_pid "$py_pid"
    for p in ${pids[@]+"${pids[@]}"}; do stop_pid "$p"; done
    if (( rc != 0 || result != 0 )); then
        mkdir -p "$LOGDIR"
        rm -f "$LOGDIR"/*
        cp "$TMP"/*.log "$TMP"/prometheus.yml "$LOGDIR"/ 2>/dev/null || true
        for n in ${started[@]+"${started[@]}"}; do
            cp "${WATCHDOG_TEST_ROOT:-/tmp/docker-watchdog-test}/$n/dockerd.log" "$LOGDIR/dockerd-$n.log" 2>/dev/null || true
        done
        say "logs copied to $LOGDIR"
    fi
    for n in ${started[@]+"${started[@]}"}; do
        { "$TD" stop "$n" >/dev/null || say "could not stop private daemon $n cleanly"; } &
        bg+=($!)
    done
    for p in ${bg[@]+"${bg[@]}"}; do wait "$p" || true; done
    if [[ "${PROM_LIVE_KEEP:-0}" == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---- the Python half (scripts/checks/prometheus_live.py): ports, config, metric waits, the queries --
# In the background and waited for, so that a TERM or INT runs the trap at once (the trap stops it).
py() {
    local rc=0
    "$PYTHON" "$SCRIPT_DIR/prometheus_live.py" "$@" &
    py_pid=$!
    wait "$py_pid" || rc=$?
    py_pid=""
    return "$rc"
}

free_ports() { # N free loopback ports
    "$PYTHON" "$SCRIPT_DIR/prometheus_live.py" ports "$1"
}

# ---- 1. daemons ------------------------------------------------------------------------------------
say "starting private daemons ${DAEMONS[*]} (1 GB loop filesystems)"
declare -A HOST PIDFILE
bg=()
for n in "${DAEMONS[@]}"; do
    "$TD" stop "$n" >/dev/null 2>&1 || true     # leftovers of an interrupted run
    started+=("$n")
    "$TD" start "$n" --loopfs 1024 >"$TMP/start-$n.log" 2>&1 &
    bg+=($!)
done
for i in "${!bg[@]}"; do
    wait "${bg[$i]}" || { cat "$TMP/start-${DAEMONS[$i]}.log"; die "could not start private daemon ${DAEMONS[$i]}"; }
done
for n in "${DAEMONS[@]}"; do
    eval "$("$TD" env "$n" --prefix D)"
    HOST[$n]="$D_HOST"
    PIDFILE[$n]="$D_PIDFILE"
done
dk() { local n="$1"; shift; env -u DOCKER_HOST -u DOCKER_CONTEXT -u DOCKER_TLS_VERIFY "$DOCKER_CLI" -H "${HOST[$n]}" "$@"; }

# ---- 2. watchdogs and prometheus ----------------------------------------------------------------------
read -r PORT_A PORT_B PORT_P <<<"$(free_ports 3)"
declare -A PORT=(["${DAEMONS[0]}"]=$PORT_A ["${DAEMONS[1]}"]=$PORT_B) AUDIT URL
for n in "${DAEMONS[@]}"; do
    AUDIT[$n]="$TMP/audit-$n/audit.jsonl"
    URL[$n]="http://127.0.0.1:${PORT[$n]}/metrics"
    "$WATCHDOG_BIN" \
        --docker.host "${HOST[$n]}" \
        --web.listen-address "127.0.0.1:${PORT[$n]}" \
        --collector.daemon.interval 1s --collector.daemon.timeout 1s \
        --collector.disk.interval 1s \
        --collector.system-df.interval 5s \
        --collector.build-cache.interval 2s \
        --collector.process.interval 2s \
        --collector.containers.interval 1s \
        --remediation.interval 2s \
        --remediation.audit-log "${AUDIT[$n]}" \
        --remediation.disk.enabled=true \
        --remediation.disk.act-below-ratio 0.999 --remediation.disk.target-ratio 0.9999 \
        --remediation.disk.steps build_cache --remediation.disk.cooldown 10s \
        --remediation.autoheal.dry-run=true --remediation.autoheal.min-unhealthy 1s --remediation.autoheal.backoff 2s \
        >"$TMP/watchdog-$n.log" 2>&1 &
    pids+=($!)
done
INST_A="127.0.0.1:$PORT_A"; INST_B="127.0.0.1:$PORT_B"
ALL_URLS="${URL[${DAEMONS[0]}]},${URL[${DAEMONS[1]}]}"

py config "$REPO_ROOT/prometheus/prometheus.yml" "$TMP/prometheus.yml" "$TMP/targets" "$INST_A" "$INST_B" \
    || die "could not generate the Prometheus configuration"
PROM="http://127.0.0.1:$PORT_P"
"$PROMETHEUS" --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PORT_P" --storage.tsdb.retention.time=1d --log.level=warn \
    >"$TMP/prometheus.log" 2>&1 &
pids+=($!)
prom_pid=$!
PROM_START=$(date +%s.%N)
for _ in $(seq 100); do
    curl -sf "$PROM/-/ready" >/dev/null 2>&1 && break
    kill -0 "$prom_pid" 2>/dev/null || { tail -20 "$TMP/prometheus.log"; die "prometheus exited"; }
    sleep 0.2
done
curl -sf "$PROM/-/ready" >/dev/null || die "prometheus is not ready after 20s"
py wait 20 "$ALL_URLS" 'docker_watchdog_events_stream_up == 1' 'docker_daemon_up == 1' \
    || die "the watchdogs did not come up (logs: $TMP/watchdog-*.log)"
say "watchdogs on $INST_A (${DAEMONS[0]}) and $INST_B (${DAEMONS[1]}), prometheus on 127.0.0.1:$PORT_P ($(elapsed))"

# ---- 3. workloads ---------------------------------------------------------------------------------------
CTX="$TMP/build"
mkdir -p "$CTX"
cat >"$CTX/Dockerfile" <<'EOF'
# An 8 MB intermediate stage that is not in the final image: its records are build cache of
# their own (not shared with an image), so pruning them frees space the watchdog can measure.
FROM busybox:latest AS blob
RUN head -c 8000000 /dev/urandom > /blob
RUN wc -c /blob > /size
FROM busybox:latest
COPY --from=blob /size /size
RUN cat /size > /copied
EOF
build() { DOCKER_BUILDKIT=1 dk "$1" build --network none -q "$CTX" >>"$TMP/build-$1.log" 2>&1; }
build_all() { # the same build on every daemon at once
    local n b=()
    for n in "${DAEMONS[@]}"; do build "$n" & b+=($!); done
    for n in "${b[@]}"; do wait "$n" || { tail -20 "$TMP"/build-*.log; die "a build failed"; }; done
}

containers() {
    local n="$1"
    # compose stack "shop": two healthy services; "batch": an unhealthy worker (opted in to
    # autoheal, which runs in dry run) and a cron service without a health check
    local p=com.docker.compose.project s=com.docker.compose.service
    dk "$n" run -d --network none --name shop-web --label "$p=shop" --label "$s=web" \
        --health-cmd true --health-interval 1s busybox sleep 100000
    dk "$n" run -d --network none --name shop-db --label "$p=shop" --label "$s=db" \
        --health-cmd true --health-interval 1s busybox sleep 100000
    dk "$n" run -d --network none --name batch-worker --label "$p=batch" --label "$s=worker" \
        --label docker-watchdog.autoheal=true \
        --health-cmd false --health-interval 1s --health-retries 1 busybox sleep 100000
    dk "$n" run -d --network none --name batch-cron --label "$p=batch" --label "$s=cron" busybox sleep 100000
    dk "$n" run -d --network none --name plain busybox sleep 100000
    dk "$n" run -d --network none --name crashloop --restart always busybox sh -c 'sleep 2; exit 3'
    # 1 MB a second into its own layer (on the daemon's loop filesystem): a shrinking trend
    dk "$n" run -d --network none --name filler busybox \
        sh -c 'i=0; while [ $i -lt 300 ]; do head -c 1048576 /dev/zero > /f$i; i=$((i+1)); sleep 1; done; sleep 100000'
    build "$n"
}
say "workload: compose stacks, crash loop, filler, first builds"
bg=()
for n in "${DAEMONS[@]}"; do containers "$n" >"$TMP/workload-$n.log" 2>&1 & bg+=($!); done
for i in "${!bg[@]}"; do
    wait "${bg[$i]}" || { cat "$TMP/workload-${DAEMONS[$i]}.log"; die "workload on ${DAEMONS[$i]} failed"; }
done

# Builds until both hits and misses of build steps are counted and a prune has reclaimed space:
# a build of the same Dockerfile hits unless the disk ladder pruned the cache in between.
say "workload: builds until hits, misses and reclaimed space are counted ($(elapsed))"
ok=0
for _ in $(seq 12); do
    if py wait 0 "$ALL_URLS" \
        'docker_build_cache_hits_total{record_type="regular",origin="build"} >= 1' \
        'docker_build_cache_misses_total{record_type="regular",origin="build"} >= 1' \
        'docker_watchdog_remediation_reclaimed_bytes_total > 0' >/dev/null; then ok=1; break; fi
    build_all
    sleep 3
done
(( ok )) || py wait 0 "$ALL_URLS" \
    'docker_build_cache_hits_total{record_type="regular",origin="build"} >= 1' \
    'docker_build_cache_misses_total{record_type="regular",origin="build"} >= 1' \
    'docker_watchdog_remediation_reclaimed_bytes_total > 0' || die "builds were not counted as hits and misses, or no space was reclaimed"

# The OOM kill only now that Prometheus has scraped the counter at 0: an increase it never saw
# start is no increase (DockerContainerOOMKilled must fire).
# Docker 20.10 occasionally misses its own OOMKilled flag (the exit overtakes the OOM event): such
# a container is removed and the kill done again under a new name.
oom_kill() {
    local n="$1" i
    for i in 1 2 3; do
        dk "$n" run -d --network none --name "oom-$i" --memory 16m --memory-swap 16m busybox \
            sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a)' || return 1
        dk "$n" wait "oom-$i" || return 1
        [[ "$(dk "$n" inspect -f '{{.State.OOMKilled}}' "oom-$i")" == true ]] && return 0
        echo "oom-$i ended without Docker's OOMKilled flag; once more"
        dk "$n" rm -f "oom-$i" || return 1
    done
    return 1
}
say "workload: a container killed by the OOM killer ($(elapsed))"
bg=()
for n in "${DAEMONS[@]}"; do oom_kill "$n" >>"$TMP/workload-$n.log" 2>&1 & bg+=($!); done
for i in "${!bg[@]}"; do
    wait "${bg[$i]}" || { tail -5 "$TMP/workload-${DAEMONS[$i]}.log"; die "no container was OOM-killed on ${DAEMONS[$i]}"; }
done
grep -h 'once more' "$TMP"/workload-*.log | sed 's/^/prometheus-live.sh: note: /' || true

say "workload: dockerd stalled for 3s (SIGSTOP) for probe failures and API errors ($(elapsed))"
for n in "${DAEMONS[@]}"; do
    p="$(tr -dc '0-9' <"${PIDFILE[$n]}")"
    kill -STOP "$p"
    stalled+=("$p")
done
sleep 3
for p in "${stalled[@]}"; do kill -CONT "$p"; done
# The disk ladder acts only when there is something to remove: rebuild every few seconds so its
# build_cache step keeps finding cache (actions keep counting, as on a busy CI host).
( while :; do build_all >/dev/null 2>&1 || true; sleep 4; done ) &
rebuilder=$!

stalled=()

py wait 60 "$ALL_URLS" \
    'docker_container_oom_kills_total >= 1' \
    'docker_container_restarts_total >= 2' \
    'docker_container_health_transitions_total{status="unhealthy"} >= 1' \
    'docker_daemon_probe_failures_total >= 1' \
    'docker_watchdog_docker_api_errors_total >= 1' \
    'docker_watchdog_remediation_actions_total{policy="disk"} >= 2' \
    'docker_watchdog_remediation_dry_run_actions_total{policy="autoheal"} >= 1' \
    'docker_watchdog_remediation_suppressed{policy="disk"} == 1' \
    'docker_watchdog_disk_pressure == 1' \
    || die "the workload did not show up in the watchdogs' metrics"

stop_pid "$rebuilder"
rebuilder=""

# Last phase: the audit log becomes a directory, so every action fails ("not run"), and the cache
# of one more build stays for the build-cache panels.
say "workload: audit log unwritable until actions fail; last build ($(elapsed))"
for n in "${DAEMONS[@]}"; do
    mv "${AUDIT[$n]}" "${AUDIT[$n]}.before"
    mkdir "${AUDIT[$n]}"
done
build_all
py wait 60 "$ALL_URLS" 'max:docker_watchdog_remediation_failures_total >= 2' \
    || die "remediation failures were not counted"

# A minute of data at least (a 1-minute rate window), and a few scrapes and rule evaluations
# after the last change.
while (( $(date +%s) - ${PROM_START%.*} < 60 )); do sleep 1; done
sleep 6
for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null && continue
    tail -n 20 "$TMP"/watchdog-*.log "$TMP/prometheus.log"
    die "process ${pids[$i]} (watchdog A, B, prometheus: #$i) has exited"
done

say "querying prometheus ($(elapsed))"
if py check "$PROM" "$PROM_START" "$REPO_ROOT" "$INST_A" "$INST_B"; then
    result=0
    say "OK ($(elapsed))"
else
    say "FAILED ($(elapsed))"
fi
exit "$result"
