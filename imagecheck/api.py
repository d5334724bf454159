"""The library API: the pipelines the CLI runs, each a short list of steps.

Each pipeline resolves its target once, opens one engine connection (``Shared``) and
one image reader for all its steps, and never prints: progress goes to a callback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import Shared
from .engine import has_image as engine_has_image
from .engine import prune_cache as prune_build_cache
from .errors import BadInput, EngineUnavailable, ImagecheckError
from .image import ImageReader, Options, Progress, ProgressFn, no_progress
from .model import (
    CheckResult,
    DatabaseRevision,
    Finding,
    ImageDiff,
    Inventory,
    LintReport,
    MigrationSummary,
    Report,
    StaleVerdict,
    TriageRun,
)
from .smoke import SmokeOptions
from .stale import BuildRequest
from .target import ENGINE, Target, parse_target

if TYPE_CHECKING:
    from .app import MigrationOptions, MigrationRun
    from .checks import Context
    from .pins import Constraints
    from .stale import BakedFacts, StaleFacts
    from .triage import BundleResult, ComposeProject, ComposeService

__all__ = [
    "BuildRequest",
    "Options",
    "Progress",
    "SmokeOptions",
    "bundle",
    "check",
    "diff",
    "engine_has_image",
    "inventory",
    "lint",
    "prune_build_cache",
    "smoke",
    "stale",
    "triage",
]


def _target(target: str | Target) -> Target:
    return parse_target(target) if isinstance(target, str) else target


def _inventory(reader: ImageReader, progress: ProgressFn) -> Inventory:
    """The reader's image catalogued: from the cache by image ID (the common warm run,
    which imports no cataloger), else from its layer indexes."""
    info = reader.info()
    reader.verify()
    cached = reader.cache.get_inventory(info.id)
    if cached is not None:  # the same image ID: the same layers, the same catalog
        return replace(cached, image=info, notes=reader.source().notes())
    found = reader.indexes(info.diff_ids)
    notes = reader.source().notes()
    from .catalog import catalog_image

    inv = catalog_image(info, [found[d] for d in dict.fromkeys(info.diff_ids)], notes, progress)
    reader.cache.put_inventory(inv)
    return inv


def inventory(
    target: str | Target,
    options: Options | None = None,
    progress: ProgressFn = no_progress,
) -> Inventory:
    """Read ``target`` layer by layer and catalog what it installs."""
    with ImageReader(_target(target), options, progress) as reader:
        return _inventory(reader, progress)


def diff(
    old: str | Target,
    new: str | Target,
    options: Options | None = None,
    progress: ProgressFn = no_progress,
) -> ImageDiff:
    """What changed from ``old`` to ``new`` (any two targets), each read once as
    ``inventory`` reads it."""
    from .diff import diff_readers

    with (
        contextlib.closing(Shared()) as engine,
        ImageReader(_target(old), options, progress, engine) as a,
        ImageReader(_target(new), options, progress, engine) as b,
    ):
        return diff_readers(a, _inventory(a, progress), b, _inventory(b, progress))


def _pins_for(pins: Constraints, req: BuildRequest, facts: StaleFacts | None) -> Constraints:
    """The pins given, else those of the build context (the staleness checks' own)."""
    from .pins import with_context

    return with_context(pins, req.context_folder(facts))


def _marked(inv: Inventory, pins: Constraints) -> Inventory:
    """The inventory with the pins' own projects marked as the application."""
    if not pins.projects:  # the common case: the catalogers stay unloaded
        return inv
    from .catalog import with_applications

    return with_applications(inv, pins.projects)


def _verdict(
    facts: StaleFacts | None, skip: str, findings: tuple[Finding, ...], inv: Inventory
) -> StaleVerdict:
    from .stale import stale_verdict

    return stale_verdict(facts, skip, findings, inv)


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
    migrations: MigrationOptions | None = None,
    cwd: Path | None = None,
    progress: ProgressFn = no_progress,
) -> Report:
    """Inventory ``target``, find its build, run the static checks against the pins and,
    with ``smoke``, the smoke tests in a throwaway container: one report for all."""
    from .checks import Context
    from .pins import load_constraints
    from .smoke import smoke_image
    from .stale import stale_facts
    from .suite import run_checks

    pins = load_constraints(constraints or [])  # bad constraints fail before any image read
    smoke = _given_environment(smoke) if smoke else None  # and a missing --env-file
    tgt, req = _target(target), build or BuildRequest()
    with contextlib.closing(Shared()) as engine, ImageReader(tgt, options, progress, engine) as r:
        inv = _inventory(r, progress)
        facts, skip = stale_facts(r, inv, req, engine)
        pins = _pins_for(pins, req, facts)
        inv = _marked(inv, pins)
        if smoke is not None:
            context = req.context_folder(facts)
            smoke = _compose_environment(smoke, context or cwd or Path.cwd(), context, tgt, inv)
        baked = _baked(r, inv, req, smoke)
        run = smoke_image(tgt, inv, smoke, progress, engine) if smoke is not None else None
        schema = None
        if migrations is not None:
            from .app import migration_run, project_here

            schema = migration_run(tgt, inv, migrations, project_here(cwd), engine)
    ctx = Context(inv, pins, unpinned, run, facts, skip, migrations=schema, baked=baked)
    findings, results = run_checks(ctx, select, ignore)
    verdict = _verdict(facts, skip, findings, inv)
    return Report(inv, findings, results, pins.files, run, verdict, migrations=_summary(schema))


def _summary(run: MigrationRun | None) -> MigrationSummary | None:
    """The report's ``migrations`` section, when the migration check was asked for."""
    from .app import migration_summary

    return None if run is None else migration_summary(run)


def _baked(
    reader: ImageReader, inv: Inventory, req: BuildRequest, smoke: SmokeOptions | None
) -> BakedFacts | None:
    """``check``'s environment (``--env``, ``--env-file``, the building compose service's)
    and ``--build-arg``s against the values the build baked in (IC93x)."""
    env = smoke.environment if smoke is not None else ()
    if not req.args and not env:
        return None
    from .stale import baked_facts, rebuild_for

    return baked_facts(
        reader,
        inv,
        rebuild=rebuild_for(None, inv, dict(req.args)),
        environment=env,
        environment_how=", ".join(smoke.environment_from) if smoke else "",
        build_args=req.args,
        build_args_how="--build-arg",
    )


def _only(
    prefixes: tuple[str, ...], ctx: Context, select: tuple[str, ...], ignore: tuple[str, ...]
) -> tuple[tuple[Finding, ...], tuple[CheckResult, ...]]:
    """The checks of one command (``smoke`` and the application's, ``stale``): their
    findings and results only."""
    from .suite import run_checks

    findings, results = run_checks(ctx, select or prefixes, ignore)
    return findings, tuple(r for r in results if r.code.startswith(prefixes))


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
    from .smoke import smoke_image

    tgt, opts = _target(target), _given_environment(opts or SmokeOptions())
    here = Path.cwd()
    context = here if (here / "Dockerfile").is_file() else None
    with contextlib.closing(Shared()) as engine, ImageReader(tgt, options, progress, engine) as r:
        inv = _inventory(r, progress)
        opts = _compose_environment(opts, here, context, tgt, inv)
        run = smoke_image(tgt, inv, opts, progress, engine)
    findings, results = _only(("IC50", "IC80"), Context(inv, smoke=run), select, ignore)
    return Report(inv, findings, results, (), run)


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
    from .stale import stale_facts

    tgt = _target(target)
    with contextlib.closing(Shared()) as engine, ImageReader(tgt, options, progress, engine) as r:
        inv = _inventory(r, progress)
        facts, skip = stale_facts(r, inv, build or BuildRequest(), engine)
    if facts is None:
        raise BadInput(skip)
    findings, results = _only(("IC60",), Context(inv, stale=facts), select, ignore)
    return Report(inv, findings, results, (), None, _verdict(facts, skip, findings, inv))


def lint(
    paths: list[Path],
    *,
    constraints: list[Path] | None = None,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    resolve: bool = False,
) -> LintReport:
    """Requirement files and Dockerfiles against the constraints, without any image
    (``paths`` empty: every requirements file and Dockerfile under the current folder)."""
    from .lint import lint_files
    from .pins import load_constraints

    pins = load_constraints(constraints or [], cwd=Path())
    return lint_files(paths, pins, select=select, ignore=ignore, resolve=resolve)


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
    migrations: MigrationOptions | None = None,
    since: str | None = None,
    progress: ProgressFn = no_progress,
) -> Report:
    """``imagecheck SERVICE``: the compose service's containers (state, logs, diagnosis),
    then its image checked as ``check`` does; one report, the triage in ``report.triage``.

    With the engine down the report still says what the compose file says (IC707); an
    image never built or pulled is IC708, and the image checks are skipped with the reason.
    With ``since`` (an image that worked), or when the container runs an older image than
    its tag names, ``report.triage.changes`` says what changed between the two.
    """
    from .checks import Context
    from .pins import load_constraints
    from .smoke import smoke_image
    from .stale import stale_facts
    from .suite import run_checks
    from .triage import commands, gather, load_failures, load_project, service_baked, service_build

    cwd = cwd or Path.cwd()
    smoke = _given_environment(smoke) if smoke else None
    project = load_project(cwd, compose_files, project_name, env_file, environ)
    svc = project.service(service)
    pins = load_constraints(constraints or [], cwd=cwd)
    table = load_failures(failures)
    facts: StaleFacts | None = None
    skip, smoke_ran = "the image was not read", None
    summary: MigrationSummary | None = None
    with contextlib.closing(Shared()) as engine:  # gather, inventory, stale and smoke share it
        try:
            connected = engine.get()
        except EngineUnavailable as exc:
            run = gather(project, svc, None, table, tail=tail, engine_error=str(exc))
        else:
            run = gather(project, svc, connected, table, tail=tail)
        if image is not None:  # the user's own copy: an archive reads with no engine at all
            run = replace(run, image_ref=image, image_source="--image")
        if run.image_ref is None:
            if since is not None:
                run = replace(
                    run, changes_why=f"--since {since}: no image of the service to compare"
                )
            inv = Inventory.placeholder(svc.image_candidates[0], run.reason)
            found, results = run_checks(Context(inv, pins, unpinned, triage=run), select, ignore)
            findings = tuple(f for f in found if f.code.startswith("IC7"))
            skipped = "the image was not read: " + (
                "no Docker engine" if run.engine_error else "no image of the service"
            )
            results = tuple(
                r if r.code.startswith("IC7") else replace(r, status="skipped", reason=skipped)
                for r in results
            )
        else:
            if image is not None:
                tgt = parse_target(image)
            else:
                text = run.image_ref if run.image_source == "container" else svc.image_candidates[0]
                tgt = Target(ENGINE, run.image_ref, None, text)
            req = build or service_build(svc, project.folder)
            with ImageReader(tgt, options, progress, engine) as reader:
                inv = _inventory(reader, progress)
                run = _changes(run, reader, inv, engine, since=since, progress=progress)
                if inv.alembic and run.engine_error is None:
                    run = replace(run, database=_live_database(engine, project, svc, inv))
                try:
                    facts, skip = stale_facts(reader, inv, req, engine)
                except BadInput as exc:  # a missing Dockerfile must not hide why it crashes
                    facts, skip = None, f"the service's build cannot be read: {exc}"
                baked = service_baked(reader, inv, svc)
            try:
                pins = _pins_for(pins, req, facts)
            except BadInput as exc:  # a broken lock file must not hide why it crashes either
                pins = replace(pins, notes=(f"the build context's pins cannot be read: {exc}",))
            inv = _marked(inv, pins)
            if smoke is not None:
                smoke_ran = smoke_image(tgt, inv, _service_smoke(smoke, svc), progress, engine)
            ctx = Context(inv, pins, unpinned, smoke_ran, facts, skip, triage=run, baked=baked)
            if migrations is not None:
                from .app import database_service, migration_run

                db = database_service(project)
                if db is not None and db.name != svc.name:
                    opts = replace(migrations, service=svc.name)
                    ctx.migrations = migration_run(tgt, inv, opts, project, engine, live=True)
            findings, results = run_checks(ctx, select, ignore)
            summary = _summary(ctx.migrations)
    verdict = _verdict(facts, skip, findings, inv)
    run = replace(run, commands=commands(run, findings, svc.build is not None, verdict))
    return Report(inv, findings, results, pins.files, smoke_ran, verdict, run, summary)


def _changes(
    run: TriageRun,
    reader: ImageReader,
    inv: Inventory,
    engine: Shared,
    *,
    since: str | None,
    progress: ProgressFn,
) -> TriageRun:
    """What changed since ``since`` (to the image checked), else from the image the
    container runs to the one its tag now names; the triage goes on when that tag
    cannot be read (the reason is kept), not when ``--since`` names no image."""
    from .diff import diff_readers

    if since is not None:
        with ImageReader(parse_target(since), reader.options, progress, engine) as old:
            changes = diff_readers(old, _inventory(old, progress), reader, inv)
        return replace(run, changes=changes, changes_why=f"--since {since}")
    if run.newer_image is None or run.image_source != "container":
        return run
    why = f"the running image against {run.newer_image}, the tag's current image"
    try:
        tag = Target(ENGINE, run.newer_image, None, run.newer_image)
        with ImageReader(tag, reader.options, progress, engine) as new:
            changes = diff_readers(reader, inv, new, _inventory(new, progress))
    except ImagecheckError as exc:  # the tag's image gone or unreadable: triage goes on
        return replace(run, changes_why=f"{why}: not compared ({exc})")
    return replace(run, changes=changes, changes_why=why)


def _live_database(
    engine: Shared, project: ComposeProject, svc: ComposeService, inv: Inventory
) -> DatabaseRevision | None:
    """The alembic revision of the stack's database (read-only, in its own container)."""
    from .app import read_database, version_table
    from .triage import database_candidates

    try:
        connected = engine.get()
        candidates = database_candidates(connected, project, svc)
        return read_database(connected, candidates, version_table(inv))
    except EngineUnavailable:
        return None


def _service_smoke(opts: SmokeOptions, svc: ComposeService) -> SmokeOptions:
    """The smoke run of a compose service: its ``command:``/``entrypoint:`` name the
    application, its ``env_file:``/``environment:`` are the container's too."""
    return replace(
        opts,
        command=svc.command,
        entrypoint=svc.entrypoint,
        service_how=f"compose service {svc.name!r} command:",
        environment=(*svc.environment, *opts.environment),
        # the service's environment is the one it runs with, even an empty one: a
        # setting missing from it is the crash, not a value deploy will give later
        environment_from=(
            f"compose service {svc.name!r}" + ("" if svc.environment else ", which sets none"),
            *opts.environment_from,
        ),
    )


def _given_environment(opts: SmokeOptions) -> SmokeOptions:
    """``--env-file``/``--env`` read once, before any image is (a missing file fails
    first); they come after any compose service's environment, so they win."""
    if not (opts.env_files or opts.env):
        return opts
    from .triage import given_environment

    env = given_environment(opts.env_files, opts.env)
    return replace(
        opts,
        environment=(*opts.environment, *env.pairs),
        environment_from=(*opts.environment_from, *env.sources),
        env_files=(),
        env=(),
    )


def _compose_environment(
    opts: SmokeOptions, folder: Path, context: Path | None, tgt: Target, inv: Inventory
) -> SmokeOptions:
    """``check IMAGE``/``smoke IMAGE`` beside a compose project: the environment of the
    service that builds the image, as the container runs under compose."""
    if not opts.compose_environment or not opts.app_step:
        return opts
    from .triage import building_service

    references = (tgt.location, *inv.image.repo_tags) if tgt.is_engine else inv.image.repo_tags
    env, _ = building_service(folder, context, references)
    return replace(
        opts,
        environment=(*env.pairs, *opts.environment),
        environment_from=(*env.sources, *opts.environment_from),
        environment_note=env.note,
    )


def bundle(
    path: Path,
    report: Report,
    render: Callable[[Report], Mapping[str, str]],
    *,
    force: bool = False,
    image: str | None = None,
    cwd: Path | None = None,
    compose_files: tuple[str | Path, ...] = (),
    project_name: str | None = None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    environment: tuple[tuple[str, str], ...] = (),
) -> BundleResult:
    """``--bundle PATH``: ``report`` (rendered by ``render``, after its secrets are
    redacted: name -> text, e.g. report.txt and report.json), with, for a service, the
    resolved compose config and its and its dependencies' containers' inspect and last
    logs; ``image``'s inspect; the versions. One gzip tar, secrets redacted.
    ``environment``: what else the run gave containers (``--env``, ``--env-file``), whose
    secret keys' values are searched for too."""
    from .triage import Member, Redactor, evidence, load_config, write_bundle

    redactor = Redactor()
    redactor.know_pairs(environment)
    config = None
    if report.triage is not None:
        config = load_config(cwd or Path.cwd(), compose_files, project_name, env_file, environ)
    service = report.triage.service if report.triage is not None else None
    with contextlib.closing(Shared()) as engine:
        try:
            connected, error = engine.get(), None
        except EngineUnavailable as exc:
            connected, error = None, str(exc)
        members, notes = evidence(connected, config, service, image, redactor, engine_error=error)
    for member in members:
        redactor.learn(member.content)
    redactor.learn(report)
    clean = redactor.scrub(report)  # rendered from: no line wrap can split a secret
    before = redactor.take()
    texts = [
        Member(name, f"the report ({name.rpartition('.')[2]})", text, redacted=before)
        for name, text in render(clean).items()
    ]
    return write_bundle(path, (*texts, *members), redactor, force=force, notes=notes)
