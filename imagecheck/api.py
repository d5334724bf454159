"""The library API: open a target, index the layers we lack, catalog the image.

``inventory()`` is what the CLI's ``layers`` and ``inventory`` commands call; it
never prints and reports progress through a callback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .cache import Cache, default_cache_dir
from .errors import BadInput, EngineUnavailable, ImageNotFound
from .layerindex import LayerIndex
from .model import Change, Inventory, LayerSummary, LintReport, Platform, Report, SmokeRun
from .smoke import SmokeOptions
from .sources.base import Progress, ProgressFn, Source, no_progress
from .target import DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR, Target, parse_target


@dataclass(frozen=True, slots=True)
class Options:
    cache_dir: Path | None = None  # None: the default cache folder
    use_cache: bool = True
    platform: Platform | None = None  # None: the host's, for multi-platform indexes
    engine_read: str = "auto"  # "auto": overlay2 folders when readable; "export": always export


def open_source(target: Target, options: Options, cache: Cache, progress: ProgressFn) -> Source:
    """The source for a target. Engine imports stay off the archive paths."""
    path = Path(target.location)
    if target.kind == DOCKER_ARCHIVE:
        from .sources.archive import open_docker_archive

        return open_docker_archive(path, ref=target.text, tag=target.tag, platform=options.platform)
    if target.kind in (OCI_DIR, OCI_ARCHIVE):
        from .sources.oci import open_oci

        return open_oci(
            path, ref=target.text, platform=options.platform, archive=target.kind == OCI_ARCHIVE
        )
    from .engine import connect
    from .sources.daemon import DaemonSource

    if options.engine_read not in ("auto", "export"):
        raise BadInput(f"unknown engine read mode {options.engine_read!r}")
    engine = connect()
    try:
        return DaemonSource(
            engine,
            target.location,
            cache,
            progress,
            ref=target.text,
            direct=options.engine_read == "auto",
        )
    except BaseException:
        engine.close()
        raise


def _load_indexes(
    source: Source, diff_ids: tuple[str, ...], cache: Cache, progress: ProgressFn
) -> list[LayerIndex]:
    found: dict[str, LayerIndex] = {}
    for diff_id in dict.fromkeys(diff_ids):
        cached = cache.get_layer(diff_id)
        if cached is not None:
            found[diff_id] = cached
    missing = [d for d in dict.fromkeys(diff_ids) if d not in found]
    for index in source.index_layers(missing, progress):
        cache.put_layer(index)
        found[index.diff_id] = index
    return [found[d] for d in dict.fromkeys(diff_ids)]


def inventory(
    target: str | Target, options: Options | None = None, progress: ProgressFn = no_progress
) -> Inventory:
    """Read ``target`` layer by layer and catalog what it installs."""
    options = options or Options()
    tgt = parse_target(target) if isinstance(target, str) else target
    cache = Cache((options.cache_dir or default_cache_dir()) if options.use_cache else None)
    source = open_source(tgt, options, cache, progress)
    try:
        info = source.image()
        cached = cache.get_inventory(info.id)
        if cached is not None:  # the same image ID: the same layers, the same catalog
            return replace(cached, image=info, notes=source.notes())
        indexes = _load_indexes(source, info.diff_ids, cache, progress)
        notes = source.notes()
    finally:
        source.close()
    # Imported here: a cached catalog (the common warm run) needs none of them.
    from .catalog.dpkg import catalog_debian
    from .catalog.elf import catalog_libraries, ld_so_conf_paths
    from .catalog.python import catalog_python, python_events
    from .imagefs import ImageFS

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
    progress: ProgressFn = no_progress,
) -> Report:
    """Inventory ``target``, run the static checks against the constraints and, with
    ``smoke``, the smoke tests in a throwaway container; one report for all."""
    from .checks import run_checks
    from .checks.context import Context
    from .constraints import load_constraints

    pins = load_constraints(constraints or [])  # bad constraints fail before any image read
    tgt = parse_target(target) if isinstance(target, str) else target
    inv = inventory(tgt, options, progress)
    run = smoke_run(tgt, inv, smoke, progress) if smoke is not None else None
    findings, results = run_checks(Context(inv, pins, unpinned, run), select, ignore)
    return Report(inv, findings, results, pins.files, run)


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
    from .checks import run_checks
    from .checks.context import Context

    tgt = parse_target(target) if isinstance(target, str) else target
    inv = inventory(tgt, options, progress)
    run = smoke_run(tgt, inv, opts or SmokeOptions(), progress)
    findings, results = run_checks(Context(inv, smoke=run), select or ("IC50",), ignore)
    results = tuple(r for r in results if r.code.startswith("IC50"))
    return Report(inv, findings, results, (), run)


def smoke_run(
    target: Target, inv: Inventory, opts: SmokeOptions, progress: ProgressFn = no_progress
) -> SmokeRun:
    """Run the smoke tests of an inventoried image, or say why they cannot run.

    The static checks never depend on this: with no engine, or an archive the engine
    has not loaded, the smoke run is skipped with the reason.
    """
    from .engine import connect
    from .smoke import run_smoke

    try:
        engine = connect()
    except EngineUnavailable as exc:
        return SmokeRun("skipped", f"no Docker engine to run the image in ({exc})")
    try:
        if target.kind in (DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR):
            try:
                engine.inspect_image(inv.image.id)
            except ImageNotFound:
                return SmokeRun(
                    "skipped",
                    f"the engine has not loaded this image ({inv.image.id[:19]}); "
                    "smoke tests run images in the engine: docker load -i ARCHIVE",
                )
        return run_smoke(engine, inv.image.id, inv, opts, progress)
    except EngineUnavailable as exc:
        return SmokeRun("skipped", f"the Docker engine went away ({exc})")
    finally:
        engine.close()


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
    from .constraints import load_constraints
    from .lint import lint_files

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
    progress: ProgressFn = no_progress,
) -> Report:
    """``imagecheck SERVICE``: the compose service's containers (state, logs, diagnosis),
    then its image checked as ``check`` does; one report, the triage in ``report.triage``.

    With the engine down the report still says what the compose file says (IC707); an
    image never built or pulled is IC708, and the image checks are skipped with the reason.
    """
    from .checks import run_checks
    from .checks.context import Context
    from .compose import load_project
    from .constraints import load_constraints
    from .engine import connect
    from .failures import load_failures
    from .target import ENGINE
    from .triage import commands, gather

    cwd = cwd or Path.cwd()
    project = load_project(cwd, compose_files, project_name, env_file, environ)
    svc = project.service(service)
    pins = load_constraints(constraints or [], cwd=cwd)
    table = load_failures(failures)
    try:
        engine = connect()
    except EngineUnavailable as exc:
        run = gather(project, svc, None, table, tail=tail, engine_error=str(exc))
    else:
        try:
            run = gather(project, svc, engine, table, tail=tail)
        finally:
            engine.close()
    # stale: checks against service.build (BuildSpec) are added by the stale feature
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
        text = run.image_ref if run.image_source == "container" else svc.image_candidates[0]
        tgt = Target(ENGINE, run.image_ref, None, text)
        inv = inventory(tgt, options, progress)
        smoke_ran = smoke_run(tgt, inv, smoke, progress) if smoke is not None else None
        ctx = Context(inv, pins, unpinned, smoke_ran, triage=run)
        findings, results = run_checks(ctx, select, ignore)
    run = replace(run, commands=commands(run, findings, svc.build is not None))
    return Report(inv, findings, results, pins.files, smoke_ran, run)


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
