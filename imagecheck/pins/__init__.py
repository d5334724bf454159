"""What the image must satisfy: constraints and lock files, the pin check, and the known
incompatibilities kept as data (``known_issues.toml``).

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .check import applies, check_duplicates, check_pins, check_requires, pin_sources, satisfies
    from .compat import check_known
    from .constraints import (
        Constraints,
        Pin,
        context_projects,
        discover,
        load_constraints,
        read_requirements,
        with_context,
    )

__all__ = [
    "Constraints",
    "Pin",
    "applies",
    "check_duplicates",
    "check_known",
    "check_pins",
    "check_requires",
    "context_projects",
    "discover",
    "load_constraints",
    "pin_sources",
    "read_requirements",
    "satisfies",
    "with_context",
]

__getattr__ = lazy.interface(__name__, __file__)
