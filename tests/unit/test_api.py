"""The pipelines' shared engine connection (``engine.Shared``), against no engine at all."""

from __future__ import annotations

import pytest

import imagecheck.engine
from imagecheck.errors import EngineUnavailable


def test_a_down_engine_is_asked_once_per_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step (staleness, smoke) asks the pipeline's connection; an engine that did not
    answer the first is not dialled again (over TCP each try can wait for a timeout)."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing listens on discard
    tries: list[int] = []
    real = imagecheck.engine.connect

    def counting(timeout: int = 60) -> imagecheck.engine.Engine:
        tries.append(timeout)
        return real(timeout)

    monkeypatch.setattr(imagecheck.engine, "connect", counting)
    once = imagecheck.engine.Shared()
    for _ in range(3):
        with pytest.raises(EngineUnavailable):
            once.get()
    assert len(tries) == 1
