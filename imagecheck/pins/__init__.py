"""What the image must satisfy: constraints and lock files, the pin check, and the known
incompatibilities kept as data (``known_issues.toml``).

This module is the package's interface: other packages import only what it names.
"""

from .check import applies, check_duplicates, check_pins, check_requires, pin_sources, satisfies
from .compat import check_known
from .constraints import (
    Constraints,
    Pin,
    context_projects,
    discover,
    load_constraints,
    read_requirements,
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
]
