"""BuildKit's build cache, read as a graph, on real builds (issue 16).

Three images share a ``RUN pip install`` line after a ``COPY`` of their own
requirements: each has its own record of that line, and each is told only of its own.
The prune it is given is exact: run for one image, that image's step runs again on
its rebuild while the others' rebuilds are still served whole from the cache.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import BuildRequest, Options, inventory, stale
from imagecheck.cli import main
from imagecheck.engine import connect
from imagecheck.stale.buildcache import cache_chain
from imagecheck.target import parse_target

from .conftest import WHEELS, _wheel

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM BASE
COPY wheels /wheels
COPY requirements.txt /app/
RUN pip install --no-index --find-links /wheels --break-system-packages -r /app/requirements.txt
"""


def _contexts(base_image: str, tmp_path: Path, n: int) -> list[Path]:
    run = uuid.uuid4().hex[:8]  # records of this run only: nothing older shares them
    out = []
    for i in range(n):
        ctx = tmp_path / f"ctx{i}"
        (ctx / "wheels").mkdir(parents=True)
        shutil.copy(_wheel(WHEELS["six"]), ctx / "wheels")
        (ctx / "Dockerfile").write_text(DOCKERFILE.replace("BASE", base_image))
        (ctx / "requirements.txt").write_text(f"six==1.16.0\n# image {i} of run {run}\n")
        out.append(ctx)
    return out


def _created(client: Any, tag: str) -> list[int]:
    return [row["Created"] for row in client.api.history(tag)]


def _ids() -> set[str]:
    engine = connect()
    try:
        return {r.id for r in engine.build_cache()}
    finally:
        engine.close()


def _drop_own_records(tags: list[str], options: Options) -> None:
    """Remove the records of each image's own requirements and pip steps (unique to this
    run), leaf first, by id; the shared ``COPY wheels`` record stays."""
    engine = connect()
    try:
        records = engine.build_cache()
    finally:
        engine.close()
    for tag in tags:
        history = inventory(parse_target(f"docker:{tag}"), options).image.history
        chain = cache_chain(records, history, 1)
        for step in reversed(chain.steps[1:]):
            subprocess.run(
                ["docker", "builder", "prune", "-af", "--filter", f"id={step.record.id}"],
                capture_output=True,
                check=False,
            )


def _run(command: str) -> None:
    for one in command.split(" && "):
        done = subprocess.run(one.split(), capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_three_images_sharing_a_run_line_are_each_told_only_of_their_own_records(
    *,
    base_image: str,
    build_kit: Callable[[Path, str], str],
    build_dir: Callable[[Path, str], str],
    client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contexts = _contexts(base_image, tmp_path, 3)
    tags = [build_kit(ctx, f"cache-chain-{i}") for i, ctx in enumerate(contexts)]
    options = Options(cache_dir=tmp_path / "cache")
    try:
        _told_only_of_their_own(
            contexts=contexts,
            tags=tags,
            build_kit=build_kit,
            build_dir=build_dir,
            client=client,
            options=options,
            capsys=capsys,
        )
    finally:
        _drop_own_records(tags, options)


def _told_only_of_their_own(
    *,
    contexts: list[Path],
    tags: list[str],
    build_kit: Callable[[Path, str], str],
    build_dir: Callable[[Path, str], str],
    client: Any,
    options: Options,
    capsys: pytest.CaptureFixture[str],
) -> None:
    time.sleep(3)
    cited: list[set[str]] = []
    hints: list[str] = []
    for ctx, tag in zip(contexts, tags, strict=True):
        req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, cache_age_days=2 / 86400)
        report = stale(f"docker:{tag}", options, req)
        assert report.stale is not None
        assert report.stale.status == "fresh", report.findings  # old cache alone: info
        found = [f for f in report.findings if f.code == "IC607"]
        assert [f.location for f in found] == [f"{ctx / 'Dockerfile'}:4"], report.findings
        assert found[0].severity == "info"
        assert "layer #" in found[0].message
        assert "ago" in found[0].message
        cited.append({f.subject.removeprefix("build cache ") for f in found})
        hints.append(found[0].hint)
    # Three records of one line, one per image; none told of another's.
    assert len(set().union(*cited)) == 3
    for i, hint in enumerate(hints):
        others = set().union(*(c for j, c in enumerate(cited) if j != i))
        assert not any(rid in hint for rid in others)
        assert hint.count("docker builder prune -af --filter id=") == 1  # the last step
    # The prune given to the first image, run as given: its record goes, and only it.
    before = _ids()
    prune = hints[0].split(" (this record")[0]
    (gone,) = [rid for rid in before if f"id={rid}" in prune]
    _run(prune)
    assert _ids() == before - {gone}
    first_before = _created(client, tags[0])
    second_before = _created(client, tags[1])
    again = [build_kit(contexts[0], "cache-chain-again-0"), build_kit(contexts[1], "cache-again-1")]
    tags.append(again[0])  # its new pip record goes too
    assert _created(client, again[1]) == second_before  # still all from the cache
    rerun = _created(client, again[0])
    assert rerun[1:] == first_before[1:]  # the COPY layers came from the cache...
    assert rerun[0] > first_before[0]  # ...and the pip step ran again
    # `stale --prune --yes` on the third: the records its findings name, and only those.
    before = _ids()
    (third,) = cited[2]
    argv = ["stale", f"docker:{tags[2]}", "--context", str(contexts[2]), "--no-cache"]
    assert main([*argv, "--cache-age", str(2 / 86400), "--prune", "--yes"]) == 0
    assert "pruned 1 build cache record(s)" in capsys.readouterr().err
    assert {rid for rid in before - _ids() if rid.startswith(third)} == before - _ids()
    assert len(before - _ids()) == 1
    # The same images built by the legacy builder: never a BuildKit prune.
    legacy = [build_dir(ctx, f"cache-chain-legacy-{i}") for i, ctx in enumerate(contexts)]
    for ctx, tag in zip(contexts, legacy, strict=True):
        req = BuildRequest(dockerfile=ctx / "Dockerfile", context=ctx, cache_age_days=2 / 86400)
        report = stale(f"docker:{tag}", options, req)
        assert report.stale is not None
        text = " ".join([*report.stale.commands, *(f.hint for f in report.findings)])
        assert "builder prune" not in text
        assert not any(f.subject.startswith("build cache") for f in report.findings)
