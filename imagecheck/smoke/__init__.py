"""Smoke tests: the host side (plan, run one throwaway container, read results) and
``probe/``, the stdlib-only runner that executes inside the image.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .check import check_smoke
    from .run import SmokeOptions, run_smoke, smoke_image

__all__ = ["SmokeOptions", "check_smoke", "run_smoke", "smoke_image"]

__getattr__ = lazy.interface(__name__, __file__)
