"""Is the image what its Dockerfile and build context make today? History alignment,
Dockerfile matching, context hashes and the build cache (legacy and BuildKit).

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .baked import BakedFacts, FileReader, baked_facts, check_baked, rebuild_for
    from .build import BuildRequest, LayerReader, stale_facts
    from .check import check_stale
    from .facts import (
        CACHE_AGE_DAYS,
        BuildInput,
        StaleFacts,
        build_state,
        builder_of,
        copied_files,
        copy_hashes,
        declared_packages,
        match_history,
        read_dockerfile,
        requirement_files,
        stale_verdict,
    )
    from .history import HistoryMatch

__all__ = [
    "CACHE_AGE_DAYS",
    "BakedFacts",
    "BuildInput",
    "BuildRequest",
    "FileReader",
    "HistoryMatch",
    "LayerReader",
    "StaleFacts",
    "baked_facts",
    "build_state",
    "builder_of",
    "check_baked",
    "check_stale",
    "copied_files",
    "copy_hashes",
    "declared_packages",
    "match_history",
    "read_dockerfile",
    "rebuild_for",
    "requirement_files",
    "stale_facts",
    "stale_verdict",
]

__getattr__ = lazy.interface(__name__, __file__)
