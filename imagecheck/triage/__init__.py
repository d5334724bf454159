"""A compose service after a crashloop: the compose project, its containers and logs,
the failure table, and the diagnosis.

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .bundle import BundleResult, Member, destination, write_bundle
    from .check import check_dependencies, check_triage
    from .compose import (
        ComposeConfig,
        ComposeProject,
        ComposeService,
        find_files,
        load_config,
        load_project,
    )
    from .diagnose import (
        commands,
        database_candidates,
        gather,
        service_baked,
        service_build,
    )
    from .evidence import evidence
    from .failures import Failure, classify, load_failures
    from .redact import Redactor
    from .runenv import RunEnvironment, building_service, given_environment

__all__ = [
    "BundleResult",
    "ComposeConfig",
    "ComposeProject",
    "ComposeService",
    "Failure",
    "Member",
    "Redactor",
    "RunEnvironment",
    "building_service",
    "check_dependencies",
    "check_triage",
    "classify",
    "commands",
    "database_candidates",
    "destination",
    "evidence",
    "find_files",
    "gather",
    "given_environment",
    "load_config",
    "load_failures",
    "load_project",
    "service_baked",
    "service_build",
    "write_bundle",
]

__getattr__ = lazy.interface(__name__, __file__)
