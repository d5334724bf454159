"""A compose service after a crashloop: the compose project, its containers and logs,
the failure table, and the diagnosis.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .check import check_dependencies, check_triage
    from .compose import ComposeProject, ComposeService, find_files, load_project
    from .diagnose import commands, database_candidates, gather, service_build
    from .failures import Failure, classify, load_failures
    from .runenv import RunEnvironment, building_service, given_environment

__all__ = [
    "ComposeProject",
    "ComposeService",
    "Failure",
    "RunEnvironment",
    "building_service",
    "check_dependencies",
    "check_triage",
    "classify",
    "commands",
    "database_candidates",
    "find_files",
    "gather",
    "given_environment",
    "load_failures",
    "load_project",
    "service_build",
]

__getattr__ = lazy.interface(__name__, __file__)
