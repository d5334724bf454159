"""The environment an image runs with, for ``check``: what the user gives (``--env``,
``--env-file``) and what the compose service that builds the image sets.

Why: a healthy application often cannot even be imported with the image's own ``ENV``
(pydantic settings that need ``POSTGRES_SERVER``, ``os.environ["SECRET_KEY"]``): the
values come at deploy time from compose's ``environment:``/``env_file:``. ``check``
run beside the project's compose file should import it the way compose runs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .compose import ComposeService, load_project, read_env_file


@dataclass(frozen=True, slots=True)
class RunEnvironment:
    """Variables for the smoke container, in the order they apply (a later one wins),
    and where they came from (shown with the smoke run)."""

    pairs: tuple[tuple[str, str], ...] = ()
    sources: tuple[str, ...] = ()
    note: str = ""  # why a compose file nearby was not used, when one was there


def given_environment(
    env_files: Sequence[Path] = (),
    env: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> RunEnvironment:
    """``--env-file FILE`` (compose's ``env_file`` syntax) then ``--env NAME[=VALUE]``
    (a bare name takes this process's value, as ``docker run -e NAME`` does)."""
    here = os.environ if environ is None else environ
    pairs: list[tuple[str, str]] = []
    sources: list[str] = []
    for path in env_files:
        if not path.is_file():
            raise BadInput(f"--env-file: no such file: {path}")
        pairs += read_env_file(path, here).items()
        sources.append(f"--env-file {path}")
    names = []
    for item in env:
        name, sep, value = item.partition("=")
        if not name or any(c.isspace() for c in name):
            raise BadInput(f"--env {item!r}: expected NAME=VALUE or NAME")
        if not sep:
            if name not in here:
                continue  # docker run -e NAME leaves an unset NAME out too
            value = here[name]
        pairs.append((name, value))
        names.append(name)
    if names:
        sources.append("--env " + ", ".join(names))
    return RunEnvironment(tuple(pairs), tuple(sources))


def building_service(
    folder: Path,
    context: Path | None,
    references: Sequence[str],
    environ: Mapping[str, str] | None = None,
) -> tuple[RunEnvironment, ComposeService | None]:
    """The compose service that builds this image, found from ``folder`` up as compose
    finds its file: one whose ``build.context`` is ``context``, else one whose ``image:``
    is one of ``references``. A service that overrides ``command:`` (a one-shot such as
    migrations) is taken only when no other matches. Its environment, as compose gives
    it to the container; nothing when there is no such service."""
    try:
        project = load_project(folder, environ=environ)
    except BadInput as exc:
        text = str(exc)
        if text.startswith("no compose file"):
            return RunEnvironment(), None
        return RunEnvironment(note=f"the compose file was not read: {text}"), None
    wanted = {_tagged(r) for r in references if r}
    by_context = [
        s
        for s in project.services
        if context is not None
        and s.build is not None
        and s.build.context is not None
        and s.build.context.resolve() == context.resolve()
    ]
    by_image = [s for s in project.services if wanted & {_tagged(c) for c in s.image_candidates}]
    found = by_context or by_image
    if not found:
        return RunEnvironment(), None
    found.sort(key=lambda s: (s.command is not None, s.name))
    svc = found[0]
    files = ", ".join(_shown(p) for p in project.files)
    how = "build context" if by_context else "image"
    source = f"compose service {svc.name!r} ({files}, by its {how})"
    return RunEnvironment(svc.environment, (source,) if svc.environment else ()), svc


def _tagged(reference: str) -> str:
    """``backend`` and ``backend:latest`` are one reference; a digest is kept whole."""
    name = reference.removeprefix("docker.io/library/").removeprefix("docker.io/")
    if "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return name
    return name + ":latest"


def _shown(path: Path) -> str:
    """The compose file as the user would name it: relative to here when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
