"""Tests of scripts/checks/layering.py on fake packages (no swift needed).

    python3 -m pytest scripts/checks/tests/test_layering.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import layering  # noqa: E402


# ---- fake packages ---------------------------------------------------------------------------------

def dep(name: str) -> dict:
    return {"byName": [name, None]}


def product(name: str, package: str) -> dict:
    return {"product": [name, package, None, None]}


def target(name: str, kind: str = "regular", deps: list | None = None, **extra) -> dict:
    t = {"name": name, "type": kind, "path": None, "dependencies": deps or [], "exclude": [],
         "resources": [], "settings": []}
    t.update(extra)
    return t


def write_package(root: Path, targets: list[dict], files: dict[str, str]) -> dict:
    """A dump-package-shaped dict, a Package.swift naming each target on its own line, and files."""
    manifest = ["// swift-tools-version:6.0", "import PackageDescription", "let package = Package(",
                '    name: "fake",', "    targets: ["]
    manifest += [f'        .target(name: "{t["name"]}"),' for t in targets]
    manifest += ["    ]", ")"]
    (root / "Package.swift").write_text("\n".join(manifest) + "\n")
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return {"name": "fake", "targets": targets}


def clean_targets() -> list[dict]:
    return [
        target("CCurl", "system"),
        target("CCurlShims", deps=[dep("CCurl")]),                     # layer 0 shim on layer 0 library
        target("Locking"),
        target("CurlTransport", deps=[dep("CCurl"), dep("CCurlShims"), dep("Locking")]),
        target("DockerEngine", deps=[dep("CurlTransport"), {"target": ["Locking", None]},
                                     product("Logging", "swift-log")]),
        target("Watchdog", deps=[dep("DockerEngine"), dep("Locking")]),
        target("docker-watchdog", "executable", deps=[dep("Watchdog")]),
        target("WatchdogTestSupport", deps=[dep("CurlTransport")]),
        target("FuzzTargets", deps=[dep("Watchdog"), dep("WatchdogTestSupport")]),  # same layer 9: exempt
        target("fuzz-http", "executable", deps=[dep("FuzzTargets")]),
        target("WatchdogTests", "test", deps=[dep("Watchdog"), dep("WatchdogTestSupport"), dep("CCurl")],
               resources=[{"path": "Fixtures", "rule": {"copy": {}}}]),
    ]


CLEAN_FILES = {
    "Sources/CCurlShims/shims.c": "int shim(void) { return 0; }\n",
    "Sources/CCurlShims/include/shims.h": "int shim(void);\n",
    "Sources/Locking/Lock.swift": (
        "#if canImport(Glibc)\nimport Glibc\n#endif\n"
        "public final class Lock { let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1) }\n"
    ),
    "Sources/CurlTransport/Transport.swift": (
        "import CCurl\nimport CCurlShims\nimport Locking\n"
        "func f(_ b: [UInt8]) { b.withUnsafeBytes { _ in } ; _ = Unmanaged<AnyObject>.self }\n"
    ),
    "Sources/DockerEngine/Client.swift": (
        "import CurlTransport\n@preconcurrency import Logging\nimport FoundationEssentials\n"
        "#if canImport(Synchronization)\nimport Synchronization\n#endif\nimport Dispatch\n"
        "// import Watchdog   (a comment, not an import)\n"
        "/* an old note:\n   import Watchdog\n   /* nested */ bytes.withUnsafeBytes { } */\n"
        'let help = "call withUnsafeBytes or unsafeBitCast \\("import Watchdog") here"\n'
        'let raw = #"UnsafePointer "quoted" withUnsafeBytes"#\n'
        'let block = """\n    import Watchdog\n    Unmanaged\n    """\n'
        "func wait() async { await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in c.resume() } }\n"
    ),
    "Sources/Watchdog/Service.swift": "import DockerEngine\nimport Locking\nimport Logging\n",
    "Sources/docker-watchdog/main.swift": "import Watchdog\n",
    "Sources/WatchdogTestSupport/Raw.swift": "import CurlTransport\nlet p: UnsafeRawPointer? = nil\n",
    "Sources/FuzzTargets/Driver.swift": "@testable import Watchdog\nimport WatchdogTestSupport\n",
    "Sources/fuzz-http/main.swift": "import FuzzTargets\n",
    "Tests/WatchdogTests/ServiceTests.swift": (
        "@testable import Watchdog\nimport WatchdogTestSupport\nimport CCurl\nimport Testing\n"
        "let x = [1].withUnsafeBufferPointer { $0.count }\n"
    ),
    "Tests/WatchdogTests/Fixtures/Sample.swift": "import DockerEngine\n",  # a resource, not compiled
}


@pytest.fixture
def clean(tmp_path: Path) -> tuple[dict, Path]:
    return write_package(tmp_path, clean_targets(), dict(CLEAN_FILES)), tmp_path


def rules(violations) -> list[tuple[str, str]]:
    return [(v.rule, v.target) for v in violations]


def replace_target(package: dict, new: dict) -> None:
    package["targets"] = [new if t["name"] == new["name"] else t for t in package["targets"]]


# ---- a clean tree ------------------------------------------------------------------------------------

def test_clean_tree_passes(clean):
    package, root = clean
    assert layering.check_all(package, root) == []


def test_main_on_clean_tree_exits_0(clean, tmp_path_factory, capsys):
    package, root = clean
    js = tmp_path_factory.mktemp("json") / "package.json"
    js.write_text(json.dumps(package))
    assert layering.main(["--root", str(root), "--package-json", str(js), "--print-graph"]) == 0
    out = capsys.readouterr().out
    assert " 3  DockerEngine" in out and "CurlTransport(2)" in out
    assert "layering: ok" in out


# ---- rule: import ------------------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "import CurlTransport",
    "@testable import CurlTransport",
    "@_implementationOnly import CurlTransport",
    "internal import CurlTransport",
    "package import CurlTransport",
    "public import CurlTransport",
    "@preconcurrency public import CurlTransport",
    "import struct CurlTransport.Request",
    "import func CurlTransport.perform",
    "import enum CurlTransport.Method",
    "import CurlTransport.Submodule",
    "#if canImport(CurlTransport)\nimport CurlTransport\n#endif",
])
def test_import_without_dependency(clean, statement):
    package, root = clean
    f = root / "Sources/Watchdog/Webhook.swift"
    f.write_text("import Logging\n" + statement + "\n")
    found = layering.check_imports(package, root)
    assert rules(found) == [("import", "Watchdog")]
    line = 2 + statement.count("\n") - (1 if statement.startswith("#if") else 0)
    v = found[0]
    assert (v.file, v.line) == ("Sources/Watchdog/Webhook.swift", line)
    assert "imports CurlTransport without depending on it" in v.message
    assert str(v).startswith(f"layering: import: Watchdog: Sources/Watchdog/Webhook.swift:{line}: ")


def test_import_of_a_transitive_dependency_in_a_test_target(clean):
    package, root = clean
    (root / "Tests/WatchdogTests/MoreTests.swift").write_text("import Testing\n\n@testable import DockerEngine\n")
    found = layering.check_imports(package, root)
    assert [(v.rule, v.target, v.file, v.line) for v in found] == [
        ("import", "WatchdogTests", "Tests/WatchdogTests/MoreTests.swift", 3)]


def test_executable_module_name_is_c99(clean):
    package, root = clean
    (root / "Tests/WatchdogTests/MainTests.swift").write_text("@testable import docker_watchdog\n")
    found = layering.check_imports(package, root)
    assert rules(found) == [("import", "WatchdogTests")] and "docker-watchdog" in found[0].message


def test_external_and_system_modules_are_not_checked(clean):
    package, root = clean
    (root / "Sources/Watchdog/More.swift").write_text(
        "import Yams\nimport Glibc\nimport FoundationEssentials\nimport Dispatch\nimport Synchronization\n")
    assert layering.check_all(package, root) == []


# ---- rule: layer ---------------------------------------------------------------------------------------

def test_upward_dependency(clean):
    package, root = clean
    replace_target(package, target("DockerEngine", deps=[dep("CurlTransport"), dep("Locking"), dep("Watchdog")]))
    found = layering.check_layers(package, root)
    assert rules(found) == [("layer", "DockerEngine")]
    assert "DockerEngine (layer 3) depends on Watchdog (layer 8)" in found[0].message
    assert found[0].file == "Package.swift"
    lines = (root / "Package.swift").read_text().splitlines()
    assert 'name: "DockerEngine"' in lines[found[0].line - 1]


def test_same_layer_dependency(tmp_path):
    package = write_package(tmp_path, [target("Collectors"), target("Remediation", deps=[dep("Collectors")])], {})
    found = layering.check_layers(package, tmp_path)
    assert rules(found) == [("layer", "Remediation")]
    assert "(layer 6) depends on Collectors (layer 6)" in found[0].message


def test_dependency_on_test_support_from_below(clean):
    package, root = clean
    replace_target(package, target("Watchdog", deps=[dep("DockerEngine"), dep("Locking"), dep("WatchdogTestSupport")]))
    assert rules(layering.check_layers(package, root)) == [("layer", "Watchdog")]


def test_exempt_targets(clean):
    package, root = clean
    # executables and tests may depend on anything; layer 9 on its own layer; layer 0 shims on layer 0
    assert layering.check_layers(package, root) == []


# ---- rule: unmapped ------------------------------------------------------------------------------------

def test_unmapped_sources_target(clean):
    package, root = clean
    package["targets"].append(target("NewModule", deps=[dep("Locking")]))
    (root / "Sources/NewModule/Body.swift").parent.mkdir(parents=True)
    (root / "Sources/NewModule/Body.swift").write_text("import Locking\n")
    found = layering.check_layers(package, root)
    assert rules(found) == [("unmapped", "NewModule")]
    assert "add it to LAYERS" in found[0].message


def test_unmapped_test_target_and_absent_planned_modules_are_fine(clean):
    package, root = clean
    package["targets"].append(target("NewTests", "test", deps=[dep("Watchdog")]))
    assert "Sampling" in layering.LAYERS and "Sampling" not in {t["name"] for t in package["targets"]}
    assert layering.check_layers(package, root) == []


def test_glob_in_layers():
    assert layering.layer_of("fuzz-anything", layering.LAYERS) == layering.EXEMPT_LAYER
    assert layering.layer_of("fuzzy", layering.LAYERS) is None


def test_planned_layers():
    expected = {
        0: {"CCurl", "CMicroHTTPD", "CYAML", "CZlibShims", "CSystemShims", "CCurlShims", "CHTTPServerShims", "CNghttp2"},
        1: {"Locking", "TextFormatting", "Exposition", "ResponseBodies"},
        2: {"CurlTransport", "MicroHTTPServer", "HostProbes", "YAMLEvents", "HTTP2Session"},
        3: {"WatchdogConfig", "DockerEngine"}, 4: {"Sampling"}, 5: {"Containers"}, 6: {"Collectors", "Remediation"},
        7: {"Web"}, 8: {"Watchdog"},
        9: {"docker-watchdog", "FakeDockerEngine", "fake-docker-engine", "bench-profile",
            "WatchdogTestSupport", "FuzzTargets", "fuzz-*"},
    }
    assert {n: l for l, names in expected.items() for n in names} == layering.LAYERS


# ---- rule: unsafe ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, token", [
    ("let p: UnsafeMutablePointer<Int>? = nil", "UnsafeMutablePointer"),
    ("let r = UnsafeRawBufferPointer(start: nil, count: 0)", "UnsafeRawBufferPointer"),
    ("let n = bytes.withUnsafeMutableBytes { $0.count }", "withUnsafeMutableBytes"),
    ("let f = unsafeBitCast(g, to: F.self)", "unsafeBitCast"),
    ("let u = Unmanaged.passRetained(self)", "Unmanaged"),
    ('let s = "\\(x.withUnsafeBytes { $0.count })"', "withUnsafeBytes"),   # code inside an interpolation
])
def test_unsafe_use_outside_wrappers(clean, code, token):
    package, root = clean
    (root / "Sources/DockerEngine/Scanner.swift").write_text("import Locking\n// fine\n" + code + "\n")
    found = layering.check_unsafe(package, root)
    assert [(v.rule, v.target, v.file, v.line) for v in found] == [
        ("unsafe", "DockerEngine", "Sources/DockerEngine/Scanner.swift", 3)]
    assert token in found[0].message


def test_c_import_outside_wrappers(clean):
    package, root = clean
    replace_target(package, target("Watchdog", deps=[dep("DockerEngine"), dep("Locking"), dep("CCurlShims")]))
    (root / "Sources/Watchdog/Allocator.swift").write_text("import CCurlShims\n")
    found = layering.check_all(package, root)
    assert [(v.rule, v.target, v.file, v.line) for v in found] == [
        ("unsafe", "Watchdog", "Sources/Watchdog/Allocator.swift", 1)]
    assert "C module" in found[0].message


def test_c_target_by_kind_or_sources(tmp_path):
    package = write_package(tmp_path, [target("zlib", "system"), target("shim"), target("Plain")], {
        "Sources/shim/shim.c": "", "Sources/Plain/A.swift": "let a = 1\n"})
    kinds = {t["name"]: layering.is_c_target(t, tmp_path) for t in package["targets"]}
    assert kinds == {"zlib": True, "shim": True, "Plain": False}


def test_unsafe_allowed_in_wrappers_and_tests(clean):
    package, root = clean
    for rel in ("Sources/CurlTransport/More.swift", "Sources/WatchdogTestSupport/More.swift",
                "Tests/WatchdogTests/More.swift"):
        (root / rel).write_text("let u = Unmanaged<AnyObject>.self\nlet f = unsafeBitCast(1, to: Int.self)\n")
    assert layering.check_unsafe(package, root) == []


# ---- the scanner -----------------------------------------------------------------------------------------

def test_blanking_keeps_lines_and_code():
    src = ('let a = "x \\("y" + "\\(z)") w" // c1\n'
           "/* a /* nested */ still comment */ let b = 1\n"
           'let r = ##"raw "# still"##; let c = 2\n'
           'let m = """\n  text "quoted"\n  """\nlet d = 3\n')
    out = layering.blank_comments_and_strings(src)
    assert len(out) == len(src) and out.count("\n") == src.count("\n")
    lines = out.splitlines()
    assert "c1" not in lines[0] and "x" not in lines[0].split("=")[1].replace("\\(", "")
    assert "let b = 1" in lines[1] and "nested" not in lines[1]
    assert "let c = 2" in lines[2] and "still" not in lines[2]
    assert "text" not in lines[4] and lines[6] == "let d = 3"


def test_imports_of():
    code = "import A\n  @testable import B\npublic import struct C.D\nlet x = 1; import E\nimported = 1\n"
    assert [(l, m) for l, m, _ in layering.imports_of(code)] == [(1, "A"), (2, "B"), (3, "C"), (4, "E")]


def test_main_reports_violations(clean, tmp_path_factory, capsys):
    package, root = clean
    (root / "Sources/Watchdog/Bad.swift").write_text("import CurlTransport\nlet p = UnsafePointer<Int>(bitPattern: 8)\n")
    js = tmp_path_factory.mktemp("json") / "package.json"
    js.write_text(json.dumps(package))
    assert layering.main(["--root", str(root), "--package-json", str(js)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "layering: import: Watchdog: Sources/Watchdog/Bad.swift:1: `import CurlTransport`: " \
           "imports CurlTransport without depending on it" in out
    assert any(l.startswith("layering: unsafe: Watchdog: Sources/Watchdog/Bad.swift:2: uses UnsafePointer") for l in out)
    assert out[-1].startswith("layering: FAIL 2 violation(s)")
