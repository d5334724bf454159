"""The smoke runner run by this machine's Python on real modules in tmp_path, and the
smoke findings made from its results (the engine path is in tests/engine)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, inventory
from imagecheck.checks.context import Context
from imagecheck.model import Finding, ModuleResult, SmokeRun
from imagecheck.smoke.run import SmokeOptions, plan, runner_source
from imagecheck.suite import run_checks
from imagecheck.triage.failures import classify, load_failures
from tests.builders import SITE, F, Layer, dist_info, make_image, under

MODULES = {
    "good": "X = 1\n",
    "bad": "import good\nraise ImportError('failed to find libmagic.  Check your installation')\n",
    "hang": "import time\ntime.sleep(60)\n",
    "segv": "import ctypes\nctypes.string_at(0)\n",
    "noisy": (
        "import logging, sys, warnings\nprint('hello from noisy')\n"
        "sys.stderr.write('to stderr\\n')\nwarnings.warn('old api', DeprecationWarning)\n"
        "logging.getLogger('passlib.handlers.bcrypt').warning("
        "'(trapped) error reading bcrypt version')\n"
    ),
    "exits": "raise SystemExit(3)\n",
    "after": "import good\nassert good.X == 1\n",
    # Fails once "noisy" is imported in the same process; alone it works.
    "orderdep": "import sys\nassert 'noisy' not in sys.modules, 'noisy came first'\n",
}


def run_runner(tmp_path: Path, items: list[dict[str, Any]], timeout: float = 2) -> list[Any]:
    for name, code in MODULES.items():
        (tmp_path / f"{name}.py").write_text(code)
    config = json.dumps({"items": items, "module_timeout": timeout})
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", runner_source(), config],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_runner_keeps_each_failure_to_itself(tmp_path: Path) -> None:
    names = ["good", "bad", "hang", "segv", "noisy", "exits", "orderdep", "after", "nosuch"]
    items: list[dict[str, Any]] = [{"kind": "import", "name": n} for n in names]
    items.append({"kind": "import", "name": "listedonly", "listed": True})
    items.append(
        {
            "kind": "probe",
            "name": "p-fail",
            "code": "import good\nassert good.X == 2, 'nope'",
            "needs": ["good"],
        }
    )
    items.append({"kind": "probe", "name": "p-skip", "code": "pass", "needs": ["bad"]})
    lines = run_runner(tmp_path, items)
    assert lines[0]["kind"] == "start"
    assert lines[-1] == {"kind": "end"}
    got = {(r["kind"], r["name"]): r for r in lines[1:-1]}
    status = {k[1]: r["status"] for k, r in got.items() if k[0] == "import"}
    assert status == {
        "good": "ok",
        "bad": "error",
        "hang": "timeout",
        "segv": "crash",
        "noisy": "ok",
        "exits": "error",
        "orderdep": "error",
        "after": "ok",  # after a failure, a timeout and a crash, the chain goes on
        "nosuch": "error",
        "listedonly": "skipped",
    }
    bad = got[("import", "bad")]
    assert bad["exc_type"] == "builtins.ImportError"
    assert bad["last_line"] == "ImportError: failed to find libmagic.  Check your installation"
    assert "bad.py" in bad["traceback_tail"]
    assert "in attempt" not in bad["traceback_tail"]  # the runner's own frame is cut
    assert got[("import", "segv")]["signal"] == "SIGSEGV"
    assert "Segmentation fault" in got[("import", "segv")]["output"]  # faulthandler's stack
    assert got[("import", "exits")]["last_line"] == "SystemExit: 3"
    noisy = got[("import", "noisy")]
    assert noisy["output"] == "hello from noisy\nto stderr\n"
    assert [w["category"] for w in noisy["warnings"]] == ["DeprecationWarning"]
    assert noisy["logs"][0]["message"] == "(trapped) error reading bcrypt version"
    assert got[("probe", "p-fail")]["last_line"] == "AssertionError: nope"
    assert got[("probe", "p-skip")]["status"] == "skipped"
    # Failures are imported again alone: orderdep works there, bad and segv do not.
    alone = {r["name"]: r["status"] for k, r in got.items() if k[0] == "alone"}
    assert alone == {
        "bad": "error",
        "segv": "crash",
        "exits": "error",
        "orderdep": "ok",
        "nosuch": "error",
    }


def test_runner_imports_each_module_once(tmp_path: Path) -> None:
    """The fork chain: a module imported by an earlier item is not imported again."""
    (tmp_path / "counted.py").write_text(
        "import os\nwith open(os.environ['COUNT_FILE'], 'a') as f:\n    f.write('x')\n"
    )
    count = tmp_path / "count"
    os.environ["COUNT_FILE"] = str(count)
    try:
        items = [{"kind": "import", "name": n} for n in ("counted", "good", "after", "bad")]
        items.append({"kind": "probe", "name": "p", "code": "import counted"})
        lines = run_runner(tmp_path, items)
    finally:
        del os.environ["COUNT_FILE"]
    assert [r.get("status") for r in lines[1:-1] if r["kind"] != "alone"] == [
        "ok",
        "ok",
        "ok",
        "error",
        "ok",
    ]
    assert count.read_text() == "x"


def test_runner_is_python_3_8_code() -> None:
    """It runs inside images; their Python may be as old as 3.8."""
    ast.parse(runner_source(), feature_version=(3, 8))
    tree = ast.parse(runner_source())
    imported = {
        a.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


# -- findings from results, on a real image inventory -------------------------------------


def _dist(name: str, version: str, top: str) -> list[F]:
    return under(SITE, dist_info(name, version, top_level=top))


@pytest.fixture
def inv(tmp_path: Path) -> Any:
    files = [
        F("usr/local/bin/python3", b"\x7fELF"),
        *_dist("python-magic", "0.4.27", "magic"),
        *_dist("passlib", "1.7.4", "passlib"),
        *_dist("bcrypt", "5.0.0", "bcrypt"),
        *_dist("setuptools", "68.0.0", "_distutils_hack\npkg_resources\nsetuptools"),
        *_dist("badmeta", "1.0", "tests\nbad-name\nbadmeta"),
    ]
    built = make_image(
        tmp_path,
        [Layer(files, created_by="pip install")],
        layout="oci-dir",
        config={"Cmd": ["python3"]},
    )
    return inventory(str(built.path), Options(use_cache=False))


def test_plan_imports_what_the_runtime_sees(inv: Any) -> None:
    items, owner = plan(inv, SmokeOptions(imports=("scipy.stats",), skip=("passlib",)))
    imports = [i["name"] for i in items if i["kind"] == "import"]
    assert imports == ["badmeta", "bcrypt", "magic", "scipy.stats"]
    assert owner["magic"] == "python-magic"
    probes = {i["name"]: i["needs"] for i in items if i["kind"] == "probe"}
    assert probes == {
        "passlib-bcrypt-hash": ["passlib", "bcrypt"],
        "python-magic-identify": ["magic"],
    }


def _findings(inv: Any, *results: ModuleResult) -> list[Finding]:
    run = SmokeRun("ran", "", "/usr/local/bin/python3", "3.11", 1.0, results)
    findings, checks = run_checks(Context(inv, smoke=run), select=("IC50",))
    assert [c.status for c in checks if c.name == "smoke tests"] == [
        "failed" if any(f.severity != "info" for f in findings) else "passed"
    ]
    return list(findings)


def test_libmagic_failure_names_the_debian_package(inv: Any) -> None:
    (f,) = _findings(
        inv,
        ModuleResult(
            "import",
            "magic",
            "error",
            distribution="python-magic",
            last_line="ImportError: failed to find libmagic.  Check your installation",
            alone="error",
        ),
    )
    assert (f.code, f.severity, f.subject) == ("IC501", "error", "magic")
    assert "libmagic1" in f.hint
    assert "apt-get install" in f.hint
    assert f.layer is not None
    assert f.layer.created_by == "pip install"


def test_bcrypt_5_probe_is_an_error_and_the_about_log_is_harmless(inv: Any) -> None:
    found = _findings(
        inv,
        ModuleResult(
            "probe",
            "passlib-bcrypt-hash",
            "error",
            distribution="passlib",
            last_line="ValueError: password cannot be longer than 72 bytes, truncate manually "
            "if necessary (or use bcrypt.truncate_error=False)",
        ),
        ModuleResult(
            "import",
            "bcrypt",
            "ok",
            distribution="bcrypt",
            logs=("WARNING passlib.handlers.bcrypt: (trapped) error reading bcrypt version",),
        ),
    )
    assert [(f.code, f.severity) for f in found] == [("IC505", "error"), ("IC506", "warning")]
    assert "bcrypt<5" in found[0].hint
    assert "harmless" in found[1].message


def test_order_effect_is_a_warning_not_an_error(inv: Any) -> None:
    (f,) = _findings(
        inv,
        ModuleResult(
            "import",
            "badmeta",
            "error",
            distribution="badmeta",
            last_line="AssertionError",
            alone="ok",
        ),
    )
    assert (f.code, f.severity) == ("IC507", "warning")


def test_timeout_crash_and_runner_failure(inv: Any) -> None:
    run = SmokeRun(
        "failed",
        "the runner stopped before the end (exit 137)",
        "/usr/local/bin/python3",
        results=(
            ModuleResult("import", "bcrypt", "timeout", 60.0, "bcrypt"),
            ModuleResult("import", "magic", "crash", 0.1, "python-magic", signal="SIGSEGV"),
            ModuleResult("import", "badmeta", "not-run", reason="the runner stopped"),
        ),
    )
    findings, _ = run_checks(Context(inv, smoke=run), select=("IC50",))
    assert [(f.code, f.subject) for f in findings] == [
        ("IC500", "/usr/local/bin/python3"),
        ("IC502", "bcrypt"),
        ("IC503", "magic"),
    ]
    assert "SIGSEGV" in findings[2].message


def test_skipped_smoke_is_a_skipped_check(inv: Any) -> None:
    run = SmokeRun("skipped", "no Docker engine to run the image in")
    findings, checks = run_checks(Context(inv, smoke=run))
    smoke = next(c for c in checks if c.name == "smoke tests")
    assert (smoke.status, smoke.reason) == ("skipped", "no Docker engine to run the image in")
    assert not [f for f in findings if f.code.startswith("IC50")]


def test_failure_table_prefers_a_real_error_over_a_harmless_line() -> None:
    table = load_failures()
    both = (
        "WARNING (trapped) error reading bcrypt version\n"
        "ValueError: password cannot be longer than 72 bytes"
    )
    hit = classify(both, table)
    assert hit is not None
    assert hit.id == "bcrypt-72-bytes"
    harmless = classify("module 'bcrypt' has no attribute '__about__'", table)
    assert harmless is not None
    assert harmless.harmless
    abi = classify(
        "A module that was compiled using NumPy 1.x cannot be run in\nNumPy 2.0.2", table
    )
    assert abi is not None
    assert abi.id == "numpy-abi"
    assert classify("all good", table) is None
