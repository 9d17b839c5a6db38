#!/usr/bin/env python3
"""Layering check of the package's targets (scripts/checks/layering.sh runs it; stdlib only).

Reads the package with `swift package --scratch-path <tmp> dump-package` (or --package-json) and
the import statements of every target's .swift files, and fails on:

  import     a target imports a module that is a target of this package without listing it among
             its direct dependencies (byName or target entries). Products of other packages
             (Logging, Yams, ...) and system modules (Glibc, FoundationEssentials, Dispatch, ...)
             are not checked.
  layer      a target depends on a target whose layer (LAYERS below) is not strictly lower than its
             own. Test targets, executable targets and the top layer (EXEMPT_LAYER: test support,
             fuzzing, benchmark and executables) are exempt from this rule, not from `import`; in
             layer 0 (C) a shim may depend on the system libraries beside it (SAME_LAYER_OK).
  unmapped   a target under Sources/ that LAYERS does not place: a new module must be given a layer.
             Names in LAYERS that the package does not have are ignored (planned modules).
  unsafe     a target outside UNSAFE_ALLOWED imports a C module (a system-library target, or any
             module named C<Uppercase>..., or a package target made of C sources only) or uses one
             of UNSAFE_PATTERNS outside comments and string literals.

Prints one line per violation (target, file:line, what) and exits 1 if there is any; 2 on a usage
or `swift package` error. `--print-graph` prints layer, target and direct package dependencies.

The checks are plain functions taking (package_dict, root_path) so that
scripts/checks/tests/test_layering.py runs them on a fake package without swift.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# ---- policy --------------------------------------------------------------------------------------

#: Layer of every target under Sources/ (names may be fnmatch patterns, e.g. "fuzz-*"). A target may
#: depend only on targets of a strictly lower layer (see EXEMPT_LAYER for the exception). Modules
#: that are planned but not in Package.swift yet are listed too; they are ignored until they exist.
LAYERS: dict[str, int] = {
    # 0: C — system libraries and C shim targets.
    "CCurl": 0,
    "CMicroHTTPD": 0,
    "CYAML": 0,
    "CNghttp2": 0,
    "CZlibShims": 0,
    "CSystemShims": 0,
    "CCurlShims": 0,
    "CHTTPServerShims": 0,
    # 1: plain foundations.
    "Locking": 1,
    "TextFormatting": 1,
    "Exposition": 1,
    "ResponseBodies": 1,  # shared response bytes and gzip (zlib); below MicroHTTPServer, which sends them
    # 2: thin wrappers of C libraries (where the unsafe code lives).
    "CurlTransport": 2,
    "MicroHTTPServer": 2,
    "HostProbes": 2,
    "YAMLEvents": 2,  # libyaml's event parser; WatchdogConfig composes the nodes in plain Swift
    "HTTP2Session": 2,  # nghttp2: one HTTP/2 client exchange over a byte stream (BuildKit's gRPC)
    # 3..8: the watchdog, bottom up.
    "WatchdogConfig": 3,
    "DockerEngine": 3,
    "Sampling": 4,
    "Containers": 5,
    "Collectors": 6,
    "Remediation": 6,
    "Web": 7,
    "Watchdog": 8,
    # 9: executables, test support, fuzzing, benchmarks.
    "docker-watchdog": 9,
    "FakeDockerEngine": 9,
    "fake-docker-engine": 9,
    "bench-profile": 9,
    "WatchdogTestSupport": 9,
    "FuzzTargets": 9,
    "fuzz-*": 9,
}

#: Targets of this layer may depend on targets of any layer, their own included (test support,
#: fuzzing, benchmarks and executables). Executable and test targets are exempt wherever they are.
EXEMPT_LAYER = 9

#: Layers whose targets may also depend on targets of the same layer: 0, where C shim targets
#: include the system libraries they wrap (C code has no Swift imports to layer), and EXEMPT_LAYER.
SAME_LAYER_OK: frozenset[int] = frozenset({0, EXEMPT_LAYER})

#: Targets whose Swift code may import C modules and use unsafe pointers: the thin wrappers of C
#: libraries, Locking (pthread locks ThreadSanitizer can see), and code that is not part of the
#: watchdog (test support, fake engine, fuzzing, benchmark). Test targets are always allowed.
UNSAFE_ALLOWED: frozenset[str] = frozenset({
    "CurlTransport",
    "MicroHTTPServer",
    "HostProbes",
    "YAMLEvents",
    "HTTP2Session",
    "Locking",
    "ResponseBodies",
    "WatchdogTestSupport",
    "FakeDockerEngine",
    "FuzzTargets",
    "bench-profile",
})

#: Files outside UNSAFE_ALLOWED that may use unsafe pointers (never import a C module), each for a
#: reason written here: byte scanners and renderers whose speed was measured (BENCHMARKS.md), and
#: single system calls on a buffer. A new file with pointer code must be added here, on purpose.
UNSAFE_POINTER_FILES: dict[str, str] = {
    "Sources/DockerEngine/Models/ContainerListScanner.swift": "scans /containers/json bytes in place (BENCHMARKS.md: list decode)",
    "Sources/DockerEngine/Models/ContainerInspectScanner.swift": "scans inspect answers in place",
    "Sources/DockerEngine/Models/ContainerModels.swift": "interned byte keys of the scanners",
    "Sources/Exposition/Renderer.swift": "renders /metrics into reused byte buffers (BENCHMARKS.md: scrape)",
    "Sources/Exposition/FloatFormat.swift": "formats floats into a stack buffer",
    "Sources/WatchdogConfig/ConfigLoader.swift": "read(2) of the configuration file",
    "Sources/Remediation/AuditLog.swift": "write(2) of an audit line, fsynced before an action runs",
    "Sources/Remediation/DaemonControl.swift": "posix_spawn of the restart command with descriptors closed",
    "Sources/Watchdog/Support/StructuredLogHandler.swift": "write(2) of a log line to stderr",
}

#: Unsafe constructs, matched in code with comments and string literals blanked out.
#: withUnsafe(Throwing)Continuation and withUnsafeCurrentTask are concurrency APIs, not memory
#: access, and are not matched.
UNSAFE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bUnsafe[A-Za-z]*Pointer\b"),  # UnsafePointer, UnsafeMutableRawBufferPointer, ...
    re.compile(r"\bwithUnsafe(?!(?:Throwing)?Continuation\b|CurrentTask\b)[A-Za-z]*"),
    re.compile(r"\bunsafeBitCast\b"),
    re.compile(r"\bUnmanaged\b"),
)

C_MODULE_NAME = re.compile(r"^C[A-Z]")
C_SOURCE_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".m", ".mm", ".modulemap")


# ---- package model -------------------------------------------------------------------------------

@dataclass
class Violation:
    rule: str
    target: str
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"layering: {self.rule}: {self.target}: {self.file}:{self.line}: {self.message}"


def module_name(target_name: str) -> str:
    """The Swift module name SwiftPM gives a target (c99name: non-identifier characters become _)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", target_name)
    return "_" + name if name[:1].isdigit() else name


def target_dir(target: dict, root: Path) -> Path:
    if target.get("path"):
        return root / target["path"]
    base = {"test": "Tests", "plugin": "Plugins"}.get(target.get("type", ""), "Sources")
    return root / base / target["name"]


def is_sources_target(target: dict, root: Path) -> bool:
    """A target whose directory is under Sources/ (every kind but tests and plugins by default)."""
    if target.get("type") in ("binary",):
        return False
    try:
        target_dir(target, root).resolve().relative_to((root / "Sources").resolve())
        return True
    except ValueError:
        return False


def direct_dependencies(target: dict) -> list[str]:
    """Names of the byName and target dependencies (product dependencies are other packages')."""
    names = []
    for dep in target.get("dependencies", []):
        for kind in ("byName", "target"):
            if kind in dep and dep[kind]:
                names.append(dep[kind][0])
    return names


def layer_of(name: str, layers: dict[str, int]) -> int | None:
    if name in layers:
        return layers[name]
    for pattern, layer in layers.items():
        if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern):
            return layer
    return None


def swift_files(target: dict, root: Path) -> list[Path]:
    """The target's .swift files, minus `exclude` and resource paths; only `sources` when given."""
    base = target_dir(target, root)
    if not base.is_dir():
        return []
    skip = [base / p for p in target.get("exclude") or []]
    skip += [base / r["path"] for r in target.get("resources") or [] if r.get("path")]
    only = [base / p for p in target["sources"]] if target.get("sources") else None

    def inside(path: Path, dirs: list[Path]) -> bool:
        return any(path == d or d in path.parents for d in dirs)

    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if f.endswith(".swift") and not inside(p, skip) and (only is None or inside(p, only)):
                out.append(p)
    return out


def is_c_target(target: dict, root: Path) -> bool:
    if target.get("type") == "system" or C_MODULE_NAME.match(target["name"]):
        return True
    base = target_dir(target, root)
    if target.get("type") != "regular" or not base.is_dir():
        return False
    has_c = has_swift = False
    for _, _, filenames in os.walk(base):
        for f in filenames:
            has_swift |= f.endswith(".swift")
            has_c |= f.endswith(C_SOURCE_SUFFIXES)
    return has_c and not has_swift


# ---- Swift source scanning -----------------------------------------------------------------------

def blank_comments_and_strings(src: str) -> str:
    """`src` with comments and string-literal contents replaced by spaces, newlines and length kept.

    Handles // and nested /* */ comments, "..." and \"\"\"...\"\"\" literals with escapes and \\( )
    interpolations (scanned as code), and raw #"..."# literals (interpolations blanked). Roughly:
    regex literals are not recognised.
    """
    out = list(src)
    n = len(src)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    def code(i: int, in_interpolation: bool) -> int:
        depth = 0
        while i < n:
            c = src[i]
            if src.startswith("//", i):
                j = src.find("\n", i)
                j = n if j < 0 else j
                blank(i, j)
                i = j
            elif src.startswith("/*", i):
                j, level = i + 2, 1
                while j < n and level:
                    if src.startswith("/*", j):
                        level, j = level + 1, j + 2
                    elif src.startswith("*/", j):
                        level, j = level - 1, j + 2
                    else:
                        j += 1
                blank(i, j)
                i = j
            elif c == "#" and re.match(r'#+"', src[i:i + 64] or ""):
                hashes = len(re.match(r"#+", src[i:]).group(0))
                i = raw_string(i, hashes)
            elif c == '"':
                i = string(i)
            elif in_interpolation and c == "(":
                depth += 1
                i += 1
            elif in_interpolation and c == ")":
                if depth == 0:
                    return i + 1
                depth -= 1
                i += 1
            else:
                i += 1
        return i

    def string(i: int) -> int:
        multi = src.startswith('"""', i)
        start = i + (3 if multi else 1)
        j = start
        seg = start  # start of the current run of literal text
        while j < n:
            c = src[j]
            if c == "\\" and j + 1 < n and src[j + 1] == "(":
                blank(seg, j)
                j = code(j + 2, True)
                seg = j
                continue
            if c == "\\":
                j += 2
                continue
            if multi and src.startswith('"""', j):
                blank(seg, j)
                return j + 3
            if not multi and c == '"':
                blank(seg, j)
                return j + 1
            if not multi and c == "\n":  # unterminated: stop at the line's end
                blank(seg, j)
                return j
            j += 1
        blank(seg, n)
        return n

    def raw_string(i: int, hashes: int) -> int:
        opener = i + hashes
        multi = src.startswith('"""', opener)
        closer = ('"""' if multi else '"') + "#" * hashes
        start = opener + (3 if multi else 1)
        j = src.find(closer, start)
        j = n if j < 0 else j
        blank(start, j)
        return min(n, j + len(closer))

    code(0, False)
    return "".join(out)


IMPORT = re.compile(
    r"^\s*"
    r"(?:@[A-Za-z_][A-Za-z0-9_]*(?:\([^)]*\))?\s+)*"            # @testable, @_spi(X), @preconcurrency, ...
    r"(?:(?:public|package|internal|fileprivate|private|open)\s+)?"
    r"(?:@[A-Za-z_][A-Za-z0-9_]*(?:\([^)]*\))?\s+)*"
    r"import\s+"
    r"(?:(?:typealias|struct|class|enum|protocol|let|var|func|actor)\s+)?"
    r"([A-Za-z_][A-Za-z0-9_]*)"
)


def imports_of(code: str) -> list[tuple[int, str, str]]:
    """(line, module, statement) of every import in blanked code (#if blocks included)."""
    found = []
    for lineno, line in enumerate(code.splitlines(), 1):
        for stmt in line.split(";"):
            m = IMPORT.match(stmt)
            if m:
                found.append((lineno, m.group(1), " ".join(stmt.split())))
    return found


def unsafe_uses(code: str) -> list[tuple[int, str]]:
    """(line, matched tokens) of every line using one of UNSAFE_PATTERNS."""
    found = []
    for lineno, line in enumerate(code.splitlines(), 1):
        tokens = []
        for pattern in UNSAFE_PATTERNS:
            tokens += [m.group(0) for m in pattern.finditer(line) if m.group(0) not in tokens]
        if tokens:
            found.append((lineno, ", ".join(tokens)))
    return found


# ---- checks --------------------------------------------------------------------------------------

def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _manifest_line(root: Path, name: str) -> tuple[str, int]:
    """Package.swift and the line declaring target `name` (1 if not found)."""
    manifest = root / "Package.swift"
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError:
        return "Package.swift", 1
    decl = re.compile(r'name:\s*"' + re.escape(name) + '"')
    for i, line in enumerate(lines, 1):
        if decl.search(line) and not re.search(r"\.(product|package)\s*\(", line):
            return "Package.swift", i
    return "Package.swift", 1


def _scanned(package: dict, root: Path):
    """(target, file, blanked code) for every Swift file of every target with sources."""
    for target in package.get("targets", []):
        if target.get("type") in ("system", "binary"):
            continue
        for f in swift_files(target, root):
            yield target, f, blank_comments_and_strings(f.read_text(encoding="utf-8", errors="replace"))


def check_imports(package: dict, root: Path) -> list[Violation]:
    """Rule `import`: an imported package target must be a direct dependency."""
    targets = {module_name(t["name"]): t["name"] for t in package.get("targets", [])}
    out = []
    for target, f, code in _scanned(package, root):
        deps = {module_name(d) for d in direct_dependencies(target)}
        own = module_name(target["name"])
        for line, module, stmt in imports_of(code):
            if module in targets and module != own and module not in deps:
                out.append(Violation("import", target["name"], _rel(f, root), line,
                                     f"`{stmt}`: imports {targets[module]} without depending on it"))
    return out


def check_layers(package: dict, root: Path, layers: dict[str, int] = LAYERS) -> list[Violation]:
    """Rules `unmapped` and `layer`."""
    targets = {t["name"]: t for t in package.get("targets", [])}
    out = []
    for t in package.get("targets", []):
        name = t["name"]
        if is_sources_target(t, root) and t.get("type") != "test" and layer_of(name, layers) is None:
            f, line = _manifest_line(root, name)
            out.append(Violation("unmapped", name, f, line,
                                 f"target {name} has no layer: add it to LAYERS in scripts/checks/layering.py"))
    for t in package.get("targets", []):
        name = t["name"]
        mine = layer_of(name, layers)
        if t.get("type") in ("test", "executable") or mine is None or mine == EXEMPT_LAYER:
            continue
        for dep in direct_dependencies(t):
            if dep not in targets:
                continue
            theirs = layer_of(dep, layers)
            if theirs is not None and (theirs > mine or (theirs == mine and mine not in SAME_LAYER_OK)):
                f, line = _manifest_line(root, name)
                out.append(Violation("layer", name, f, line,
                                     f"{name} (layer {mine}) depends on {dep} (layer {theirs}): "
                                     "only strictly lower layers are allowed"))
    return out


def check_unsafe(package: dict, root: Path, allowed: frozenset[str] = UNSAFE_ALLOWED) -> list[Violation]:
    """Rule `unsafe`: C imports and unsafe constructs only in the allowed targets."""
    targets = package.get("targets", [])
    c_modules = {module_name(t["name"]) for t in targets if is_c_target(t, root)}
    out = []
    for target, f, code in _scanned(package, root):
        if target["name"] in allowed or target.get("type") == "test":
            continue
        for line, module, stmt in imports_of(code):
            if module in c_modules or C_MODULE_NAME.match(module):
                out.append(Violation("unsafe", target["name"], _rel(f, root), line,
                                     f"`{stmt}`: C module outside the thin wrapper modules"))
        if _rel(f, root) in UNSAFE_POINTER_FILES:
            continue
        for line, tokens in unsafe_uses(code):
            out.append(Violation("unsafe", target["name"], _rel(f, root), line,
                                 f"uses {tokens} outside the thin wrapper modules"))
    return out


def check_all(package: dict, root: Path) -> list[Violation]:
    return check_layers(package, root) + check_imports(package, root) + check_unsafe(package, root)


def graph_lines(package: dict, root: Path, layers: dict[str, int] = LAYERS) -> list[str]:
    """`layer  target  deps` lines, lowest layer first (tests last, layer `-`)."""
    names = {t["name"] for t in package.get("targets", [])}
    rows = []
    for t in package.get("targets", []):
        layer = layer_of(t["name"], layers)
        deps = [d for d in direct_dependencies(t) if d in names]
        shown = "?" if layer is None else str(layer)
        if t.get("type") == "test":
            shown = "-"
        key = (99 if t.get("type") == "test" else 98 if layer is None else layer, t["name"])
        dep_text = ", ".join(f"{d}({layer_of(d, layers) if layer_of(d, layers) is not None else '?'})" for d in deps)
        rows.append((key, f"{shown:>2}  {t['name']:<22} {t.get('type', ''):<10} -> {dep_text or '(none)'}"))
    return [r for _, r in sorted(rows)]


# ---- command line --------------------------------------------------------------------------------

def dump_package(root: Path, swift: str) -> dict:
    """`swift package dump-package` with a private scratch path (never the .build lock of a build)."""
    with tempfile.TemporaryDirectory(prefix="layering-scratch.") as scratch:
        proc = subprocess.run([swift, "package", "--scratch-path", scratch, "dump-package"],
                              cwd=root, capture_output=True, text=True)
    # SwiftPM leaves an empty lock file named after the scratch path in the temporary directory.
    lock = Path(tempfile.gettempdir()) / (scratch.replace("/", "_") + ".lock")
    lock.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"swift package dump-package failed ({proc.returncode}):\n{proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2]), help="package root (default: this repository)")
    ap.add_argument("--package-json", help="use this dump-package output instead of running swift")
    ap.add_argument("--print-graph", action="store_true", help="print layer, target and dependencies first")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    try:
        if args.package_json:
            package = json.loads(Path(args.package_json).read_text(encoding="utf-8"))
        else:
            package = dump_package(root, os.environ.get("SWIFT", "swift"))
    except (OSError, ValueError, RuntimeError) as e:
        print(f"layering: cannot read the package: {e}", file=sys.stderr)
        return 2
    if args.print_graph:
        for line in graph_lines(package, root):
            print(line)
    violations = check_all(package, root)
    for v in violations:
        print(v)
    n_targets = len(package.get("targets", []))
    if violations:
        print(f"layering: FAIL {len(violations)} violation(s) in {n_targets} targets")
        return 1
    print(f"layering: ok   {n_targets} targets: imports declared, dependencies point down, unsafe code confined")
    return 0


if __name__ == "__main__":
    sys.exit(main())
