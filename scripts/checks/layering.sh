#!/usr/bin/env bash
# Layering of the package's targets (scripts/checks/layering.py; python3, stdlib only), read from
# `swift package dump-package` (private scratch path, no build) and the .swift files' imports:
#
#   import    a target imports a target of this package it does not list as a direct dependency
#             (`import X`, `@testable import`, `public import`, `import struct X.Y`, inside #if too);
#             other packages' products and system modules are not checked
#   layer     a target depends on one whose layer is not strictly lower (LAYERS at the top of
#             layering.py: 0 C, 1 foundations, 2 thin C wrappers, 3 WatchdogConfig and DockerEngine
#             ... 8 Watchdog, 9 executables/test support/fuzzing/benchmark, which are exempt, as are
#             test targets; C shims in layer 0 may depend on the system libraries beside them)
#   unmapped  a target under Sources/ that LAYERS does not place (a new module must be given a layer)
#   unsafe    outside UNSAFE_ALLOWED (the thin wrappers, Locking, test support, fake engine, fuzzing,
#             benchmark, tests): an import of a C module, or Unsafe*Pointer, withUnsafe*,
#             unsafeBitCast, Unmanaged in code (comments and string literals ignored)
#
# Prints one line per violation (rule: target: file:line: the import or use) and exits non-zero if
# there is any. `scripts/checks/layering.sh --print-graph` also prints layer, target and dependencies.
# Under a second. Tests: python3 -m pytest -p no:cacheprovider scripts/checks/tests/test_layering.py
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
cd "$REPO_ROOT"
command -v python3 >/dev/null || { echo "layering.sh: FAIL python3 is missing" >&2; exit 1; }
exec python3 "$SCRIPT_DIR/layering.py" --root "$REPO_ROOT" "$@"
