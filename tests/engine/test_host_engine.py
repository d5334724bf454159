"""Suggested commands as this host runs them, on images this engine built (README,
"Commands for this host"): ``DOCKER_BUILDKIT=1`` before the rebuild of a BuildKit image
where plain builds here are legacy, and ``docker-compose`` where Compose v2 is missing."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagecheck import host
from imagecheck.cli import main

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM BASE
LABEL imagecheck.test=1
WORKDIR /app
COPY app.py ./
CMD ["python3", "app.py"]
"""


def _legacy_here(client: Any) -> bool:
    """What this engine builds with when nothing says BuildKit (it is the default from 23)."""
    return int(str(client.version()["Version"]).split(".")[0]) < 23


def _compose_here() -> str:
    v2 = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return "docker compose" if v2.returncode == 0 else "docker-compose"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    host.compose_command.cache_clear()
    host._engine_major.cache_clear()
    yield
    host.compose_command.cache_clear()
    host._engine_major.cache_clear()


@pytest.fixture
def context(base_image: str, tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace("BASE", base_image))
    (ctx / "app.py").write_text("print(1)\n")
    return ctx


@pytest.fixture
def buildkit_build(client: Any) -> Iterator[Callable[[Path], str]]:
    """``docker build`` with BuildKit (the docker CLI at /usr/bin has buildx); removed after."""
    tags: list[str] = []

    def _build(ctx: Path) -> str:
        tag = f"imagecheck-test/host-buildkit:{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["/usr/bin/docker", "build", "-q", "--label", "imagecheck.test=1", "-t", tag, str(ctx)],
            check=True,
            capture_output=True,
            env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"},
        )
        tags.append(tag)
        return tag

    yield _build
    for tag in tags:
        client.images.remove(tag, force=True)


def _rebuild_line(tag: str, ctx: Path, capsys: pytest.CaptureFixture[str]) -> str:
    (ctx / "app.py").write_text("print(2)\n")  # the image is stale now
    assert main(["stale", f"docker:{tag}", "--context", str(ctx), "--no-cache"]) == 1
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith("$ ")]
    assert lines, out
    return lines[-1]


def test_a_buildkit_image_is_rebuilt_with_buildkit(
    client: Any,
    context: Path,
    buildkit_build: Callable[[Path], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = buildkit_build(context)
    line = _rebuild_line(tag, context, capsys)
    prefix = "DOCKER_BUILDKIT=1 " if _legacy_here(client) else ""
    assert line.startswith(f"$ {prefix}docker build --no-cache -f {context / 'Dockerfile'}"), line


def test_a_legacy_image_is_rebuilt_as_it_was(
    context: Path,
    build_dir: Callable[[Path, str], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = build_dir(context, "host-legacy")  # the SDK's build: the legacy builder
    line = _rebuild_line(tag, context, capsys)
    assert line.startswith(f"$ docker build --no-cache -f {context / 'Dockerfile'}"), line


def test_compose_commands_are_spelled_as_this_host_runs_them(
    context: Path,
    build_dir: Callable[[Path, str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tag = build_dir(context, "host-compose")
    folder = tmp_path / f"ichost{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "compose.yaml").write_text(f"services:\n  backend:\n    image: {tag}\n")
    monkeypatch.chdir(folder)
    assert main(["backend", "--no-smoke", "--no-cache"]) == 0  # no container yet: IC706
    out = capsys.readouterr().out
    compose = _compose_here()
    assert f"    {compose} up -d backend" in out, out
    other = "docker compose" if compose == "docker-compose" else "docker-compose"
    assert f"{other} up" not in out
