"""What a bug-report bundle holds besides the report: the resolved compose config, the
service's and its dependencies' containers (``docker inspect`` and their last logs), the
image's inspect, and the versions of imagecheck and the engine.

Gathered raw, as ``bundle.Member``s: ``bundle.write_bundle`` redacts them. What it learns
here (the compose variables, every service's environment, the secrets' values) tells the
redactor what to look for in the members that do not say which values are secrets.
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import EngineUnavailable, ImageNotFound
from .bundle import LOG_BYTES, LOG_LINES, Member
from .diagnose import service_containers
from .redact import Redactor

if TYPE_CHECKING:
    from ..engine import Engine
    from .compose import ComposeConfig


def _containers(
    engine: Engine, config: ComposeConfig, service: str
) -> tuple[list[Member], list[str]]:
    """Each container of ``service`` and of the services it ``depends_on``."""
    members: list[Member] = []
    notes: list[str] = []
    names = [service, *(d for d, _ in config.project.service(service).depends_on)]
    for name in dict.fromkeys(names):
        found = service_containers(engine, config.project.name, name)
        if not found:
            notes.append(f"service {name} has no container: no logs or inspect output of it")
        for state in found:
            try:
                raw = engine.raw_container(state.id)
                logs = engine.container_logs(state.id, LOG_LINES + 1)
            except ImageNotFound:
                notes.append(f"container {state.name} was removed while the bundle was written")
                continue
            where = f"containers/{state.name}"
            members.append(
                Member(
                    f"{where}/inspect.json", f"docker inspect {state.name} ({name})", raw, "json"
                )
            )
            members.append(
                Member(
                    f"{where}/logs.txt",
                    f"docker logs {state.name} ({name}): stdout and stderr, the last lines",
                    logs,
                    limit=(LOG_LINES, LOG_BYTES),
                    longer=len(logs.splitlines()) > LOG_LINES,
                )
            )
    return members, notes


def evidence(
    engine: Engine | None,
    config: ComposeConfig | None,
    service: str | None,
    image: str | None,
    redactor: Redactor,
    *,
    engine_error: str | None = None,
) -> tuple[tuple[Member, ...], tuple[str, ...]]:
    """The bundle's members besides the report, and notes on what is missing.

    ``engine`` None: no engine (``engine_error`` says why); ``config`` None: no compose
    project (``check TARGET``); ``image``: an engine reference whose inspect to add.
    """
    members: list[Member] = []
    notes: list[str] = []
    versions: dict[str, Any] = {
        "imagecheck": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "engine": None,
    }
    if config is not None:
        redactor.know_pairs(config.variables)
        for _, value in config.secrets:
            redactor.know(value)
        for svc in config.project.services:
            redactor.know_pairs(svc.environment)
        members.append(
            Member(
                "compose/config.yaml",
                "the compose project as resolved: files merged, variables interpolated",
                dict(config.document),
                "yaml",
            )
        )
    if engine is None:
        notes.append(f"no Docker engine ({engine_error or 'unreachable'}): no logs or inspect")
    else:
        try:
            versions["engine"] = engine.info().server_version
            if config is not None and service is not None:
                found, missing = _containers(engine, config, service)
                members += found
                notes += missing
            if image is not None:
                try:
                    raw = engine.raw_image(image)
                except ImageNotFound:
                    notes.append(f"the engine has no image {image}: no image inspect output")
                else:
                    members.append(
                        Member("image/inspect.json", f"docker image inspect {image}", raw, "json")
                    )
        except EngineUnavailable as exc:
            notes.append(f"the engine went away while the bundle was gathered: {exc}")
    members.append(
        Member(
            "versions.json", "imagecheck's, Python's and the engine's versions", versions, "json"
        )
    )
    return tuple(members), tuple(notes)


__all__ = ["evidence"]
