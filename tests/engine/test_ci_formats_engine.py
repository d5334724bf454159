"""SARIF of real images on their Dockerfile's lines: a stale COPY, and a package a RUN
line installed (the finding about its layer is anchored to that line)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.unit.report.test_ci_formats import validate_sarif

from .test_stale_engine import Context, make_context  # noqa: F401 - the fixture

pytestmark = pytest.mark.engine


def _physical(result: dict[str, Any]) -> Any:
    return result["locations"][0]["physicalLocation"]


def test_sarif_points_at_the_dockerfile_lines(
    make_context: Context,  # noqa: F811 - the fixture, imported
    build_dir: Callable[[Path, str], str],
    tmp_path: Path,
) -> None:
    ctx = make_context()
    subprocess.run(["git", "init", "-q", str(ctx)], check=True)
    (ctx / "pins.txt").write_text("idna==3.7\n")
    tag = build_dir(ctx, "ci-sarif")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    check = run_cli(
        "check",
        f"docker:{tag}",
        "--no-smoke",
        "-c",
        "pins.txt",
        "--unpinned",
        "warning",
        "--dockerfile",
        "Dockerfile",
        "--format",
        "sarif",
        *cache,
        cwd=ctx,
    )
    assert check.returncode == 1, check.stderr
    doc = json.loads(check.stdout)
    validate_sarif(doc)
    by_code = {(r["ruleId"], r["properties"]["subject"]): r for r in doc["runs"][0]["results"]}
    assert _physical(by_code["IC101", "idna"]) == {
        "artifactLocation": {"uri": "pins.txt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},
    }
    assert _physical(by_code["IC103", "six"]) == {  # RUN pip install -r requirements.txt
        "artifactLocation": {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 7},
    }
    (ctx / "app.py").write_text("print('changed')\n")
    stale = run_cli("stale", f"docker:{tag}", "--format", "sarif", *cache, cwd=ctx)
    assert stale.returncode == 1, stale.stderr
    doc = json.loads(stale.stdout)
    validate_sarif(doc)
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "IC602"
    assert _physical(result) == {  # COPY app.py ./
        "artifactLocation": {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 8},
    }
