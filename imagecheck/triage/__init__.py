"""A compose service after a crashloop: the compose project, its containers and logs,
the failure table, and the diagnosis.

This module is the package's interface: other packages import only what it names.
"""

from .check import check_dependencies, check_triage
from .compose import ComposeProject, ComposeService, find_files, load_project
from .diagnose import commands, database_candidates, gather, service_build
from .failures import Failure, classify, load_failures

__all__ = [
    "ComposeProject",
    "ComposeService",
    "Failure",
    "check_dependencies",
    "check_triage",
    "classify",
    "commands",
    "database_candidates",
    "find_files",
    "gather",
    "load_failures",
    "load_project",
    "service_build",
]
