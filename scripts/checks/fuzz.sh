#!/usr/bin/env bash
# Bounded libFuzzer run of every fuzz target (Sources/FuzzTargets, executables fuzz-*):
#
#   docker-json  every Docker Engine answer the client decodes (containers, inspect, info, version,
#                system df in both shapes, events lines, images, volumes)
#   config       YAML file + flags + environment through ConfigLoader, with a write-back round trip
#   http         WebRouter request handling, and the raw bytes at a real libmicrohttpd socket
#
# Each target is built with AddressSanitizer and coverage instrumentation (-DWATCHDOG_FUZZING and
# libFuzzer's fuzzer_no_main runtime, see Sources/FuzzTargets/FuzzDriver.swift for why not
# -sanitize=fuzzer), then fuzzed for FUZZ_SECONDS starting from fuzz/corpus/<target> with the
# dictionary fuzz/dict/<target>.dict (member names, header names, config keys, extreme numbers). A crash,
# a sanitizer report, a violated property, an input slower than 10 s or an RSS above 2 GB fails the
# check; the crashing input is printed (base64) and kept under the temporary directory.
#
# Nothing is written into the repository's corpus: new inputs go to a temporary directory (listed
# first, so libFuzzer writes there) and are deleted afterwards. To keep a found crash: copy it to
# fuzz/corpus/<target>/crash-<what>, fix the bug, add a regression test (FuzzCorpusTests replays
# the corpus on every `swift test`).
#
# Knobs: FUZZ_SECONDS (default 40 per target), FUZZ_SCRATCH (build directory, default
# .build-fuzz-lf), FUZZ_TARGETS (default "docker-json config http"), SWIFT.
# Cost on the 2-core CI machine: cold build ~3-4 min (shared with other builds), warm ~10 s, then
# 3 x FUZZ_SECONDS.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$REPO_ROOT"

SWIFT="${SWIFT:-swift}"
FUZZ_SECONDS="${FUZZ_SECONDS:-40}"
SCRATCH="${FUZZ_SCRATCH:-$REPO_ROOT/.build-fuzz-lf}"
read -r -a TARGETS <<<"${FUZZ_TARGETS:-docker-json config http}"

say() { printf 'fuzz.sh: %s\n' "$*"; }
t0=$(date +%s)

swift_bin="$(command -v "$SWIFT")" || { say "swift not found"; exit 1; }
toolchain="$(dirname "$(readlink -f "$swift_bin")")/.."
runtime="$(ls "$toolchain"/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a 2>/dev/null | head -n1 || true)"
if [[ -z "$runtime" ]]; then
    say "FAIL: this toolchain has no libclang_rt.fuzzer_no_main (looked under $toolchain/lib/clang)"
    exit 1
fi

work="$(mktemp -d /tmp/watchdog-fuzz.XXXXXX)"
keep_work=0
cleanup() { if (( keep_work == 0 )); then rm -rf "$work"; else say "inputs and logs kept in $work"; fi; }
trap cleanup EXIT

flags=(-c debug --scratch-path "$SCRATCH"
       -Xswiftc -sanitize=address
       -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
       -Xswiftc -DWATCHDOG_FUZZING
       -Xlinker "$runtime" -Xlinker -lstdc++)
for t in "${TARGETS[@]}"; do
    if ! "$SWIFT" build "${flags[@]}" --product "fuzz-$t" >"$work/build-$t.log" 2>&1; then
        grep -v "Cannot export local symbol" "$work/build-$t.log" | tail -n 40
        say "FAIL: building fuzz-$t"
        keep_work=1
        exit 1
    fi
done
bin="$("$SWIFT" build "${flags[@]}" --show-bin-path)"
t_built=$(date +%s)
say "built ${TARGETS[*]} in $((t_built - t0)) s"

# The Swift backtracer would symbolicate for minutes under ASan; libFuzzer and ASan report themselves.
export SWIFT_BACKTRACE=enable=no
failed=()
for t in "${TARGETS[@]}"; do
    mkdir -p "$work/new-$t" "$work/artifacts"
    start=$(date +%s)
    rc=0
    dict=()
    [[ -f "fuzz/dict/$t.dict" ]] && dict=(-dict="fuzz/dict/$t.dict")
    "$bin/fuzz-$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$work/artifacts/$t-" "$work/new-$t" "fuzz/corpus/$t" >"$work/$t.log" 2>&1 || rc=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")"
    added="$(sed -n 's/^stat::new_units_added: *//p' "$work/$t.log")"
    if (( rc == 0 )); then
        say "ok    $t: ${runs:-?} inputs in $(( $(date +%s) - start )) s, ${added:-0} new (not kept)"
    else
        failed+=("$t")
        say "FAIL  $t (exit $rc) after $(( $(date +%s) - start )) s:"
        grep -E -A25 "ERROR: |==ERROR|property violated|Fatal error|deadly signal|timeout after|out-of-memory" "$work/$t.log" | head -n 60 || tail -n 40 "$work/$t.log"
        for artifact in "$work/artifacts/$t-"*; do
            [[ -f "$artifact" ]] || continue
            say "input $artifact (base64): $(base64 -w0 "$artifact" | head -c 2000)"
        done
        keep_work=1
    fi
done

say "total $(( $(date +%s) - t0 )) s (build $((t_built - t0)) s, ${FUZZ_SECONDS} s per target)"
if (( ${#failed[@]} > 0 )); then
    say "FAILED: ${failed[*]} — copy the input to fuzz/corpus/<target>/crash-<what>, fix, add a regression test"
    exit 1
fi
