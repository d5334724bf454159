"""The shipped example as its README runs it (``cd examples/backend && imagecheck
backend``): the pins are found in the service's build context (its requirements.txt,
the requirements.in beside it not read) and the image passes them."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import run_cli

from .conftest import REPO, _wheel

pytestmark = pytest.mark.engine

EXAMPLE = REPO / "examples" / "backend"


def test_example_backend_checks_its_pins_and_passes(
    tmp_path: Path, build_dir: Callable[[Path, str], str], base_image: str
) -> None:
    context = tmp_path / "backend"
    shutil.copytree(EXAMPLE, context, ignore=shutil.ignore_patterns("wheels", "__pycache__"))
    (context / "wheels").mkdir()
    for line in (context / "requirements.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            shutil.copy(_wheel(re.sub(r"\[.*\]", "", line.strip())), context / "wheels")
    tag = build_dir(context, "example-backend")
    compose = (context / "compose.yaml").read_text()
    (context / "compose.yaml").write_text(compose.replace("imagecheck-example/backend:latest", tag))
    done = run_cli("backend", "--format", "json", cwd=context, timeout=900)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    pins = next(c for c in doc["checks"] if c["name"] == "pins")
    assert pins["status"] == "passed"
    assert pins["reason"] == (
        f"0 finding(s); pins from requirements.txt (the build context {context}); "
        "requirements.in not read: requirements.txt is its compiled form"
    )
    assert doc["verdict"] == "pass"
