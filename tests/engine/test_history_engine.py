"""A Dockerfile against the history of an image the real engine built from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from imagecheck.engine import connect
from imagecheck.image.cache import Cache
from imagecheck.image.sources.base import no_progress
from imagecheck.image.sources.daemon import DaemonSource
from imagecheck.model import HistoryEntry
from imagecheck.stale.history import compare

from .conftest import Builder

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM BASE AS stage
RUN echo not in the final image > /x

FROM BASE
LABEL imagecheck.test=1
ARG GREETING=hello
ENV APP_HOME=/app \\
    MODE=test
WORKDIR $APP_HOME
COPY requirements.txt .
RUN echo "$GREETING" > greeting && \\
    echo done
RUN ["echo", "exec"]
EXPOSE 8000
CMD ["python3", "-c", "print(1)"]
"""


def _history(tag: str) -> tuple[HistoryEntry, ...]:
    source = DaemonSource(connect(), tag, Cache(None), no_progress)
    try:
        return source.image().history
    finally:
        source.close()


def test_fresh_image_matches_and_an_edit_is_named(build: Builder, base_image: str) -> None:
    tag = build("history", DOCKERFILE, [])
    history = _history(tag)
    text = DOCKERFILE.replace("BASE", base_image)
    result = compare(text, history)
    assert result.matched, result.first_difference
    assert result.base == base_image
    assert result.base_entries == 1  # the imported base layer
    copy = next(s for s in result.steps if s.keyword == "COPY")
    assert copy.entry is not None
    assert copy.entry.diff_id is not None
    assert copy.content is not None
    assert copy.content.startswith("file:")

    edited = text.replace("echo done", "echo finished")
    diff = compare(edited, history).first_difference
    assert diff is not None
    assert diff.reason == "instruction changed"
    assert diff.line == 11
    assert diff.instruction.endswith("echo finished")
    assert "echo done" in diff.created_by


def test_build_args_show_in_the_run_prefix(build: Builder, base_image: str) -> None:
    text = DOCKERFILE.replace("BASE", base_image)
    tag = build("history-plain", DOCKERFILE, [])
    runs = [e.created_by for e in _history(tag) if e.created_by.startswith("|")]
    assert runs
    assert runs[0].startswith("|1 GREETING=hello /bin/sh -c")
    diff = compare(text, _history(tag), {"GREETING": "hi"}).first_difference
    assert diff is not None
    assert diff.reason == "build argument changed"


def test_buildkit_image_matches_and_an_edit_is_named(
    build_kit: Callable[[Path, str], str], base_image: str, tmp_path: Path
) -> None:
    """The same Dockerfile built by BuildKit: ``RUN |1 GREETING=hello ... # buildkit``."""
    text = DOCKERFILE.replace("BASE", base_image)
    (tmp_path / "Dockerfile").write_text(text)
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    history = _history(build_kit(tmp_path, "history"))
    result = compare(text, history)
    assert result.matched, result.first_difference
    run = next(s for s in result.steps if s.keyword == "RUN")
    assert run.entry is not None
    assert run.entry.created_by.startswith("RUN |1 GREETING=hello /bin/sh -c")
    diff = compare(text.replace("echo done", "echo finished"), history).first_difference
    assert diff is not None
    assert (diff.line, diff.reason) == (11, "instruction changed")
    assert diff.detail == "'finished' where the image has 'done'"
    diff = compare(text, history, {"GREETING": "hi"}).first_difference
    assert diff is not None
    assert diff.reason == "build argument changed"
