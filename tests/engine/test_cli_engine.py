"""``imagecheck WORD`` where WORD is a compose service and an engine image alike."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagecheck.cli import main

pytestmark = pytest.mark.engine


@pytest.fixture
def engine_word(
    client: Any, base_image: str, build_dir: Callable[[Path, str], str], tmp_path: Path
) -> Iterator[str]:
    """A unique name that an engine image answers to (``NAME:latest``), removed after."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base_image}\nLABEL imagecheck.test=1\n")
    tag = build_dir(ctx, "cli-both")
    word = f"svc{uuid.uuid4().hex[:8]}"
    client.images.get(tag).tag(word, "latest")
    yield word
    client.images.remove(f"{word}:latest")


def test_a_service_that_is_also_an_engine_image_says_which_was_chosen(
    engine_word: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    word = engine_word
    project = tmp_path / "proj"
    project.mkdir()
    (project / "compose.yaml").write_text(f"services:\n  {word}:\n    build: .\n")
    monkeypatch.chdir(project)
    main([word, "--format", "json", "--no-smoke", "--no-cache"])
    out, err = capsys.readouterr()
    assert json.loads(out)["triage"]["service"] == word
    want = (
        f"imagecheck: {word} is a service of compose project proj and an engine image: "
        f"checking the service; 'imagecheck check docker:{word}' checks the image"
    )
    assert err.splitlines() == [want]
    assert main(["check", f"docker:{word}", "--format", "json", "--no-smoke"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["triage"] is None
    assert err == ""
    # a service whose image: is that very image is no ambiguity
    (project / "compose.yaml").write_text(f"services:\n  {word}:\n    image: {word}\n")
    main([word, "--format", "json", "--no-smoke", "--no-cache"])
    assert capsys.readouterr().err == ""
