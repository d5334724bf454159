"""Smoke tests: the host side (plan, run one throwaway container, read results) and
``probe/``, the stdlib-only runner that executes inside the image.

This module is the package's interface: other packages import only what it names.
"""

from .check import check_smoke
from .run import SmokeOptions, run_smoke

__all__ = ["SmokeOptions", "check_smoke", "run_smoke"]
