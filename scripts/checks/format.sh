#!/usr/bin/env bash
# The formatter's lint: `swift format lint --strict` over Package.swift, Sources and Tests with the
# repository's .swift-format (4-space indentation, 200 columns, the pretty printer only; no
# opinionated rules). It fails on any finding; `swift format format -i -r Sources Tests Package.swift`
# fixes them. swift-format ships with the toolchain. About a second.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
SWIFT="${SWIFT:-swift}"
if ! "$SWIFT" format --version >/dev/null 2>&1; then
    echo "format: 'swift format' not found (it ships with Swift 6 toolchains)" >&2
    exit 1
fi
if "$SWIFT" format lint --strict --recursive --configuration .swift-format Package.swift Sources Tests; then
    echo "format: ok"
else
    echo "format: FAIL: run 'swift format format -i -r Sources Tests Package.swift'" >&2
    exit 1
fi
