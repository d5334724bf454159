"""The check framework: what every check sees (``Context``) and how a list of checks runs.

A check is a pure function of a context returning findings with stable codes; the checks
themselves live in their concepts' packages (pins, native, smoke, stale, triage) and
``imagecheck.suite`` lists them. ``lint`` runs its own list through the same runner.
"""

from .context import Context
from .runner import Check, run_selected

__all__ = ["Check", "Context", "run_selected"]
