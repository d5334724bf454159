"""The image as data: sources (archive, OCI, engine), the layer index, the squashed
filesystem, the layer cache and blob streams. Layers are read once, as streams, never extracted.

This module is the package's interface: other packages import only what it names.
"""

from .cache import Cache, default_cache_dir
from .elf import MARKERS
from .imagefs import ImageFS
from .layerindex import FILE, LayerIndex, sha256_of
from .sources.archive import open_docker_archive
from .sources.base import Progress, ProgressFn, Source, no_progress
from .sources.daemon import DaemonSource
from .sources.oci import open_oci, parse_platform

__all__ = [
    "FILE",
    "MARKERS",
    "Cache",
    "DaemonSource",
    "ImageFS",
    "LayerIndex",
    "Progress",
    "ProgressFn",
    "Source",
    "default_cache_dir",
    "no_progress",
    "open_docker_archive",
    "open_oci",
    "parse_platform",
    "sha256_of",
]
