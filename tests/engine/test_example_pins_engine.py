"""The shipped examples as the README runs them: ``cd examples/backend && imagecheck
backend`` (the pins are found in the service's build context, its requirements.txt,
the requirements.in beside it not read, and the image passes them), and ``cd
examples/orders && imagecheck orders`` (healthy dependencies, its own code broken on
purpose: a stale import in a lazy router, ambiguous foreign keys, two alembic heads)."""

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


def _example(name: str, tmp_path: Path, build_dir: Callable[[Path, str], str]) -> Path:
    """A copy of ``examples/NAME`` with its pinned wheels, built, its compose file
    pointing at the built tag (the README's ``imagecheck-example/NAME:latest``)."""
    context = tmp_path / name
    shutil.copytree(
        EXAMPLE.parent / name, context, ignore=shutil.ignore_patterns("wheels", "__pycache__")
    )
    (context / "wheels").mkdir()
    for line in (context / "requirements.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            shutil.copy(_wheel(re.sub(r"\[.*\]", "", line.strip())), context / "wheels")
    tag = build_dir(context, f"example-{name}")
    compose = (context / "compose.yaml").read_text()
    (context / "compose.yaml").write_text(compose.replace(f"imagecheck-example/{name}:latest", tag))
    return context


def test_example_backend_checks_its_pins_and_passes(
    tmp_path: Path, build_dir: Callable[[Path, str], str], base_image: str
) -> None:
    context = _example("backend", tmp_path, build_dir)
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


def test_example_orders_shows_the_application_findings(
    tmp_path: Path, build_dir: Callable[[Path, str], str], base_image: str
) -> None:
    context = _example("orders", tmp_path, build_dir)
    done = run_cli("orders", "--format", "json", cwd=context, timeout=900)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    errors = sorted((f["code"], f["subject"]) for f in doc["findings"] if f["severity"] == "error")
    assert errors == [
        ("IC804", "app.routers.reports"),
        ("IC806", "Order.buyer"),
        ("IC850", "alembic"),
    ]  # its dependencies pass: pins, native libraries, smoke imports
    stale = next(f for f in doc["findings"] if f["code"] == "IC804")
    assert stale["location"] == "app/routers/reports.py:3"
    assert "app.models defines OrderState" in stale["hint"]
    assert doc["triage"]["commands"][0] == "docker compose build orders"
