#!/usr/bin/env bash
# The unit tests under ThreadSanitizer, then under AddressSanitizer (with LeakSanitizer):
#
#   swift build --build-tests --sanitize=thread  --scratch-path .build-tsan
#   swift test  --skip-build  --sanitize=thread  --scratch-path .build-tsan  --skip IntegrationTests
#   (the same with address and .build-asan)
#
# Scope: every test target except IntegrationTests, i.e. everything that runs in-process without a
# Docker daemon: the libmicrohttpd server with its C callbacks on MHD threads (WebRouterTests, the
# fuzz corpus replay of raw HTTP), the libcurl client against the in-process fake engine
# (DockerEngineTests, collector and tracker tests), the collectors' runner threads, remediation
# policies, config and exposition. IntegrationTests mostly drive the separately built binary
# through real daemons; sanitizing the test process there would check little and cost minutes.
#
# Fails on a failed test or on any sanitizer report, with one exception: ThreadSanitizer's "Swift
# access race" reports are listed but not fatal unless SANITIZER_STRICT=1, because on Linux TSan does
# not see `Synchronization.Mutex` (futex-based, in the uninstrumented standard library) and reports
# accesses made under the lock as races (scripts/checks/sanitizers/mutex-tsan-repro.swift shows it;
# NSLock is seen). Plain data races, use-after-free, lock-order inversions and every ASan/LSan report
# are always fatal. Suppressions (scripts/checks/sanitizers/*.supp) are only for documented
# third-party false positives, one commented entry each.
#
# Knobs: SANITIZERS (default "thread address"), SANITIZER_SCRATCH_PREFIX (default .build-, giving
# .build-tsan and .build-asan), SANITIZER_FILTER (a swift test --filter, default: all unit tests), SWIFT.
# Cost on the 2-core CI machine: each cold build ~4-6 min, each test run ~1-2 min (see the printed times).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$REPO_ROOT"

SWIFT="${SWIFT:-swift}"
read -r -a SANS <<<"${SANITIZERS:-thread address}"
PREFIX="${SANITIZER_SCRATCH_PREFIX:-$REPO_ROOT/.build-}"
SUPP="$SCRIPT_DIR/sanitizers"

say() { printf 'sanitizers.sh: %s\n' "$*"; }
logs="$(mktemp -d /tmp/watchdog-sanitizers.XXXXXX)"
failed=()
t0=$(date +%s)

# The Swift backtracer would symbolicate for minutes inside a sanitized process; the sanitizers report.
export SWIFT_BACKTRACE=enable=no
# exitcode=0: the reports are counted from the log, so that the non-fatal kind does not fail the run.
export TSAN_OPTIONS="halt_on_error=0:exitcode=0:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp"
export ASAN_OPTIONS="halt_on_error=1:detect_stack_use_after_return=0:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0"

for san in "${SANS[@]}"; do
    case "$san" in
        thread) scratch="${PREFIX}tsan" ;;
        address) scratch="${PREFIX}asan" ;;
        *) say "unknown sanitizer $san"; exit 2 ;;
    esac
    start=$(date +%s)
    if ! "$SWIFT" build --build-tests --sanitize="$san" --scratch-path "$scratch" >"$logs/build-$san.log" 2>&1; then
        grep -E "error:" "$logs/build-$san.log" | sort -u | head -n 20 || tail -n 30 "$logs/build-$san.log"
        say "FAIL  $san: build (log $logs/build-$san.log)"
        failed+=("$san-build")
        continue
    fi
    built=$(date +%s)
    filter=()
    [[ -n "${SANITIZER_FILTER:-}" ]] && filter=(--filter "$SANITIZER_FILTER")
    rc=0
    "$SWIFT" test --skip-build --sanitize="$san" --scratch-path "$scratch" --skip IntegrationTests "${filter[@]}" \
        >"$logs/test-$san.log" 2>&1 || rc=$?
    done_at=$(date +%s)
    all_reports="$(grep -cE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$logs/test-$san.log" || true)"
    access_races="$(grep -c "WARNING: ThreadSanitizer: Swift access race" "$logs/test-$san.log" || true)"
    reports=$all_reports
    [[ "${SANITIZER_STRICT:-0}" == 1 ]] || reports=$((all_reports - access_races))
    summary="$(grep -E "^(✔|✘) Test run with" "$logs/test-$san.log" | tail -n 1 || true)"
    if (( access_races > 0 )); then
        say "note  $san: $access_races Swift access race report(s) (Mutex blind spot, see header); top frames:"
        grep -A2 "WARNING: ThreadSanitizer: Swift access race" "$logs/test-$san.log" | grep -E "#0 " | sed -E 's/ \(.*//; s/^ +/      /' | sort -u | head -n 10
    fi
    if (( rc == 0 && reports == 0 )); then
        say "ok    $san: build $((built - start)) s, tests $((done_at - built)) s; ${summary#* }"
    else
        failed+=("$san")
        say "FAIL  $san (exit $rc, $reports sanitizer reports): build $((built - start)) s, tests $((done_at - built)) s"
        grep -E -A40 "WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer" "$logs/test-$san.log" | head -n 120 || true
        grep -E "✘|error:" "$logs/test-$san.log" | head -n 30 || true
        say "full log: $logs/test-$san.log"
    fi
done

say "total $(( $(date +%s) - t0 )) s"
if (( ${#failed[@]} > 0 )); then
    say "FAILED: ${failed[*]}"
    exit 1
fi
rm -rf "$logs"
