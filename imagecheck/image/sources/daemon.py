"""Images in the local Docker engine: read in place when we can, exported when we must.

``docker save`` of an 800 MB image takes ~15 s before a byte of it is useful. When
the engine stores images with overlay2 on this host and we may read its folders,
``inspect`` names every layer's ``diff`` folder and the image config lies in the
image store: both are read directly, nothing is exported. Otherwise (a remote
engine, Docker Desktop, the containerd store, no permission) the export is read as
one stream and each layer's diff_id is computed while it is indexed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, TypeVar

from ...engine import Engine, EngineImage
from ...errors import CorruptArchive, EngineUnavailable
from ...model import ImageInfo, short
from ..cache import Cache
from ..layerindex import LayerIndex, index_directory, index_tar, read_folder, sha256_of
from ..streams import Digesting, decompressed
from .base import Progress, ProgressFn, image_info, load_json

_T = TypeVar("_T")


def _layer_dirs(image: EngineImage) -> tuple[str, ...] | None:
    """overlay2 diff folders bottom to top, when they are on this host and readable."""
    dirs = image.layer_dirs
    if not dirs or len(dirs) != len(image.diff_ids):
        return None
    if not all(os.path.isdir(d) and os.access(d, os.R_OK | os.X_OK) for d in dirs):
        return None
    return dirs


class DaemonSource:
    def __init__(
        self,
        engine: Engine,
        name: str,
        cache: Cache,
        progress: ProgressFn,
        *,
        ref: str | None = None,
        direct: bool = True,
        close_engine: bool = True,
    ) -> None:
        """Open engine image ``name``; ``ref`` is how reports name it (default ``name``);
        ``close_engine`` False: the engine is the caller's, still open after ``close()``."""
        self._engine = engine
        self._close_engine = close_engine
        self._cache = cache
        self._progress = progress
        self._notes: list[str] = []
        ref = ref or name
        self._inspect = engine.inspect_image(name)
        self._id = self._inspect.id
        self._dirs = _layer_dirs(self._inspect) if direct else None
        self._read = False  # whether any layer was read (else the notes say none was)
        self._why_export = (
            "asked for" if not direct else "the engine's overlay2 folders are not readable here"
        )
        self._exported: dict[str, LayerIndex] | None = None
        self._ref = ref
        tags = self._inspect.repo_tags
        config = self._config_bytes()
        self._info = image_info(
            load_json(config, "image config"), ref=ref, image_id=self._id, repo_tags=tags
        )
        self._notes.insert(0, f"engine image {short(self._id)} ({', '.join(tags) or 'untagged'})")

    def _config_bytes(self) -> bytes:
        cached = self._cache.get_blob(self._id)
        if cached is not None:
            return cached
        if self._dirs is not None:
            root = self._engine.info().root_dir
            algo, _, hexpart = self._id.partition(":")
            path = Path(root) / "image" / "overlay2" / "imagedb" / "content" / algo / hexpart
            try:
                data = path.read_bytes()
            except OSError:
                pass
            else:
                if hashlib.sha256(data).hexdigest() == hexpart:
                    self._cache.put_blob(self._id, data)
                    return data
        config, layers = self._export()
        self._exported = layers
        self._cache.put_blob(self._id, config)
        return config

    @functools.cached_property
    def _dir_of(self) -> dict[str, str]:
        """Each layer's overlay2 folder by diff_id (none when read by export)."""
        return dict(zip(self._info.diff_ids, self._dirs or (), strict=False))

    def image(self) -> ImageInfo:
        return self._info

    def notes(self) -> tuple[str, ...]:
        if self._read:
            return tuple(self._notes)
        return (*self._notes, "every layer was indexed before: nothing read from the engine")

    def index_layers(self, diff_ids: Iterable[str], progress: ProgressFn) -> Iterator[LayerIndex]:
        wanted = list(dict.fromkeys(diff_ids))
        if not wanted:
            return
        if self._exported is None and self._dirs is not None:
            self._notes.append("layers read in place from the engine's overlay2 folders")
            self._read = True
            for n, diff_id in enumerate(wanted):
                progress(Progress("index", n, len(wanted), short(diff_id)))
                yield index_directory(self._dir_of[diff_id], diff_id)
            progress(Progress("index", len(wanted), len(wanted)))
            return
        if self._exported is None:
            _, self._exported = self._export()
        for diff_id in wanted:
            found = self._exported.get(diff_id)
            if found is None:
                raise CorruptArchive(f"the engine's export lacks layer {short(diff_id)}")
            yield found

    def stamps(self) -> dict[str, str]:
        """None: the engine verified its layers when it pulled or built them, and the
        export stream is hashed as it is read (a layer is keyed by what it hashes to)."""
        return {}

    def file_digests(self, diff_id: str, paths: set[str]) -> dict[str, str]:
        """The sha256 of files of one layer, read in place from its overlay2 folder a
        chunk at a time; with the export stream only, nothing (the caller says so)."""
        return self.read_files(diff_id, paths, sha256_of)

    def read_files(
        self, diff_id: str, paths: set[str], read: Callable[[IO[bytes]], _T]
    ) -> dict[str, _T]:
        """In place from the layer's overlay2 folder; with the export stream, nothing."""
        folder = self._dir_of.get(diff_id)
        return {} if folder is None else read_folder(folder, paths, read)

    def _export(self) -> tuple[bytes, dict[str, LayerIndex]]:
        """Read ``docker save`` as one stream: every layer indexed, the config kept."""
        self._notes.append(f"layers read from the engine's export stream ({self._why_export})")
        self._read = True
        total = self._inspect.size

        def done(count: int, diff_id: str) -> None:
            self._progress(Progress("export", count, max(total, count), short(diff_id)))

        stream = self._engine.export_image(self._id)
        return index_save_stream(stream, self._id, "the engine's export", done)

    def close(self) -> None:
        if self._close_engine:
            self._engine.close()


def index_save_stream(
    stream: IO[bytes], image_id: str, what: str, done: Callable[[int, str], None]
) -> tuple[bytes, dict[str, LayerIndex]]:
    """Read a ``docker save`` (or ``podman image save``) archive as one stream, never to
    disk: every layer indexed and keyed by what it hashes to, the config kept and checked
    against ``image_id``; ``done(bytes, diff_id)`` after each layer."""
    json_blobs: dict[str, bytes] = {}
    indexes: dict[str, LayerIndex] = {}
    count = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as outer:
            for member in outer:
                if not member.isreg():
                    continue
                fh = outer.extractfile(member)
                if fh is None:
                    continue
                name = member.name
                if (
                    name.endswith(".json")
                    or name in ("repositories", "index.json")
                    or (
                        member.size < (1 << 20)
                        and not name.endswith("layer.tar")
                        and fh.peek(1)[:1] == b"{"  # type: ignore[attr-defined]
                    )
                ):
                    json_blobs[name] = fh.read()
                    continue
                if name.endswith(("/VERSION", "/json", "oci-layout")):
                    continue
                plain, _ = decompressed(fh)
                hashing = Digesting(plain)
                reader = io.BufferedReader(hashing, 1 << 20)
                index = index_tar(reader, "sha256:pending")
                while reader.read(1 << 20):
                    pass
                diff_id = hashing.digest()  # the layer is keyed by what it hashes to
                indexes[diff_id] = replace(index, diff_id=diff_id)
                count += member.size
                done(count, diff_id)
    except EngineUnavailable:
        raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorruptArchive(f"{what} stream is damaged: {exc}") from exc
    algo, _, hexpart = image_id.partition(":")
    config = json_blobs.get(f"{hexpart}.json") or json_blobs.get(f"blobs/{algo}/{hexpart}")
    if config is None:
        raise CorruptArchive(f"{what} lacks the image config {short(image_id)}")
    if f"{algo}:{hashlib.sha256(config).hexdigest()}" != image_id:
        raise CorruptArchive(f"{what} holds a config that is not {short(image_id)}")
    return config, indexes
