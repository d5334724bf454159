"""Smoke tests: the host side (plan, run one throwaway container, read results) and
``probe/``, the stdlib-only runner that executes inside the image.

This module is the package's interface: other packages import only what it names.
"""

from .check import check_smoke
from .run import SmokeOptions, app_entry, run_smoke, runner_source

__all__ = ["SmokeOptions", "app_entry", "check_smoke", "run_smoke", "runner_source"]
