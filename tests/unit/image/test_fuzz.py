"""Property-based fuzzing of the readers: tar, gzip/zstd, OCI index/manifest/config and
``docker save`` archives. Truncated, flipped, resized, duplicated, absurd: whatever the
damage, a run ends with a report or one line and exit 2, never a traceback nor a hang,
and what it could not verify is never cached."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagecheck.api import Options, inventory
from imagecheck.errors import ExitCode, ImagecheckError
from tests.builders import SITE, F, Layer, make_image, metadata

PER_INPUT_SECONDS = 30
HISTORY: list[Any] = [
    Layer(
        [
            F(f"{SITE}/six-1.16.0.dist-info/METADATA", metadata("six", "1.16.0")),
            F("usr/lib/libz.so.1", b"\x7fELF" + bytes(200)),
            F("usr/bin/tool", b"#!/usr/bin/python3\n"),
            F("usr/lib/link", kind="symlink", link="libz.so.1"),
        ]
    ),
    Layer([F(f"{SITE}/six-1.16.0.dist-info", kind="whiteout"), F("etc/os-release", b"ID=x\n")]),
]
SETTINGS = settings(
    max_examples=int(os.environ.get("IMAGECHECK_FUZZ_EXAMPLES", "40")),  # more by hand
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _Hung(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise _Hung(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _run(target: str, cache: Path) -> bool:
    """True for a report, False for a one-line exit 2; anything else fails the test."""
    before = set(cache.rglob("*.inv")) if cache.exists() else set()
    refused: ImagecheckError | None = None
    with _time_limit(PER_INPUT_SECONDS):
        try:
            inventory(target, Options(cache_dir=cache))
        except ImagecheckError as exc:
            refused = exc
    if refused is None:
        return True
    assert refused.exit_code == ExitCode.BAD_INPUT, f"{type(refused).__name__}: {refused}"
    assert str(refused), repr(refused)
    assert "\n" not in str(refused), repr(str(refused))
    after = set(cache.rglob("*.inv")) if cache.exists() else set()
    assert after == before, "a refused image left a catalog in the cache"
    return False


def _damage(data: bytes, given: st.DataObject) -> bytes:
    """One of: cut short, bytes flipped, a slice repeated, garbage inserted."""
    draw = given.draw
    kind = draw(st.sampled_from(["truncate", "flip", "duplicate", "insert"]))
    if not data:
        return draw(st.binary(max_size=64))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        out = bytearray(data)
        for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            out[pos] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "duplicate":
        end = draw(st.integers(at, min(len(data), at + 2048)))
        return data[:end] + data[at:end] + data[end:]
    return data[:at] + draw(st.binary(min_size=1, max_size=600)) + data[at:]


# -- OCI layouts: each document and blob damaged, with its digests made to match or not ----


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Layout:
    """An OCI layout folder's documents, rewritten with their links kept consistent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.index = json.loads((root / "index.json").read_text())
        self.manifest = json.loads(self._blob(self.index["manifests"][0]["digest"]))

    def _blob(self, digest: str) -> bytes:
        return (self.blobs / digest.split(":")[1]).read_bytes()

    def raw(self, role: str) -> bytes:
        if role == "index":
            return (self.root / "index.json").read_bytes()
        if role == "manifest":
            return self._blob(self.index["manifests"][0]["digest"])
        if role == "config":
            return self._blob(self.manifest["config"]["digest"])
        return self._blob(self.manifest["layers"][int(role[-1])]["digest"])

    def put(self, role: str, data: bytes, *, relink: bool) -> None:
        """Write ``data`` as ``role``; with ``relink``, under its own digest and named so
        by its parents (the damage is in the content); else over the old bytes."""
        if role == "index":
            (self.root / "index.json").write_bytes(data)
            return
        if not relink:
            old = {
                "manifest": lambda: self.index["manifests"][0]["digest"],
                "config": lambda: self.manifest["config"]["digest"],
            }.get(role, lambda: self.manifest["layers"][int(role[-1])]["digest"])()
            (self.blobs / old.split(":")[1]).write_bytes(data)
            return
        digest = _sha(data)
        (self.blobs / digest[7:]).write_bytes(data)
        if role == "manifest":
            self.index["manifests"][0] |= {"digest": digest, "size": len(data)}
            (self.root / "index.json").write_text(json.dumps(self.index))
            return
        if role == "config":
            self.manifest["config"] |= {"digest": digest, "size": len(data)}
        else:
            self.manifest["layers"][int(role[-1])] |= {"digest": digest, "size": len(data)}
        self.put("manifest", json.dumps(self.manifest).encode(), relink=True)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("fuzz-base")
    out = {}
    for compression in ("none", "gzip", "zstd"):
        (base / compression).mkdir()
        out[compression] = make_image(
            base / compression, HISTORY, layout="oci-dir", compression=compression
        ).path
    for layout in ("docker-legacy", "docker-oci"):
        (base / layout).mkdir()
        out[layout] = make_image(base / layout, HISTORY, layout=layout).path
    return out


ROLES = ["index", "manifest", "config", "layer0", "layer1"]


@SETTINGS
@given(data=st.data())
def test_oci_layouts_damaged_anywhere(
    layouts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    compression = data.draw(st.sampled_from(["none", "gzip", "zstd"]))
    role = data.draw(st.sampled_from(ROLES))
    relink = data.draw(st.booleans())
    work = tmp_path_factory.mktemp("fuzz")
    root = Path(shutil.copytree(layouts[compression], work / "layout"))
    layout = _Layout(root)
    layout.put(role, _damage(layout.raw(role), data), relink=relink)
    _run(f"oci-dir:{root}", work / "cache")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a value sits, walked without recursion."""
    found, todo = [], [(prefix, doc)]
    while todo:
        path, value = todo.pop()
        found.append(path)
        if isinstance(value, dict):
            todo.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            todo.extend(((*path, i), v) for i, v in enumerate(value))
    return found


@SETTINGS
@given(data=st.data())
def test_oci_documents_with_absurd_values(
    layouts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Well-formed JSON, digests consistent, a value anywhere replaced (wrong sizes,
    wrong digests, wrong types), or a list entry repeated many times (duplicates, counts)."""
    role = data.draw(st.sampled_from(["index", "manifest", "config"]))
    work = tmp_path_factory.mktemp("fuzz")
    root = Path(shutil.copytree(layouts[data.draw(st.sampled_from(["gzip", "zstd"]))], work / "l"))
    layout = _Layout(root)
    doc = json.loads(layout.raw(role))
    where = data.draw(st.sampled_from(_paths(doc)[1:]))
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    if isinstance(parent, list) and data.draw(st.booleans()):
        parent.extend([parent[where[-1]]] * data.draw(st.sampled_from([1, 2, 5000])))
    else:
        parent[where[-1]] = data.draw(JSON_VALUES)
    layout.put(role, json.dumps(doc).encode(), relink=True)
    _run(f"oci-dir:{root}", work / "cache")


@SETTINGS
@given(data=st.data())
def test_docker_archives_damaged_anywhere(
    layouts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """The whole ``docker save`` tar damaged: its own tar structure, its manifest.json,
    its configs and the layer tars inside it."""
    kind = data.draw(st.sampled_from(["docker-legacy", "docker-oci"]))
    work = tmp_path_factory.mktemp("fuzz")
    archive = work / "save.tar"
    archive.write_bytes(_damage(layouts[kind].read_bytes(), data))
    _run(str(archive), work / "cache")
