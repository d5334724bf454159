"""Squashed image filesystems from layer tars built in memory, for catalog and imagefs tests."""

from __future__ import annotations

import io
import tarfile

from imagecheck.imagefs import ImageFS
from imagecheck.layerindex import index_tar
from imagecheck.model import HistoryEntry

Spec = tuple[str, str, bytes | str]  # (kind, path, data or link target)


def layer_tar(specs: list[Spec]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for kind, path, data in specs:
            info = tarfile.TarInfo(path)
            if kind == "f":
                payload = data if isinstance(data, bytes) else data.encode()
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
                continue
            if kind == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, str(data)
            elif kind == "h":
                info.type, info.linkname = tarfile.LNKTYPE, str(data)
            tf.addfile(info)
    return buf.getvalue()


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
