"""Facts about the host that shape the commands imagecheck suggests.

Findings and verdicts spell their commands one way, as Compose v2 and a BuildKit engine
take them (``docker compose build``, ``docker build``): the report is the same on every
machine. ``spell`` rewrites such a command for this host: ``docker-compose`` where only
Compose v1 is installed, and ``DOCKER_BUILDKIT=1`` before a build where the image was
built with BuildKit but a plain build here would use the legacy builder (an engine older
than 23, or ``DOCKER_BUILDKIT=0``), which would not rebuild the same image.

Each fact is found once per process and only when a command is spelled: a ``which``
lookup, at most one ``docker compose version``, and the engine's version only for a
build command of a BuildKit image.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from .model import HistoryEntry

V2, V1 = "docker compose", "docker-compose"
BUILDKIT = "DOCKER_BUILDKIT=1 "
_COMPOSE = re.compile(r"(?<![\w-])docker compose(?= )")
#: ``docker build`` and ``docker compose build``, not ``docker builder``.
_BUILD = re.compile(r"(?<![\w=-])docker(?: compose)? build(?=[\s).,;]|$)")
_LEGACY_BEFORE = 23  # the engine's major version where BuildKit became the default builder


@functools.cache
def compose_command() -> str:
    """``docker compose`` where Compose v2 answers, else ``docker-compose`` where v1 is
    installed; with neither, v2's spelling (what the Docker documentation says)."""
    v1 = shutil.which(V1)
    docker = shutil.which("docker")
    if v1 is None:
        return V2
    if docker is None:
        return V1
    try:
        done = subprocess.run(
            [docker, "compose", "version"],
            capture_output=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return V1
    return V2 if done.returncode == 0 else V1


def built_with_buildkit(history: Sequence[HistoryEntry]) -> bool:
    """Whether the image's own build ran on BuildKit (``stale.builder_of`` decides)."""
    from .stale import builder_of

    return builder_of(history) == "buildkit"


def _env_buildkit(environ: Mapping[str, str]) -> bool | None:
    value = environ.get("DOCKER_BUILDKIT", "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return None


@functools.cache
def _engine_major() -> int | None:
    """The engine's major version, or None when it cannot be asked."""
    from .engine import connect
    from .errors import ImagecheckError

    try:
        engine = connect()
        try:
            version = engine.info().server_version
        finally:
            engine.close()
    except ImagecheckError:
        return None
    major = re.match(r"\d+", version)
    return int(major.group()) if major else None


def legacy_builds(compose: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a plain ``docker build`` (``compose``: the compose command's ``build``) uses
    the legacy builder here. Compose v2 builds with BuildKit unless ``DOCKER_BUILDKIT=0``;
    the docker CLI and Compose v1 follow ``DOCKER_BUILDKIT``, else the engine's default."""
    chosen = _env_buildkit(os.environ if environ is None else environ)
    if chosen is not None:
        return not chosen
    if compose and compose_command() == V2:
        return False
    major = _engine_major()
    return major is not None and major < _LEGACY_BEFORE


def spell(command: str, buildkit_image: bool) -> str:
    """``command`` (a command or a hint that holds some) as this host runs it."""
    if "docker build" not in command and "docker compose" not in command:
        return command  # the warm path: no lookup at all

    def build(match: re.Match[str]) -> str:
        text = match.group()
        compose = text.startswith(V2)
        if not buildkit_image or command[: match.start()].endswith(BUILDKIT):
            return text
        return BUILDKIT + text if legacy_builds(compose) else text

    if buildkit_image:
        command = _BUILD.sub(build, command)
    if compose_command() == V1:
        command = _COMPOSE.sub(V1, command)
    return command
