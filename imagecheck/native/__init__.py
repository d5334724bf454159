"""Native code: NEEDED libraries resolved as ld.so would, ctypes loads, the NumPy C-API
generation, wheel tags; host-provided libraries kept as data.

This module is the package's interface: other packages import only what it names.
"""

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
