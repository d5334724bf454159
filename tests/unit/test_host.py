"""Suggested commands as this host runs them: Compose v1 or v2, BuildKit or the legacy builder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagecheck import host
from imagecheck.model import HistoryEntry
from tests.unit.stale.test_stale import DOCKERFILE, _context, _image


def _bin(folder: Path, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    """Each test looks at its own PATH: the process-wide answers are forgotten around it."""
    host.compose_command.cache_clear()
    host._engine_major.cache_clear()
    yield
    host.compose_command.cache_clear()
    host._engine_major.cache_clear()


V2_DOCKER = 'if [ "$1" = compose ]; then echo "Docker Compose version v2.29.1"; exit 0; fi'
V1_ONLY_DOCKER = 'echo "docker: unknown command: docker $1" >&2; exit 1'


def test_compose_v2_where_docker_compose_version_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bin(tmp_path / "bin", "docker", V2_DOCKER)
    _bin(tmp_path / "bin", "docker-compose", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert host.compose_command() == "docker compose"


def test_compose_v1_where_only_docker_compose_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bin(tmp_path / "bin", "docker", V1_ONLY_DOCKER)
    _bin(tmp_path / "bin", "docker-compose", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert host.compose_command() == "docker-compose"
    assert host.spell("docker compose up -d --force-recreate backend", False) == (
        "docker-compose up -d --force-recreate backend"
    )
    _bin(tmp_path / "v1", "docker-compose", "exit 0")  # no docker CLI at all
    monkeypatch.setenv("PATH", str(tmp_path / "v1"))
    host.compose_command.cache_clear()
    assert host.compose_command() == "docker-compose"


def test_no_compose_installed_costs_no_subprocess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "asked"
    _bin(tmp_path / "bin", "docker", f"touch {marker}; exit 0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert host.compose_command() == "docker compose"
    assert not marker.exists()
    assert host.spell("pip install six", True) == "pip install six"  # nothing to spell


@pytest.mark.parametrize(
    ("environ", "compose_v2", "legacy"),
    [
        ({"DOCKER_BUILDKIT": "0"}, True, True),  # even Compose v2 follows DOCKER_BUILDKIT=0
        ({"DOCKER_BUILDKIT": "1"}, False, False),
        ({}, True, False),  # Compose v2 builds with BuildKit whatever the engine
    ],
)
def test_which_builder_a_plain_build_uses(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    compose_v2: bool,
    legacy: bool,
) -> None:
    _bin(tmp_path / "bin", "docker", V2_DOCKER if compose_v2 else V1_ONLY_DOCKER)
    _bin(tmp_path / "bin", "docker-compose", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")  # never asked here
    assert host.legacy_builds(compose=True, environ=environ) is legacy


def test_buildkit_images_get_docker_buildkit_1_where_builds_are_legacy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bin(tmp_path / "bin", "docker", V1_ONLY_DOCKER)
    _bin(tmp_path / "bin", "docker-compose", "exit 0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    hint = "docker builder prune -af && docker compose build --no-cache backend"
    assert host.spell(hint, True) == (
        "docker builder prune -af && DOCKER_BUILDKIT=1 docker-compose build --no-cache backend"
    )
    assert host.spell(hint, False) == (
        "docker builder prune -af && docker-compose build --no-cache backend"
    )
    prose = "rebuild without the cache (docker build --no-cache)"
    assert (
        host.spell(prose, True)
        == "rebuild without the cache (DOCKER_BUILDKIT=1 docker build --no-cache)"
    )
    assert (
        host.spell("DOCKER_BUILDKIT=1 docker build .", True) == "DOCKER_BUILDKIT=1 docker build ."
    )
    monkeypatch.setenv("DOCKER_BUILDKIT", "1")  # this shell builds with BuildKit already
    assert host.spell("docker build .", True) == "docker build ."


def _entry(created_by: str, comment: str = "") -> HistoryEntry:
    return HistoryEntry(0, None, created_by, comment, True, None)


def test_which_builder_built_the_image() -> None:
    base = [
        _entry("/bin/sh -c #(nop) ADD file:abc in / "),
        _entry('CMD ["bash"]', "buildkit.dockerfile.v0"),
    ]
    assert host.built_with_buildkit(base)
    legacy_on_buildkit_base = [*base, _entry("/bin/sh -c pip install six"), _entry("LABEL a=b")]
    assert not host.built_with_buildkit(legacy_on_buildkit_base)
    assert host.built_with_buildkit([*legacy_on_buildkit_base, _entry("COPY . . # buildkit")])
    assert not host.built_with_buildkit([])


def test_the_terminal_shows_the_hosts_spelling_and_json_the_shared_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from imagecheck.cli import main

    _bin(tmp_path / "bin", "docker", V1_ONLY_DOCKER)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    monkeypatch.setenv("COLUMNS", "300")
    image, ctx = _image(tmp_path), _context(tmp_path)  # built with BuildKit
    (ctx / "Dockerfile").write_text(DOCKERFILE.replace(" libmagic1", ""))
    argv = ["stale", str(image), "--context", str(ctx), "--no-cache"]
    assert main(argv) == 1
    table = capsys.readouterr().out
    assert f"$ DOCKER_BUILDKIT=1 docker build --no-cache -f {ctx / 'Dockerfile'}" in table
    assert main([*argv, "--format", "json"]) == 1
    commands = json.loads(capsys.readouterr().out)["stale"]["commands"]
    assert commands[-1].startswith("docker build --no-cache -f")
