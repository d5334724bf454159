"""The image as data: sources (archive, OCI, engine), the layer index, the squashed
filesystem, the layer cache and blob streams. Layers are read once, as streams, never extracted.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .cache import Cache, default_cache_dir
    from .elf import MARKERS
    from .imagefs import ImageFS
    from .layerindex import FILE, LayerIndex, search_stream, sha256_of
    from .reader import ImageReader, Options
    from .sources.archive import open_docker_archive
    from .sources.base import Progress, ProgressFn, Source, no_progress
    from .sources.containerd import open_containerd
    from .sources.daemon import DaemonSource
    from .sources.oci import open_oci, parse_platform
    from .sources.podman import open_podman

__all__ = [
    "FILE",
    "MARKERS",
    "Cache",
    "DaemonSource",
    "ImageFS",
    "ImageReader",
    "LayerIndex",
    "Options",
    "Progress",
    "ProgressFn",
    "Source",
    "default_cache_dir",
    "no_progress",
    "open_containerd",
    "open_docker_archive",
    "open_oci",
    "open_podman",
    "parse_platform",
    "search_stream",
    "sha256_of",
]

__getattr__ = lazy.interface(__name__, __file__)
