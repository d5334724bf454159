"""Native code: NEEDED libraries resolved as ld.so would, ctypes loads, the NumPy C-API
generation, wheel tags; host-provided libraries kept as data.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .check import (
        check_ctypes,
        check_needed,
        check_numpy_abi,
        check_system_needs,
        check_wheel_tags,
        load_ctypes_map,
        numpy_mismatches,
    )

__all__ = [
    "check_ctypes",
    "check_needed",
    "check_numpy_abi",
    "check_system_needs",
    "check_wheel_tags",
    "load_ctypes_map",
    "numpy_mismatches",
]

__getattr__ = lazy.interface(__name__, __file__)
