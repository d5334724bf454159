"""Squashed image filesystems from layer tars built in memory, for catalog and imagefs tests."""

from __future__ import annotations

import io

from imagecheck.image.imagefs import ImageFS
from imagecheck.image.layerindex import index_tar
from imagecheck.model import HistoryEntry
from tests import builders
from tests.builders import F

Spec = tuple[str, str, bytes | str]  # (kind, path, data or link target)


_KINDS = {"f": "file", "d": "dir", "l": "symlink", "h": "hardlink"}


def layer_tar(specs: list[Spec]) -> bytes:
    """The layer tar of ``specs``, written by the archive builder (``tests.builders``)."""
    entries = []
    for kind, path, data in specs:
        if kind in ("l", "h"):
            entries.append(F(path, kind=_KINDS[kind], link=str(data)))
        else:
            payload = data if isinstance(data, bytes) else data.encode()
            entries.append(F(path, payload, kind=_KINDS[kind]))
    return builders.layer_tar(entries)


def image_fs(*layers: list[Spec], commands: list[str] | None = None) -> ImageFS:
    """One layer per spec list, bottom first; history entry n made layer n."""
    history, indexes = [], []
    for n, specs in enumerate(layers):
        diff_id = f"sha256:{n:064x}"
        indexes.append(index_tar(io.BytesIO(layer_tar(specs)), diff_id, seekable=True))
        history.append(
            HistoryEntry(n, None, commands[n] if commands else f"RUN step {n}", "", False, diff_id)
        )
    return ImageFS(history, indexes)
