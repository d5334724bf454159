"""The check framework: what every check sees (``Context``) and how a list of checks runs.

A check is a pure function of a context returning findings with stable codes; the checks
themselves live in their concepts' packages (pins, native, smoke, stale, triage) and
``imagecheck.suite`` lists them. ``lint`` runs its own list through the same runner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .context import Context
    from .runner import Check, run_selected

__all__ = ["Check", "Context", "run_selected"]

__getattr__ = lazy.interface(__name__, __file__)
