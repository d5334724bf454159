"""What changed between two images (``imagecheck diff OLD NEW``, and triage's "what
changed since"): a pure function of two inventories and their application files.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .compare import command_key, diff_images
    from .debver import compare_debian
    from .files import FileState, app_roots, compare_files, file_states
    from .read import diff_readers

__all__ = [
    "FileState",
    "app_roots",
    "command_key",
    "compare_debian",
    "compare_files",
    "diff_images",
    "diff_readers",
    "file_states",
]

__getattr__ = lazy.interface(__name__, __file__)
