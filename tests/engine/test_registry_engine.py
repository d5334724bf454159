"""An image the engine built, pushed by ``docker push`` to the reference registry, reads
from the registry as it reads from the engine, and a second tag costs only its layer."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagecheck.api import Options, inventory
from imagecheck.model import Inventory
from tests.registries import Registry, run_registry

ENGINE_PORT = 5107
pytestmark = [pytest.mark.engine, pytest.mark.registry]


@pytest.fixture(scope="module")
def pushed(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with run_registry(tmp_path_factory.mktemp("engine-registry"), ENGINE_PORT) as reg:
        tag = f"{reg.host}/engine/base:bookworm"
        subprocess.run(["docker", "tag", base_image, tag], check=True)
        try:
            subprocess.run(["docker", "push", "-q", tag], check=True, capture_output=True)
        finally:
            subprocess.run(["docker", "rmi", tag], check=True, capture_output=True)  # the tag only
        reg.mark()
        yield reg


def _summary(inv: Inventory) -> tuple[object, ...]:
    return (
        inv.image.id,
        inv.image.diff_ids,
        sorted((d.name, d.version, d.path) for d in inv.python),
        sorted((p.name, p.version) for p in inv.debian),
        len(inv.libraries),
    )


def test_docker_push_reads_as_the_engine_image(
    pushed: Registry, base_image: str, tmp_path: Path
) -> None:
    from_engine = inventory(f"docker:{base_image}", Options(use_cache=False))
    from_registry = inventory(
        f"registry:{pushed.host}/engine/base:bookworm", Options(cache_dir=tmp_path / "cache")
    )
    assert _summary(from_registry) == _summary(from_engine)
    assert len(from_engine.debian) > 50  # a real Debian image, not an empty one
    gets = pushed.blob_gets()
    assert len(gets) == 1 + len(from_engine.image.diff_ids)  # config and each layer, once
    n = len(from_engine.image.diff_ids)
    assert any(note.startswith(f"{n} of {n} layers fetched") for note in from_registry.notes)


def test_smoke_of_a_registry_image_not_pulled_says_how(pushed: Registry, tmp_path: Path) -> None:
    """The engine runs smoke tests; an image only in the registry is skipped, with the pull."""
    from imagecheck.image.sources.oci import host_platform
    from imagecheck.smoke import SmokeOptions, smoke_image
    from imagecheck.target import parse_target
    from tests.builders import SITE, F, Layer, make_image, metadata

    layout = make_image(
        tmp_path,
        [Layer([F(f"{SITE}/six-1.16.0.dist-info/METADATA", metadata("six", "1.16.0"))])],
        layout="oci-dir",
        compression="gzip",
        architecture=host_platform().architecture,
    ).path
    pushed.push(layout, "engine/only-here:v1")
    target = parse_target(f"registry:{pushed.host}/engine/only-here:v1")
    inv = inventory(target, Options(use_cache=False))
    run = smoke_image(target, inv, SmokeOptions())
    assert run.status == "skipped"
    assert run.reason.endswith(f"docker pull {pushed.host}/engine/only-here:v1")
