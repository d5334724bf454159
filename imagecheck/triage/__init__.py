"""A compose service after a crashloop: the compose project, its containers and logs,
the failure table, and the diagnosis.

This module is the package's interface: other packages import only what it names.
"""

from .check import check_triage
from .compose import ComposeService, find_files, load_project
from .diagnose import commands, gather
from .failures import Failure, classify, load_failures

__all__ = [
    "ComposeService",
    "Failure",
    "check_triage",
    "classify",
    "commands",
    "find_files",
    "gather",
    "load_failures",
    "load_project",
]
