"""Catalogers: plain functions of the image filesystem (Python distributions, Debian
packages, shared libraries). They never see where the image came from.

This module is the package's interface: other packages import only what it names.
"""

from .dpkg import catalog_debian
from .elf import catalog_libraries, ld_so_conf_paths
from .python import catalog_python, mark_applications, python_events

__all__ = [
    "catalog_debian",
    "catalog_libraries",
    "catalog_python",
    "ld_so_conf_paths",
    "mark_applications",
    "python_events",
]
