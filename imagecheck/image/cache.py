"""The on-disk cache: layer indexes by diff_id, image configs and inventories by image id.

Both keys are content digests, so an entry can never go stale; it can only be of an
older format, which the versioned folder name and the file header rule out. A layer
is cached only once its content matched its diff_id; ``verified/`` records, per blob
fingerprint (path, inode, size, times), which diff_id was checked there, so a warm run
that finds a blob changed or gone reads it again (and fails on a mismatch). Writes
go to a temporary file in the same folder and are renamed into place, so two runs
at once never see half a file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import marshal
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

from .. import __version__, model
from .layerindex import INDEX_FORMAT, LayerIndex

_MAGIC = b"ICIDX\x00"
_HEADER = _MAGIC + struct.pack("<HH", INDEX_FORMAT, marshal.version)
_INV_HEADER = b"ICINV\x00" + struct.pack("<H", marshal.version)


_PACKAGE = Path(__file__).resolve().parents[1]
# What an inventory is computed by: the catalogers, the image filesystem and their data.
_CATALOG_CODE = (
    "model.py",
    "image/imagefs.py",
    "image/layerindex.py",
    "image/elf.py",
    "catalog",
    "app",
)


@functools.cache  # the code a process runs does not change under it: stat it once
def _catalog_fingerprint() -> str:
    """A cached inventory is only as good as the code that made it: key it by the
    version and by the size and mtime of every file of that code (stat only, fast),
    so an upgrade or an edited cataloger never reads an old answer."""
    h = hashlib.sha256(f"{__version__}/{INDEX_FORMAT}/{marshal.version}".encode())
    for name in _CATALOG_CODE:
        path = _PACKAGE / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.suffix in (".py", ".toml"):
                st = file.stat()
                h.update(f"{file.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _encode(value: Any) -> Any:
    """Model dataclasses as marshal-able tuples: (class name, field values...)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            *(_encode(getattr(value, f.name)) for f in dataclasses.fields(value)),
        )
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, tuple):
        cls = getattr(model, value[0], None)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ValueError(f"not a model class: {value[0]!r}")  # only model data is ever stored
        return cls(*(_decode(v) for v in value[1:]))
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def default_cache_dir() -> Path:
    explicit = os.environ.get("IMAGECHECK_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "imagecheck"


def _hex(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if not hexpart or not hexpart.isalnum() or algo not in ("sha256", "sha512"):
        raise ValueError(f"not a content digest: {digest!r}")
    return f"{algo}-{hexpart}"


def _stamp_record(stamp: str, diff_id: str) -> bytes:
    """What a verified blob's record holds: the diff_id its content hashed to, and the
    fingerprint of the blob it was read from (a name collision reads as a miss)."""
    return f"{diff_id}\n{stamp}\n".encode("utf-8", "surrogateescape")


class Cache:
    """``Cache(None)`` is the ``--no-cache`` cache: it remembers nothing."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _layer_path(self, diff_id: str) -> Path | None:
        if self.root is None:
            return None
        name = _hex(diff_id)
        return self.root / f"layers-v{INDEX_FORMAT}" / name[7:9] / f"{name}.idx"

    def has_layer(self, diff_id: str) -> bool:
        path = self._layer_path(diff_id)
        return path is not None and path.is_file()

    @staticmethod
    def _load(path: Path | None, header: bytes) -> Any:
        """The marshalled value of a file of ours, or None for a miss.

        Our own files in the user's cache folder; marshal runs no code. A damaged or
        foreign entry is a cache miss, never an error."""
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if not data.startswith(header):
            return None
        try:
            return marshal.loads(data[len(header) :])  # noqa: S302
        except (ValueError, EOFError, TypeError):
            return None

    def get_layer(self, diff_id: str) -> LayerIndex | None:
        data = self._load(self._layer_path(diff_id), _HEADER)
        if data is None:
            return None
        try:
            index = LayerIndex.from_data(data)
        except (ValueError, TypeError, KeyError):
            return None
        return index if index.diff_id == diff_id else None

    def put_layer(self, index: LayerIndex) -> None:
        path = self._layer_path(index.diff_id)
        if path is not None:
            self._write(path, _HEADER + marshal.dumps(index.to_data()))

    def _inventory_path(self, image_id: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / "inventories" / _catalog_fingerprint() / f"{_hex(image_id)}.inv"

    def get_inventory(self, image_id: str) -> model.Inventory | None:
        """The catalog of an image ID: a pure function of its layers and our code."""
        data = self._load(self._inventory_path(image_id), _INV_HEADER)
        try:
            inv = _decode(data)
        except (ValueError, TypeError, KeyError, IndexError):
            return None
        if not isinstance(inv, model.Inventory) or inv.image.id != image_id:
            return None
        return inv

    def put_inventory(self, inv: model.Inventory) -> None:
        path = self._inventory_path(inv.image.id)
        if path is not None:
            self._write(path, _INV_HEADER + marshal.dumps(_encode(inv)))

    def get_blob(self, digest: str) -> bytes | None:
        """Image configs are content-addressed: cached, an engine image needs no export."""
        if self.root is None:
            return None
        try:
            data = (self.root / "blobs" / _hex(digest)).read_bytes()
        except OSError:
            return None
        algo, _, hexpart = digest.partition(":")
        if hashlib.new(algo, data).hexdigest() != hexpart:
            return None  # damaged or not ours: read it again from the image
        return data

    def put_blob(self, digest: str, data: bytes) -> None:
        if self.root is not None:
            self._write(self.root / "blobs" / _hex(digest), data)

    def _stamp_path(self, stamp: str) -> Path | None:
        if self.root is None or not stamp:
            return None
        name = hashlib.sha256(stamp.encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / "verified" / name[:2] / name

    def verified(self, stamp: str, diff_id: str) -> bool:
        """Whether layer ``diff_id`` was read from the blob fingerprinted ``stamp`` and
        its content matched its digests: an unchanged blob needs no new read."""
        path = self._stamp_path(stamp)
        if path is None:
            return False
        try:
            return path.read_bytes() == _stamp_record(stamp, diff_id)
        except OSError:
            return False

    def put_verified(self, stamp: str, diff_id: str) -> None:
        path = self._stamp_path(stamp)
        if path is not None:
            self._write(path, _stamp_record(stamp, diff_id))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only or full cache folder slows the next run; it never fails this one
