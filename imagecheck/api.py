"""The library API: open a target, index the layers we lack, catalog the image.

``inventory()`` is what the CLI's ``layers`` and ``inventory`` commands call; it
never prints and reports progress through a callback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BadInput, EngineUnavailable, ImageNotFound
from .image import Cache, LayerIndex, Progress, ProgressFn, Source, default_cache_dir, no_progress
from .model import (
    Change,
    CheckResult,
    Finding,
    Inventory,
    LayerRef,
    LayerSummary,
    LintReport,
    Platform,
    Report,
    SmokeRun,
    StaleVerdict,
)
from .smoke import SmokeOptions
from .target import DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR, Target, parse_target

if TYPE_CHECKING:
    from .checks import Context
    from .engine import Engine
    from .pins import Constraints
    from .stale import BuildInput, HistoryMatch, StaleFacts
    from .triage import ComposeService


@dataclass(frozen=True, slots=True)
class Options:
    cache_dir: Path | None = None  # None: the default cache folder
    use_cache: bool = True
    platform: Platform | None = None  # None: the host's, for multi-platform indexes
    engine_read: str = "auto"  # "auto": overlay2 folders when readable; "export": always export


class _EngineOnce:
    """The one engine connection of a pipeline, opened by the first step that needs it
    (each connect is a ping: a triage made four) and closed when the pipeline ends."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._failed: EngineUnavailable | None = None  # asked once: a down engine stays down

    def get(self) -> Engine:
        if self._failed is not None:
            raise self._failed
        if self._engine is None:
            from .engine import connect

            try:
                self._engine = connect()
            except EngineUnavailable as exc:
                self._failed = exc
                raise
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@contextlib.contextmanager
def _engine_for(shared: _EngineOnce | None) -> Iterator[_EngineOnce]:
    """The pipeline's engine, or (a step called alone) one of the step's own."""
    if shared is not None:
        yield shared
        return
    own = _EngineOnce()
    try:
        yield own
    finally:
        own.close()


def open_source(
    target: Target,
    options: Options,
    cache: Cache,
    progress: ProgressFn,
    engine: _EngineOnce | None = None,
) -> Source:
    """The source for a target (with ``engine``, the pipeline's: the source leaves it
    open). Engine imports stay off the archive paths."""
    path = Path(target.location)
    if target.kind == DOCKER_ARCHIVE:
        from .image import open_docker_archive

        return open_docker_archive(path, ref=target.text, tag=target.tag, platform=options.platform)
    if target.kind in (OCI_DIR, OCI_ARCHIVE):
        from .image import open_oci

        return open_oci(
            path, ref=target.text, platform=options.platform, archive=target.kind == OCI_ARCHIVE
        )
    from .image import DaemonSource

    if options.engine_read not in ("auto", "export"):
        raise BadInput(f"unknown engine read mode {options.engine_read!r}")
    once = engine or _EngineOnce()
    try:
        return DaemonSource(
            once.get(),
            target.location,
            cache,
            progress,
            ref=target.text,
            direct=options.engine_read == "auto",
            close_engine=engine is None,
        )
    except BaseException:
        if engine is None:
            once.close()
        raise


def _load_indexes(
    source: Callable[[], Source],
    diff_ids: Iterable[str],
    cache: Cache,
    progress: ProgressFn,
    stamps: dict[str, str] | None = None,
) -> dict[str, LayerIndex]:
    """Layer indexes by diff_id: from the cache, the rest read from ``source()`` (called
    only when something is missing) and cached. With ``stamps`` (the source's blob
    fingerprints), a cached layer whose blob changed since it was verified is read
    again, and so verified again."""
    found: dict[str, LayerIndex] = {}
    for diff_id in dict.fromkeys(diff_ids):
        if stamps and not cache.verified(stamps.get(diff_id, ""), diff_id):
            continue
        cached = cache.get_layer(diff_id)
        if cached is not None:
            found[diff_id] = cached
    missing = [d for d in dict.fromkeys(diff_ids) if d not in found]
    if missing:
        for index in source().index_layers(missing, progress):
            cache.put_layer(index)
            if stamps and index.diff_id in stamps:
                cache.put_verified(stamps[index.diff_id], index.diff_id)
            found[index.diff_id] = index
    return found


def inventory(
    target: str | Target,
    options: Options | None = None,
    progress: ProgressFn = no_progress,
    *,
    engine: _EngineOnce | None = None,
) -> Inventory:
    """Read ``target`` layer by layer and catalog what it installs (``engine``: the
    pipeline's connection, when it has one)."""
    options = options or Options()
    tgt = parse_target(target) if isinstance(target, str) else target
    cache = Cache((options.cache_dir or default_cache_dir()) if options.use_cache else None)
    source = open_source(tgt, options, cache, progress, engine)
    try:
        info = source.image()
        # Stat each layer's blob before anything is read: a blob changed or gone since
        # it was verified is read (and checked) again, even under a cached catalog.
        stamps = source.stamps()
        unverified = [d for d, s in stamps.items() if not cache.verified(s, d)]
        found = _load_indexes(lambda: source, unverified, cache, progress, stamps)
        cached = cache.get_inventory(info.id)
        if cached is not None:  # the same image ID: the same layers, the same catalog
            return replace(cached, image=info, notes=source.notes())
        rest = [d for d in info.diff_ids if d not in found]
        found |= _load_indexes(lambda: source, rest, cache, progress, stamps)
        indexes = [found[d] for d in dict.fromkeys(info.diff_ids)]
        notes = source.notes()
    finally:
        source.close()
    # Imported here: a cached catalog (the common warm run) needs none of them.
    from .catalog import (
        catalog_debian,
        catalog_libraries,
        catalog_python,
        ld_so_conf_paths,
        python_events,
    )
    from .image import ImageFS

    progress(Progress("catalog", 0, 1))
    fs = ImageFS(info.history, indexes)
    environments, interpreter, python = catalog_python(fs, info)
    py_removed, py_changes = python_events(fs, python)
    debian, deb_removed, deb_changes = catalog_debian(fs)
    libraries = catalog_libraries(fs)
    progress(Progress("catalog", 1, 1))
    by_index = {ref.index: pos for pos, ref in enumerate(fs.layers)}
    layers = []
    for entry in info.history:
        changes: list[Change] = [
            *py_changes.get(entry.index, ()),
            *deb_changes.get(entry.index, ()),
        ]
        pos = by_index.get(entry.index)
        if pos is None:
            layers.append(LayerSummary(entry, 0, 0, 0, 0, 0, 0, tuple(changes)))
            continue
        st = fs.stats[pos]
        layers.append(
            LayerSummary(
                entry,
                fs.size_of(pos),
                st.files_added,
                st.files_changed,
                st.files_removed,
                st.wasted_bytes,
                st.hidden_bytes,
                tuple(changes),
            )
        )
    inv = Inventory(
        image=info,
        environments=environments,
        interpreter=interpreter,
        python=python,
        removed=(*py_removed, *deb_removed),
        debian=debian,
        libraries=libraries,
        layers=tuple(layers),
        notes=notes,
        ld_paths=ld_so_conf_paths(fs),
    )
    cache.put_inventory(inv)
    return inv


def check(
    target: str | Target,
    options: Options | None = None,
    *,
    constraints: list[Path] | None = None,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    unpinned: str = "info",
    smoke: SmokeOptions | None = None,
    build: BuildRequest | None = None,
    progress: ProgressFn = no_progress,
) -> Report:
    """Inventory ``target``, run the static checks against the constraints and, with
    ``smoke``, the smoke tests in a throwaway container, and the staleness checks when
    a Dockerfile is known (``build``, or ``./Dockerfile`` when the history matches it);
    one report for all."""
    from .checks import Context
    from .pins import load_constraints
    from .suite import run_checks

    pins = load_constraints(constraints or [])  # bad constraints fail before any image read
    tgt = parse_target(target) if isinstance(target, str) else target
    with contextlib.closing(_EngineOnce()) as engine:
        inv = inventory(tgt, options, progress, engine=engine)
        req = build or BuildRequest()
        facts, skip = _stale_facts(tgt, inv, req, options, engine)
        pins = _context_pins(pins, req, facts)
        inv = _with_projects(inv, pins)
        run = smoke_run(tgt, inv, smoke, progress, engine) if smoke is not None else None
    ctx = Context(inv, pins, unpinned, run, facts, skip)
    findings, results = run_checks(ctx, select, ignore)
    return Report(inv, findings, results, pins.files, run, _verdict(facts, skip, findings, inv))


def _context_pins(pins: Constraints, req: BuildRequest, facts: StaleFacts | None) -> Constraints:
    """The pins given or configured, else those found in the build context: the one the
    staleness checks use, else the given one, else ``./Dockerfile``'s folder. Given pins
    still learn the context's project name, for the application's own distribution."""
    from .pins import context_projects, discover

    context = facts.build.context if facts is not None else None
    context = context or req.context or (req.dockerfile.parent if req.dockerfile else None)
    if context is None and (req.cwd / "Dockerfile").is_file():
        context = req.cwd
    if context is None:
        return pins
    if pins.files:
        projects = tuple(dict.fromkeys((*pins.projects, *context_projects(context))))
        return replace(pins, projects=projects)
    return discover(context)


def _with_projects(inv: Inventory, pins: Constraints) -> Inventory:
    """The inventory with the pins' own projects (a lock's root, the pyproject's name)
    marked as the application."""
    if not pins.projects:
        return inv
    from .catalog import mark_applications

    return replace(inv, python=mark_applications(inv.python, pins.projects))


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
    cache_age_days: float | None = None  # None: stale.CACHE_AGE_DAYS
    engine: bool = True  # read the base image and build cache from the engine


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
    from .stale import BuildInput, match_history, read_dockerfile

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


class _LayerReader:
    """A few layers of an image for the staleness checks: indexes from the cache, and
    file bytes from the source, opened only when needed and once."""

    def __init__(self, target: Target, options: Options | None, engine: _EngineOnce | None) -> None:
        self._target = target
        self._engine = engine
        self._options = options or Options()
        opts = self._options
        self._cache = Cache((opts.cache_dir or default_cache_dir()) if opts.use_cache else None)
        self._source: Source | None = None

    def _open(self) -> Source:
        if self._source is None:
            self._source = open_source(
                self._target, self._options, self._cache, no_progress, self._engine
            )
        return self._source

    def indexes(self, diff_ids: list[str]) -> dict[str, LayerIndex]:
        return _load_indexes(self._open, diff_ids, self._cache, no_progress)

    def digests(self, diff_id: str, paths: set[str]) -> dict[str, str]:
        return self._open().file_digests(diff_id, paths)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()


def _stale_facts(
    target: Target,
    inv: Inventory,
    req: BuildRequest,
    options: Options | None,
    engine: _EngineOnce | None = None,
) -> tuple[StaleFacts | None, str]:
    from .dockerfile import parse
    from .stale import (
        CACHE_AGE_DAYS,
        StaleFacts,
        build_state,
        builder_of,
        copied_files,
        copy_hashes,
        declared_packages,
        requirement_files,
    )

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
    reader = _LayerReader(target, options, engine)
    try:
        files = copied_files(
            match, stage, build, reader.indexes(copies), refs, digests=reader.digests
        )
    finally:
        reader.close()
    state, note = None, "the build cache and base image were not read (--no-engine)"
    if req.engine:
        with _engine_for(engine) as once:
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


def _verdict(
    facts: StaleFacts | None, skip: str, findings: tuple[Finding, ...], inv: Inventory
) -> StaleVerdict:
    """``stale.stale_verdict``, imported when needed: the smoke path never loads stale.py."""
    from .stale import stale_verdict

    return stale_verdict(facts, skip, findings, inv)


def smoke(
    target: str | Target,
    options: Options | None = None,
    opts: SmokeOptions | None = None,
    *,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    progress: ProgressFn = no_progress,
) -> Report:
    """The smoke tests alone: inventory ``target``, import in a container, report."""
    from .checks import Context

    tgt = parse_target(target) if isinstance(target, str) else target
    with contextlib.closing(_EngineOnce()) as engine:
        inv = inventory(tgt, options, progress, engine=engine)
        run = smoke_run(tgt, inv, opts or SmokeOptions(), progress, engine)
    findings, results = _only("IC50", Context(inv, smoke=run), select, ignore)
    return Report(inv, findings, results, (), run)


def _only(
    prefix: str, ctx: Context, select: tuple[str, ...], ignore: tuple[str, ...]
) -> tuple[tuple[Finding, ...], tuple[CheckResult, ...]]:
    """The checks of one command (``smoke``, ``stale``): their findings and results only."""
    from .suite import run_checks

    findings, results = run_checks(ctx, select or (prefix,), ignore)
    return findings, tuple(r for r in results if r.code.startswith(prefix))


def stale(
    target: str | Target,
    options: Options | None = None,
    build: BuildRequest | None = None,
    *,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    progress: ProgressFn = no_progress,
) -> Report:
    """The staleness checks alone: the image against its Dockerfile and context."""
    from .checks import Context

    tgt = parse_target(target) if isinstance(target, str) else target
    with contextlib.closing(_EngineOnce()) as engine:
        inv = inventory(tgt, options, progress, engine=engine)
        facts, skip = _stale_facts(tgt, inv, build or BuildRequest(), options, engine)
    if facts is None:
        raise BadInput(skip)
    findings, results = _only("IC60", Context(inv, stale=facts), select, ignore)
    return Report(inv, findings, results, (), None, _verdict(facts, skip, findings, inv))


@dataclass(frozen=True, slots=True)
class Pruned:
    records: int
    images: int
    bytes: int


def prune_build_cache() -> Pruned:
    """``docker builder prune -af`` and ``docker image prune -f``: callers ask first."""
    from .engine import connect

    engine = connect()
    try:
        cache = engine.prune_build_cache({}, everything=True)
        images = engine.prune_dangling_images()
    finally:
        engine.close()
    return Pruned(cache.deleted, images.deleted, cache.space + images.space)


def smoke_run(
    target: Target,
    inv: Inventory,
    opts: SmokeOptions,
    progress: ProgressFn = no_progress,
    engine: _EngineOnce | None = None,
) -> SmokeRun:
    """Run the smoke tests of an inventoried image, or say why they cannot run.

    The static checks never depend on this: with no engine, or an archive the engine
    has not loaded, the smoke run is skipped with the reason.
    """
    from .smoke import run_smoke

    with _engine_for(engine) as once:
        try:
            connected = once.get()
        except EngineUnavailable as exc:
            return SmokeRun("skipped", f"no Docker engine to run the image in ({exc})")
        try:
            if target.kind in (DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR):
                try:
                    connected.inspect_image(inv.image.id)
                except ImageNotFound:
                    return SmokeRun(
                        "skipped",
                        f"the engine has not loaded this image ({inv.image.id[:19]}); "
                        "smoke tests run images in the engine: docker load -i ARCHIVE",
                    )
            return run_smoke(connected, inv.image.id, inv, opts, progress)
        except EngineUnavailable as exc:
            return SmokeRun("skipped", f"the Docker engine went away ({exc})")


def lint(
    paths: list[Path],
    *,
    constraints: list[Path] | None = None,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    resolve: bool = False,
) -> LintReport:
    """Requirement files and Dockerfiles against the constraints, without any image.

    ``paths`` empty: every requirements file and Dockerfile under the current folder.
    """
    from .lint import lint_files
    from .pins import load_constraints

    pins = load_constraints(constraints or [], cwd=Path())
    return lint_files(paths, pins, select=select, ignore=ignore, resolve=resolve)


def placeholder_inventory(ref: str, reason: str) -> Inventory:
    """The image of a report whose image could not be read (no engine, never built): the
    report still carries what compose and the engine said; ``reason`` is in its notes."""
    from .model import ImageInfo

    info = ImageInfo(
        ref=ref,
        id="",
        created=None,
        platform=Platform("linux", ""),
        entrypoint=(),
        cmd=(),
        env=(),
        working_dir="",
        user="",
        history=(),
        diff_ids=(),
    )
    return Inventory(info, (), None, (), (), (), (), (), notes=(f"image not read: {reason}",))


def triage(
    service: str,
    options: Options | None = None,
    *,
    cwd: Path | None = None,
    compose_files: tuple[str | Path, ...] = (),
    project_name: str | None = None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    constraints: list[Path] | None = None,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    unpinned: str = "info",
    smoke: SmokeOptions | None = None,
    tail: int = 200,
    failures: tuple[Path, ...] = (),
    image: str | None = None,
    build: BuildRequest | None = None,
    progress: ProgressFn = no_progress,
) -> Report:
    """``imagecheck SERVICE``: the compose service's containers (state, logs, diagnosis),
    then its image checked as ``check`` does; one report, the triage in ``report.triage``.

    With the engine down the report still says what the compose file says (IC707); an
    image never built or pulled is IC708, and the image checks are skipped with the reason.
    """
    from .checks import Context
    from .pins import load_constraints
    from .suite import run_checks
    from .target import ENGINE
    from .triage import commands, gather, load_failures, load_project

    cwd = cwd or Path.cwd()
    project = load_project(cwd, compose_files, project_name, env_file, environ)
    svc = project.service(service)
    pins = load_constraints(constraints or [], cwd=cwd)
    table = load_failures(failures)
    with contextlib.closing(_EngineOnce()) as engine:  # gather, inventory, stale and smoke share it
        try:
            connected = engine.get()
        except EngineUnavailable as exc:
            run = gather(project, svc, None, table, tail=tail, engine_error=str(exc))
        else:
            run = gather(project, svc, connected, table, tail=tail)
        facts: StaleFacts | None = None
        skip = "the image was not read"
        if image is not None:  # the user's own copy: an archive reads with no engine at all
            run = replace(run, image_ref=image, image_source="--image")
        if run.image_ref is None:
            inv = placeholder_inventory(svc.image_candidates[0], run.reason)
            ctx = Context(inv, pins, unpinned, None, triage=run)
            found, results = run_checks(ctx, select, ignore)
            findings = tuple(f for f in found if f.code.startswith("IC7"))
            skipped = "the image was not read: " + (
                "no Docker engine" if run.engine_error else "no image of the service"
            )
            results = tuple(
                r if r.code.startswith("IC7") else replace(r, status="skipped", reason=skipped)
                for r in results
            )
            smoke_ran = None
        else:
            if image is not None:
                tgt = parse_target(image)
            else:
                text = run.image_ref if run.image_source == "container" else svc.image_candidates[0]
                tgt = Target(ENGINE, run.image_ref, None, text)
            inv = inventory(tgt, options, progress, engine=engine)
            req = build or _service_build(svc, project.folder)
            try:
                facts, skip = _stale_facts(tgt, inv, req, options, engine)
            except BadInput as exc:  # a missing Dockerfile must not hide why it crashes
                facts, skip = None, f"the service's build cannot be read: {exc}"
            try:
                pins = _context_pins(pins, req, facts)
            except BadInput as exc:  # a broken lock file must not hide why it crashes either
                pins = replace(pins, notes=(f"the build context's pins cannot be read: {exc}",))
            inv = _with_projects(inv, pins)
            smoke_ran = smoke_run(tgt, inv, smoke, progress, engine) if smoke is not None else None
            ctx = Context(inv, pins, unpinned, smoke_ran, facts, skip, triage=run)
            findings, results = run_checks(ctx, select, ignore)
    run = replace(run, commands=commands(run, findings, svc.build is not None))
    verdict = _verdict(facts, skip, findings, inv)
    return Report(inv, findings, results, pins.files, smoke_ran, verdict, run)


def _service_build(svc: ComposeService, folder: Path) -> BuildRequest:
    """The staleness checks of a compose service: its ``build:`` (context, Dockerfile,
    args, target), else ``./Dockerfile`` of the project when the history matches it."""
    spec = svc.build
    if spec is None or spec.context is None or spec.dockerfile is None:
        return BuildRequest(cwd=folder, service=svc.name)
    args = tuple((k, v) for k, v in spec.args if v is not None)
    how = f"compose service {svc.name!r}: build {spec.context}"
    return BuildRequest(spec.dockerfile, spec.context, args, spec.target, svc.name, how)


def engine_has_image(ref: str) -> bool:
    """Whether the engine answers and knows ``ref`` (a bare word may be a service or an image)."""
    from .engine import connect

    try:
        engine = connect()
    except EngineUnavailable:
        return False
    try:
        engine.inspect_image(ref)
    except (ImageNotFound, BadInput):
        return False
    finally:
        engine.close()
    return True
