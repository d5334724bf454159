"""Which build an image is judged by, and the facts the staleness checks read about it:
the Dockerfile and context (given, a compose service's ``build:``, or ``./Dockerfile``
when the history matches it), the context's files against the image's copies, and the
base image and build cache from the engine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from ..dockerfile import parse
from ..engine import Shared, shared
from ..errors import BadInput, EngineUnavailable
from ..image import LayerIndex
from ..model import Inventory, LayerRef
from .facts import (
    CACHE_AGE_DAYS,
    BuildInput,
    StaleFacts,
    build_state,
    builder_of,
    copied_files,
    copy_hashes,
    declared_packages,
    match_history,
    read_dockerfile,
    requirement_files,
)
from .history import HistoryMatch


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """What the user said about the build: flags, or a compose service's ``build:``."""

    dockerfile: Path | None = None
    context: Path | None = None
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    service: str | None = None
    how: str = ""
    cwd: Path = Path()
    cache_age_days: float | None = None  # None: CACHE_AGE_DAYS
    engine: bool = True  # read the base image and build cache from the engine

    def context_folder(self, facts: StaleFacts | None) -> Path | None:
        """The build context pins are looked for in: the one the staleness checks use,
        else the given one, else ``./Dockerfile``'s folder."""
        context = facts.build.context if facts is not None else None
        context = context or self.context or (self.dockerfile.parent if self.dockerfile else None)
        if context is None and (self.cwd / "Dockerfile").is_file():
            context = self.cwd
        return context


class LayerReader(Protocol):
    """What the staleness checks read of the image's layers (``image.ImageReader``)."""

    def indexes(self, diff_ids: list[str]) -> dict[str, LayerIndex]: ...

    def digests(self, diff_id: str, paths: set[str]) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class _Chosen:
    """The Dockerfile and context to judge the image by, read and matched once."""

    build: BuildInput
    text: str
    match: HistoryMatch


def _choose_build(req: BuildRequest, inv: Inventory) -> _Chosen | str:
    """The build to judge the image by, or why there is none.

    Given ones are used as they are; ``./Dockerfile`` and ``.`` only when the image's
    history matches most of its final stage, so a folder's unrelated Dockerfile never
    turns into a wall of false alarms."""
    given = req.dockerfile is not None or req.context is not None
    if given:
        context = req.context or (req.dockerfile.parent if req.dockerfile else req.cwd)
        dockerfile = req.dockerfile or context / "Dockerfile"
        how = req.how or "--dockerfile/--context"
        build = BuildInput(dockerfile, context, req.args, req.target, req.service, how)
        if not context.is_dir():
            raise BadInput(f"the build context {context} is not a folder")
    else:
        candidate = req.cwd / "Dockerfile"
        if not candidate.is_file():
            return "no Dockerfile given (--dockerfile, --context) and none in this folder"
        build = BuildInput(candidate, req.cwd, req.args, req.target, req.service, "")
    try:
        text = read_dockerfile(build)
        match = match_history(build, text, inv.image.history)
    except BadInput as exc:
        if given:
            raise
        return f"./Dockerfile cannot be read ({exc})"
    if not given:
        same = sum(1 for s in match.steps if s.status == "same" and s.line is not None)
        own = sum(1 for s in match.steps if s.line is not None)
        if not own or same * 2 < own:
            return (
                f"./Dockerfile matches {same} of its {own} steps in this image's history: "
                "not its Dockerfile? (--dockerfile to say it is)"
            )
        build = replace(
            build, how=f"./Dockerfile: {same} of its {own} steps match the image's history"
        )
    return _Chosen(build, text, match)


def stale_facts(
    reader: LayerReader,
    inv: Inventory,
    req: BuildRequest,
    engine: Shared | None = None,
) -> tuple[StaleFacts | None, str]:
    """The facts the staleness checks judge by, or ``None`` and why there are none."""
    chosen = _choose_build(req, inv)
    if isinstance(chosen, str):
        return None, chosen
    build, text, match = chosen.build, chosen.text, chosen.match
    stage = parse(text, dict(build.args)).stage(build.target)
    copies = [
        s.entry.diff_id
        for s in match.steps
        if s.keyword in ("COPY", "ADD") and s.entry is not None and s.entry.diff_id
    ]
    refs = {e.index: LayerRef(e.index, e.created_by, e.diff_id) for e in inv.image.history}
    files = copied_files(match, stage, build, reader.indexes(copies), refs, digests=reader.digests)
    state, note = None, "the build cache and base image were not read (--no-engine)"
    if req.engine:
        with shared(engine) as once:
            try:
                connected = once.get()
            except EngineUnavailable as exc:
                note = f"no Docker engine: base image and build cache not checked ({exc})"
            else:
                state = build_state(connected, match, inv.image, builder_of(inv.image.history))
                note = ""
    return (
        StaleFacts(
            build,
            match,
            files,
            copy_hashes(match, build, refs),
            declared_packages(stage),
            requirement_files(stage, files, build),
            state,
            note,
            CACHE_AGE_DAYS if req.cache_age_days is None else req.cache_age_days,
        ),
        "",
    )
