"""Content is verified before it is trusted: every source, the cache, concurrent runs."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from imagecheck.api import Options, inventory
from imagecheck.errors import CorruptArchive
from imagecheck.image.cache import Cache
from imagecheck.image.layerindex import Entry, LayerIndex
from tests.builders import (
    SITE,
    Empty,
    F,
    Layer,
    layer_tar,
    make_image,
    metadata,
    read_member,
    replace_member,
)

HISTORY: list[Layer | Empty] = [
    Layer([F(f"{SITE}/six-1.16.0.dist-info/METADATA", metadata("six", "1.16.0"))]),
    Layer([F(f"{SITE}/idna-3.7.dist-info/METADATA", metadata("idna", "3.7"))]),
]


@pytest.mark.parametrize("layout", ["docker-legacy", "docker-oci"])
def test_an_archive_layer_that_is_not_its_diff_id_is_refused(tmp_path: Path, layout: str) -> None:
    """The layer tar inside the archive replaced by another, well-formed one."""
    built = make_image(tmp_path, HISTORY, layout=layout)
    manifest = json.loads(read_member(built.path, "manifest.json"))
    replace_member(built.path, manifest[0]["Layers"][1], layer_tar([F("etc/poisoned", b"x")]))
    cache = tmp_path / "cache"
    top = built.diff_ids[1]
    # docker-legacy names layers by a v1 id: only the diff_id can tell; the others name
    # blobs by digest, and the blob digest tells first.
    says = "does not match its diff_id" if layout == "docker-legacy" else "its blob hashes to"
    with pytest.raises(CorruptArchive, match=f"^layer {top[:19]}:? {says}"):
        inventory(str(built.path), Options(cache_dir=cache))
    assert Cache(cache).get_layer(top) is None
    assert not list(cache.rglob("*.inv"))


def test_a_warm_run_notices_a_changed_or_missing_archive_layer(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="docker-legacy")
    cache = tmp_path / "cache"
    first = inventory(str(built.path), Options(cache_dir=cache))
    assert inventory(str(built.path), Options(cache_dir=cache)) == first
    manifest = json.loads(read_member(built.path, "manifest.json"))
    good = read_member(built.path, manifest[0]["Layers"][1])
    replace_member(built.path, manifest[0]["Layers"][1], layer_tar([F("etc/poisoned", b"x")]))
    with pytest.raises(CorruptArchive, match="does not match its diff_id"):
        inventory(str(built.path), Options(cache_dir=cache))
    replace_member(built.path, manifest[0]["Layers"][1], good)  # put back: trusted again
    assert inventory(str(built.path), Options(cache_dir=cache)).python == first.python


def test_a_warm_run_notices_a_missing_blob(tmp_path: Path) -> None:
    built = make_image(tmp_path, HISTORY, layout="oci-dir", compression="gzip")
    cache = tmp_path / "cache"
    inventory(str(built.path), Options(cache_dir=cache))
    blobs = sorted((built.path / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    layer = next(p for p in blobs if p.read_bytes()[:2] == b"\x1f\x8b")
    layer.unlink()
    with pytest.raises(CorruptArchive, match="is missing from"):
        inventory(str(built.path), Options(cache_dir=cache))


def test_a_damaged_cached_config_blob_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    data = b'{"a": 1}'
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    cache.put_blob(digest, data)
    assert cache.get_blob(digest) == data
    (tmp_path / "blobs" / digest.replace(":", "-")).write_bytes(b'{"a": 2}')
    assert cache.get_blob(digest) is None


# -- concurrent runs sharing one cache folder ---------------------------------------------


def _big_index(n: int) -> LayerIndex:
    entries = {f"usr/lib/file-{n}-{i:06d}": Entry("f", i, 0o644) for i in range(3_000)}
    return LayerIndex(diff_id="sha256:" + "ab" * 32, entries=entries)


DIGEST = "sha256:" + "ab" * 32


def _writer(root: str, rounds: int, started: Any) -> None:
    cache = Cache(Path(root))
    started.wait(60)  # the readers are reading
    for n in range(rounds):
        cache.put_layer(_big_index(n % 2))


def _reader(root: str, stop: Any, started: Any, out: Any) -> None:
    """Read the entry until the writers are done: count reads, and reads of a torn entry."""
    cache = Cache(Path(root))
    seen = bad = 0
    started.set()
    while not stop.is_set() and seen < 5000:
        seen += 1
        got = cache.get_layer(DIGEST)  # written before the race began: always there
        if got is None or len(got.entries) != 3_000:
            bad += 1
    out.put((seen, bad))


def test_concurrent_runs_never_see_a_half_written_entry(tmp_path: Path) -> None:
    """Two writers and two readers in their own processes hammer one entry; a reader sees
    the whole entry every time, never a torn one (a temporary file, then a rename)."""
    Cache(tmp_path).put_layer(_big_index(0))
    ctx = multiprocessing.get_context("spawn")
    out, stop, started = ctx.Queue(), ctx.Event(), ctx.Event()
    writers = [ctx.Process(target=_writer, args=(str(tmp_path), 60, started)) for _ in range(2)]
    readers = [
        ctx.Process(target=_reader, args=(str(tmp_path), stop, started, out)) for _ in range(2)
    ]
    for p in readers + writers:
        p.start()
    for p in writers:
        p.join(timeout=300)
        assert p.exitcode == 0
    stop.set()
    results = [out.get(timeout=120) for _ in readers]
    for p in readers:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(seen > 0 for seen, _ in results)
    assert [bad for _, bad in results] == [0, 0]
    assert [p.name for p in tmp_path.rglob(".tmp-*")] == []
