"""What every check sees: the inventory, the constraints, and views derived once."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from ..model import Inventory, PythonDist, SmokeRun, TriageRun, canonical
from ..pins import Constraints

if TYPE_CHECKING:
    from ..app import MigrationRun
    from ..stale import BakedFacts, StaleFacts

_ARCH = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "386": "i686",
    "arm": "armv7l",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
DEFAULT_LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")


@dataclass
class Context:
    inventory: Inventory
    constraints: Constraints = field(default_factory=Constraints)
    unpinned_severity: str = "info"  # or "off", "warning", "error"
    smoke: SmokeRun | None = None  # what the throwaway container found, if it ran
    stale: StaleFacts | None = None  # the Dockerfile and context it should match, if known
    stale_skip: str = "no Dockerfile given (--dockerfile, or a compose service's build:)"
    triage: TriageRun | None = None  # the compose service's containers (imagecheck SERVICE)
    migrations: MigrationRun | None = None  # the migrations on a throwaway database, if run
    baked: BakedFacts | None = None  # build-time values against today's configuration

    @cached_property
    def machine(self) -> str:
        return _ARCH.get(self.inventory.image.platform.architecture, "x86_64")

    @cached_property
    def marker_env(self) -> dict[str, str]:
        """PEP 508 marker values of the image's interpreter, never the host's."""
        interp = self.inventory.interpreter
        version = (interp.version if interp else None) or "3"
        return {
            "python_version": version,
            "python_full_version": f"{version}.0",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "implementation_version": f"{version}.0",
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": self.machine,
            "platform_release": "",
            "platform_version": "",
            "extra": "",
        }

    @cached_property
    def runtime(self) -> list[PythonDist]:
        """Live distributions the runtime interpreter imports (all, if it has none)."""
        on_path = {e.path for e in self.inventory.environments if e.on_runtime_path}
        return [
            d for d in self.inventory.python if d.live and (not on_path or d.environment in on_path)
        ]

    @cached_property
    def by_key(self) -> dict[str, PythonDist]:
        return {canonical(d.name): d for d in self.runtime}

    @cached_property
    def lib_dirs(self) -> tuple[str, ...]:
        """Folders the dynamic loader searches by default: ld.so.conf and the defaults."""
        dirs: list[str] = list(self.inventory.ld_paths)
        multiarch = f"{self.machine}-linux-gnu"
        for base in ("/lib", "/usr/lib", "/usr/local/lib"):
            dirs.append(f"{base}/{multiarch}")
        dirs.extend(DEFAULT_LIB_DIRS)
        return tuple(dict.fromkeys(dirs))

    @cached_property
    def sonames_by_dir(self) -> dict[str, set[str]]:
        """Names a library can be found by, per folder: file names and SONAMEs."""
        out: dict[str, set[str]] = {}
        for lib in self.inventory.libraries:
            folder, _, base = lib.path.rpartition("/")
            names = out.setdefault(folder, set())
            names.add(base)
            if lib.soname:
                names.add(lib.soname)
        return out

    def find_library(self, soname: str, extra_dirs: tuple[str, ...] = ()) -> str | None:
        for folder in (*extra_dirs, *self.lib_dirs):
            folder = posixpath.normpath(folder)
            if soname in self.sonames_by_dir.get(folder, ()):
                return f"{folder}/{soname}"
        return None
