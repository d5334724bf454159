"""What tests of imagecheck's output share: the JSON schemas it ships, and running its CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[1]


@cache
def schema(name: str) -> dict[str, Any]:
    """``name`` is the file's stem under imagecheck/schemas: inventory, report, lint."""
    text = resources.files("imagecheck").joinpath(f"schemas/{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(doc: object, name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` follows the shipped schema ``name``."""
    jsonschema.validate(doc, schema(name))


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``python -m imagecheck ARGS`` as a user runs it: its own process, plain text at 200
    columns (NO_COLOR, COLUMNS), this checkout importable from any ``cwd``. The timeout
    only ends a hung run; engine runs on a loaded machine take minutes."""
    return subprocess.run(
        [sys.executable, "-m", "imagecheck", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={
            **os.environ,
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        },
    )
