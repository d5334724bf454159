"""Build-time values baked into real images (IC930-IC932), built by both builders: a
Next.js-shaped build (tests/engine/stacks/nextjs: the build step writes ``.next/`` as
``next build`` does, inlining ``NEXT_PUBLIC_API_URL``) with its ARG defaults, and a compose
v1 file whose ``build.args`` and ``env_file:`` now give other values."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from imagecheck.cli import main
from tests.helpers import validate

from .conftest import STACKS

pytestmark = pytest.mark.engine

BUILT = "https://api-default.example.com"
NOW = "https://api-v2.example.com"
TOKENS = ("ghp_defaultdefaultdefaultdefault00", "ghp_rotatedrotatedrotatedrotated11")


@pytest.fixture
def next_stack(
    tmp_path: Path,
    base_image: str,
    any_builder: Callable[[Path, str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Path, str]:
    """The stack copied, its image built with the Dockerfile's ARG defaults, the compose
    file naming that image; the working folder for the test."""
    folder = tmp_path / "nextjs"
    shutil.copytree(STACKS / "nextjs", folder)
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("BASE", base_image))
    tag = any_builder(folder, "nextjs")
    compose = folder / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("IMAGE", tag))
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", f"icbaked{tmp_path.name[-6:].lower()}")
    monkeypatch.chdir(folder)
    return folder, tag


def test_a_service_whose_configuration_no_longer_matches_its_build(
    next_stack: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["web", "--format", "json", "--no-smoke"])
    out, err = capsys.readouterr()
    assert code == 1, err
    main(["web", "--no-smoke"])
    terminal = capsys.readouterr().out
    assert "IC930" in terminal
    assert not any(token in terminal for token in TOKENS)
    doc = json.loads(out)
    validate(doc, "report")
    found = {(f["code"], f["subject"]): f for f in doc["findings"] if f["code"] >= "IC93"}
    assert sorted(found) == [
        ("IC930", "NEXT_PUBLIC_API_URL"),
        ("IC932", "BUILD_TOKEN"),
        ("IC932", "NEXT_PUBLIC_API_URL"),
    ]
    inlined = found["IC930", "NEXT_PUBLIC_API_URL"]
    assert inlined["severity"] == "error"
    assert repr(BUILT) in inlined["message"]
    assert repr(NOW) in inlined["message"]
    assert "/app/.next/static/chunks/app/page-4f2a9c.js" in inlined["message"]
    assert "compose service 'web'" in inlined["message"]
    assert inlined["hint"] == (
        "rebuild, so the build inlines it: docker compose build web && docker compose up -d web"
    )
    arg = found["IC932", "NEXT_PUBLIC_API_URL"]
    assert "build.args" in arg["message"]
    assert repr(BUILT) in arg["message"]
    # the token differs and says so, but no finding prints either value in full (the
    # inventory's history is the image's own, as `docker history` shows it)
    assert "hidden" in found["IC932", "BUILD_TOKEN"]["message"]
    for token in TOKENS:
        assert token not in json.dumps(doc["findings"])
        assert token not in json.dumps(doc.get("stale"))
    # the .env.production value the build used is the one the service sets: no finding
    assert not any("SITE_NAME" in f["subject"] for f in doc["findings"])


def test_check_with_env_compares_the_given_environment(
    next_stack: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, tag = next_stack
    (next_stack[0] / "docker-compose.yml").unlink()  # only what is given on the line
    code = main(
        ["check", f"docker:{tag}", "--env", f"NEXT_PUBLIC_API_URL={NOW}", "--format", "json"]
    )
    out, err = capsys.readouterr()
    assert code == 1, err
    doc = json.loads(out)
    (inlined,) = [f for f in doc["findings"] if f["code"].startswith("IC93")]
    assert inlined["code"] == "IC930"
    assert "--env" in inlined["message"]
    assert "--build-arg NEXT_PUBLIC_API_URL=" in inlined["hint"]
    results = {r["name"]: r["status"] for r in doc["checks"]}
    assert results["build-time values baked in"] == "failed"


def test_read_from_the_export_stream_the_history_still_decides(
    next_stack: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """With the export stream alone (no file read in place), nothing is searched: the
    history's value decides, and the finding says the output was not searched."""
    code = main(["web", "--format", "json", "--no-smoke", "--engine-read", "export"])
    out, err = capsys.readouterr()
    assert code == 1, err
    found = [f for f in json.loads(out)["findings"] if f["code"] in ("IC930", "IC931")]
    assert [(f["code"], f["severity"]) for f in found] == [("IC930", "error")]
    assert "the build output was not searched" in found[0]["message"]
    assert "could not be read here" in found[0]["message"]
