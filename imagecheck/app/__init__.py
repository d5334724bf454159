"""The application the image runs: its entry point from CMD, its import, its modules
and its SQLAlchemy mappers, checked in the one smoke container (IC80x).

This module is the package's interface: other packages import only what it names.
"""

from .check import check_app, mapper_subject
from .entry import FASTAPI_DEFAULT_PATHS, expand, find_entry, split_shell
from .plan import image_scripts, plan_entry, runner_config

__all__ = [
    "FASTAPI_DEFAULT_PATHS",
    "check_app",
    "expand",
    "find_entry",
    "image_scripts",
    "mapper_subject",
    "plan_entry",
    "runner_config",
    "split_shell",
]
