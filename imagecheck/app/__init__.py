"""The application the image runs: its entry point from CMD, its import, its modules
and its SQLAlchemy mappers, checked in the one smoke container (IC80x)."""

from .entry import find_entry

__all__ = ["find_entry"]
