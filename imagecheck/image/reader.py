"""One image for one command: the target's source opened once and kept open for every
step that reads it (the inventory, the staleness checks' file digests), its layers
indexed once: from the cache by diff_id, the rest read from the source and cached."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from ..engine import Shared
from ..errors import BadInput
from ..model import ImageInfo, Platform
from ..target import CONTAINERD, DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR, PODMAN, REGISTRY, Target
from .cache import Cache, default_cache_dir
from .layerindex import LayerIndex
from .sources.base import ProgressFn, Source, no_progress

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Options:
    cache_dir: Path | None = None  # None: the default cache folder
    use_cache: bool = True
    platform: Platform | None = None  # None: the host's, for multi-platform indexes
    engine_read: str = "auto"  # "auto": overlay2 folders when readable; "export": always export
    insecure_registries: tuple[str, ...] = ()  # hosts read over plain HTTP (loopback always is)
    registry_timeout: float = 30.0  # seconds a registry may stay silent


def open_source(
    target: Target,
    options: Options,
    cache: Cache,
    progress: ProgressFn,
    engine: Shared | None = None,
) -> Source:
    """The source for a target (with ``engine``, the pipeline's: the source leaves it
    open). The engine source's modules load only for engine targets."""
    path = Path(target.location)
    if target.kind == REGISTRY:  # http.client and ssl (50 ms) load only for registries
        from .sources.registry import open_registry

        return open_registry(
            target.location,
            cache=cache,
            platform=options.platform,
            insecure=options.insecure_registries,
            timeout=options.registry_timeout,
        )
    if target.kind == DOCKER_ARCHIVE:
        from .sources.archive import open_docker_archive

        return open_docker_archive(path, ref=target.text, tag=target.tag, platform=options.platform)
    if target.kind in (OCI_DIR, OCI_ARCHIVE):
        from .sources.oci import open_oci

        return open_oci(
            path, ref=target.text, platform=options.platform, archive=target.kind == OCI_ARCHIVE
        )
    if target.kind == CONTAINERD:
        from .sources.containerd import open_containerd

        return open_containerd(target.location, ref=target.text, platform=options.platform)
    if target.kind == PODMAN:
        from .sources.podman import open_podman

        return open_podman(target.location, ref=target.text, platform=options.platform)
    from .sources.daemon import DaemonSource

    if options.engine_read not in ("auto", "export"):
        raise BadInput(f"unknown engine read mode {options.engine_read!r}")
    once = engine or Shared()
    try:
        return DaemonSource(
            once.get(),
            target.location,
            cache,
            progress,
            ref=target.text,
            direct=options.engine_read == "auto",
            close_engine=engine is None,
        )
    except BaseException:
        if engine is None:
            once.close()
        raise


class ImageReader:
    """The image a command reads: its source opened when first needed, once, and closed
    with the reader; ``engine`` is the pipeline's connection (left open)."""

    def __init__(
        self,
        target: Target,
        options: Options | None = None,
        progress: ProgressFn = no_progress,
        engine: Shared | None = None,
    ) -> None:
        self.target = target
        self.options = options or Options()
        opts = self.options
        self.cache = Cache((opts.cache_dir or default_cache_dir()) if opts.use_cache else None)
        self._progress = progress
        self._engine = engine
        self._source: Source | None = None
        self._info: ImageInfo | None = None
        self._stamps_of: dict[str, str] | None = None
        self._fresh: dict[str, LayerIndex] = {}  # read (and verified) by this reader

    def source(self) -> Source:
        if self._source is None:
            self._source = open_source(
                self.target, self.options, self.cache, self._progress, self._engine
            )
        return self._source

    def info(self) -> ImageInfo:
        if self._info is None:
            self._info = self.source().image()
        return self._info

    def _stamps(self) -> dict[str, str]:
        if self._stamps_of is None:
            self._stamps_of = self.source().stamps()
        return self._stamps_of

    def verify(self) -> None:
        """Stat each layer's blob before anything is trusted: one changed or gone since it
        was verified is read (and checked) again, even under a cached catalog."""
        stamps = self._stamps()
        self.indexes([d for d, s in stamps.items() if not self.cache.verified(s, d)])

    def indexes(self, diff_ids: Iterable[str]) -> dict[str, LayerIndex]:
        """Layer indexes by diff_id: from the cache, the rest read from the source (opened
        only when something is missing) and cached. A cached layer whose blob changed
        since it was verified there (the source's stamps) is read again."""
        wanted = list(dict.fromkeys(diff_ids))
        stamps = self._stamps() if wanted else {}
        found = {d: self._fresh[d] for d in wanted if d in self._fresh}
        for d in wanted:
            if d in found or (stamps and not self.cache.verified(stamps.get(d, ""), d)):
                continue
            if (index := self.cache.get_layer(d)) is not None:
                found[d] = index
        missing = [d for d in wanted if d not in found]
        if missing:
            for index in self.source().index_layers(missing, self._progress):
                self.cache.put_layer(index)
                if index.diff_id in stamps:
                    self.cache.put_verified(stamps[index.diff_id], index.diff_id)
                self._fresh[index.diff_id] = index
                found[index.diff_id] = index
        return found

    def digests(self, diff_id: str, paths: set[str]) -> dict[str, str]:
        """The sha256 of some files of one layer, where the source can read them in place."""
        return self.source().file_digests(diff_id, paths)

    def read_files(
        self, diff_id: str, paths: set[str], read: Callable[[IO[bytes]], _T]
    ) -> dict[str, _T]:
        """``read`` of some files of one layer, each a stream, where the source can read them."""
        return self.source().read_files(diff_id, paths, read)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
