"""The read-ahead thread a layer is read through: same bytes, errors in order, and no
thread left behind however the read ends."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import IO, cast

import pytest

from imagecheck.api import Options, inventory
from imagecheck.errors import CorruptArchive
from imagecheck.image.streams import CHUNK, PREFETCH_DEPTH, Prefetch
from tests.builders import SITE, F, Layer, layer_blob, make_image, metadata


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "imagecheck-prefetch"]


class _Failing(io.RawIOBase):
    """``good`` bytes, then an error, as a cut-short gzip stream raises it."""

    def __init__(self, good: bytes) -> None:
        self._good = io.BytesIO(good)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._good.readinto(b)
        if not n:
            raise EOFError("compressed data ended before the end-of-stream marker")
        return n


def test_the_bytes_come_through_whole_and_in_order() -> None:
    data = os.urandom(5 * CHUNK + 123)
    reader = io.BufferedReader(Prefetch(io.BytesIO(data)), 4096)
    got = b"".join(iter(lambda: reader.read(7777), b""))
    assert got == data
    assert not _prefetch_threads()


def test_an_error_of_the_source_is_raised_to_the_reader_after_its_bytes() -> None:
    good = os.urandom(2 * CHUNK)
    ahead = Prefetch(cast(IO[bytes], _Failing(good)))
    reader = io.BufferedReader(ahead, CHUNK)
    assert reader.read(len(good)) == good
    with pytest.raises(EOFError, match="end-of-stream marker"):
        reader.read(1)
    assert isinstance(ahead.error, EOFError)
    assert not _prefetch_threads()


def test_stop_ends_a_thread_blocked_on_a_full_queue() -> None:
    ahead = Prefetch(io.BytesIO(bytes((PREFETCH_DEPTH + 4) * CHUNK)))
    time.sleep(0.3)  # the queue fills; the thread waits to put the next chunk
    assert _prefetch_threads()
    start = time.monotonic()
    ahead.stop()
    assert time.monotonic() - start < 5
    assert not _prefetch_threads()


@pytest.mark.parametrize("cut", [0.3, 0.9])
def test_a_layer_cut_short_leaves_no_thread_behind(tmp_path: Path, cut: float) -> None:
    files = [F(f"{SITE}/big-1.0.dist-info/METADATA", metadata("big", "1.0"))]
    files += [F(f"data/{n}.bin", os.urandom(200_000)) for n in range(20)]
    built = make_image(tmp_path, [Layer(files)], layout="oci-dir", compression="gzip")
    blob = layer_blob(built.path, 0)
    data = blob.read_bytes()
    blob.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CorruptArchive):
        inventory(f"oci-dir:{built.path}", Options(use_cache=False))
    assert not _prefetch_threads()
