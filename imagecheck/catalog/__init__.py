"""Catalogers: plain functions of the image filesystem (Python distributions, Debian
packages, shared libraries). They never see where the image came from.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .dpkg import catalog_debian
    from .elf import catalog_libraries, ld_so_conf_paths
    from .inventory import catalog_image, with_applications
    from .python import catalog_python, mark_applications, python_events
    from .unread import check_unread

__all__ = [
    "catalog_debian",
    "catalog_image",
    "catalog_libraries",
    "catalog_python",
    "check_unread",
    "ld_so_conf_paths",
    "mark_applications",
    "python_events",
    "with_applications",
]

__getattr__ = lazy.interface(__name__, __file__)
