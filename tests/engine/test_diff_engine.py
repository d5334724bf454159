"""``imagecheck diff`` on two real images built from the base image: a pip step rebuilt
with other wheels, the application's files and migrations changed, CMD/ENV/EXPOSE; read
from the engine (overlay2 in place, and the export stream) and from a ``docker save``
archive of one of them. Every image is labelled and removed by the fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imagecheck.cli import main
from tests.helpers import validate

from .conftest import Builder

pytestmark = pytest.mark.engine

STEPS = """\
FROM BASE
LABEL imagecheck.test=1
COPY wheels /wheels
RUN pip install --no-index --break-system-packages /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY app /app
"""
OLD = STEPS + 'ENV MODE=dev\nCMD ["python3", "main.py"]\n'
NEW = STEPS + 'ENV MODE=prod\nEXPOSE 8000\nCMD ["python3", "-m", "app"]\n'
INI = "[alembic]\nscript_location = migrations\n"


def _revision(rev: str, down: str | None, message: str) -> str:
    return f'"""{message}"""\nrevision = {rev!r}\ndown_revision = {down!r}\n'


APP = {
    "app/main.py": "print('one')\n",
    "app/config.py": "DEBUG = False\n",
    "app/alembic.ini": INI,
    "app/migrations/versions/a1.py": _revision("a1a1", None, "add users"),
}
APP_NEW = APP | {
    "app/main.py": "print('two')\n",  # the same size: only its bytes tell
    "app/migrations/versions/b2.py": _revision("b2b2", "a1a1", "add role column"),
}


@pytest.fixture(scope="module")
def images(build: Builder) -> tuple[str, str]:
    old = build("diff-old", OLD, ["packaging-old", "six"], files=APP)
    new = build("diff-new", NEW, ["packaging-new", "idna"], files=APP_NEW)
    return old, new


def _diff(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["diff", *args, "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    validate(doc, "diff")
    return doc


def _python(doc: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    return [(c["name"], c["change"], c["old_version"], c["new_version"]) for c in doc["python"]]


def test_two_engine_images(
    images: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = images
    doc = _diff(capsys, f"docker:{old}", f"docker:{new}", "--cache-dir", str(tmp_path))
    statuses = [(x["status"], x["created_by"]) for x in doc["layers"]]
    assert statuses[0][0] == "kept"  # the base image's layers
    rebuilt = [c for s, c in statuses if s == "rebuilt"]
    # the same steps, other content: the wheels, the pip step, the app (and the legacy
    # builder's WORKDIR layer, whose folder has a new mtime)
    assert [c.split(" in ")[-1].strip() for c in rebuilt if "COPY" in c] == ["/wheels", "/app"]
    assert sum("pip install" in c for c in rebuilt) == 1
    assert {s for s, _ in statuses} == {"kept", "rebuilt"}
    assert _python(doc) == [
        ("idna", "added", None, "3.7"),
        ("packaging", "upgraded", "23.2", "24.1"),
        ("six", "removed", "1.16.0", None),
    ]
    assert doc["debian"] == []  # nothing shown for a kind that did not change
    assert doc["libraries"] == []
    assert [(f["path"], f["change"], f["basis"]) for f in doc["files"]] == [
        ("/app/main.py", "changed", "sha256"),  # read in place from overlay2
        ("/app/migrations/versions/b2.py", "added", ""),
    ]
    assert doc["files_unverified"] == 0
    config = {(c["field"], c["key"]): (c["old"], c["new"]) for c in doc["config"]}
    assert config[("cmd", "")] == ('["python3", "main.py"]', '["python3", "-m", "app"]')
    assert config[("env", "MODE")] == ("dev", "prod")
    assert config[("exposed_ports", "8000/tcp")] == (None, "exposed")
    [alembic] = doc["alembic"]
    assert (alembic["old_heads"], alembic["new_heads"]) == (
        ["a1a1 (add users)"],
        ["b2b2 (add role column)"],
    )
    code = main(["diff", f"docker:{old}", f"docker:{new}", "--cache-dir", str(tmp_path)])
    table = capsys.readouterr().out
    assert code == 0
    assert "packaging" in table
    assert "Debian packages" not in table


def test_an_archive_against_the_engine_image(
    images: tuple[str, str],
    save: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The saved OLD is OLD (every layer kept); against NEW it says what the engine says."""
    old, new = images
    archive = save(old)
    cache = ("--cache-dir", str(tmp_path / "cache"))
    same = _diff(capsys, f"docker-archive:{archive}", f"docker:{old}", *cache)
    assert same["same_image"] is True
    assert {x["status"] for x in same["layers"]} == {"kept"}
    assert same["python"] == same["files"] == same["config"] == []
    doc = _diff(capsys, f"docker-archive:{archive}", f"docker:{new}", *cache)
    assert _python(doc)[1] == ("packaging", "upgraded", "23.2", "24.1")
    assert ("/app/main.py", "sha256") in {(f["path"], f["basis"]) for f in doc["files"]}


def test_read_by_export_a_same_size_change_is_unverified(
    images: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The export stream cannot be read again in place: the diff says so, never guesses."""
    old, new = images
    doc = _diff(
        capsys,
        f"docker:{old}",
        f"docker:{new}",
        "--engine-read",
        "export",
        "--cache-dir",
        str(tmp_path),
    )
    assert [f["path"] for f in doc["files"]] == ["/app/migrations/versions/b2.py"]
    assert doc["files_unverified"] == 2  # main.py and config.py: equal sizes, other layers
    assert any("could not be compared by content" in n for n in doc["notes"])
