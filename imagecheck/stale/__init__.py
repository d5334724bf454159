"""Is the image what its Dockerfile and build context make today? History alignment,
Dockerfile matching, context hashes and the build cache (legacy and BuildKit).

This module is the package's interface: other packages import only what it names.
"""

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
    "BuildInput",
    "HistoryMatch",
    "StaleFacts",
    "build_state",
    "builder_of",
    "check_stale",
    "copied_files",
    "copy_hashes",
    "declared_packages",
    "match_history",
    "read_dockerfile",
    "requirement_files",
    "stale_verdict",
]
