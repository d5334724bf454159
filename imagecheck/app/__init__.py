"""The application the image runs: its entry point from CMD, its import, its modules
and its SQLAlchemy mappers, checked in the one smoke container (IC80x)."""

from .check import check_app
from .entry import find_entry
from .plan import image_scripts, plan_entry, runner_config

__all__ = ["check_app", "find_entry", "image_scripts", "plan_entry", "runner_config"]
