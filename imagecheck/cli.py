"""The command line: a thin shell over ``imagecheck.api``.

The only module that prints or exits. Errors the user can act on become one line on
stderr and an exit code (README, "Exit codes"); anything else is an internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import BadInput, ExitCode, ImagecheckError
from .model import SEVERITIES, LintReport, Report

if TYPE_CHECKING:
    from rich.console import Console

    from .image import Progress

COMMANDS = ("check", "smoke", "stale", "layers", "inventory", "lint", "triage", "diff")
# What a check, smoke, stale, lint or service report can be written as (besides table).
REPORT_FORMATS = ("json", "junit", "sarif", "github", "markdown", "gitlab")
_PROGRESS_DELAY = 0.4  # seconds: quick reads show no bar at all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagecheck",
        description="Verify built Docker images and their dependencies, layer by layer.",
        epilog="Exit codes: 0 ok, 1 findings, 2 bad input, 3 environment (no engine), "
        "4 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"imagecheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--format",
        choices=("table", *REPORT_FORMATS, "cyclonedx"),
        default="table",
        help="table (people), json, junit, sarif (code scanning), github (annotations and "
        "job summary), markdown, gitlab (Code Quality); cyclonedx for inventory",
    )
    output.add_argument("-o", "--output", type=Path, help="write the report to FILE")
    output.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FORMAT=FILE",
        help="also write the report in FORMAT to FILE (repeatable; e.g. sarif=imagecheck.sarif)",
    )
    output.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    selection = argparse.ArgumentParser(add_help=False)
    selection.add_argument(
        "--select", action="append", default=[], help="only codes with this prefix"
    )
    selection.add_argument(
        "--ignore", action="append", default=[], help="skip codes with this prefix"
    )
    selection.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        help="exit 1 when a finding is at least this severe (default: error; for stale: "
        "warning, so that 1 means a stale verdict)",
    )
    policy = argparse.ArgumentParser(add_help=False, parents=[selection])
    policy.add_argument(
        "-c",
        "--constraints",
        type=Path,
        action="append",
        default=[],
        help="requirements file, system-needs TOML or folder (repeatable; default: "
        "[tool.imagecheck] constraints in pyproject.toml, else ./constraints/)",
    )
    common = argparse.ArgumentParser(add_help=False, parents=[output, _reading_parser()])
    common.add_argument("target", help=_TARGET_HELP)
    smoke = argparse.ArgumentParser(add_help=False)
    grp = smoke.add_argument_group("smoke tests (imports in one throwaway container)")
    grp.add_argument(
        "--import", dest="imports", action="append", default=[], help="import this module too"
    )
    grp.add_argument(
        "--skip", action="append", default=[], help="never import this module (or its submodules)"
    )
    grp.add_argument("--python", help="the interpreter in the image (default: the runtime one)")
    grp.add_argument(
        "--module-timeout", type=float, help="seconds one import may take (default: 60)"
    )
    grp.add_argument("--timeout", type=float, help="seconds the whole run may take (default: 600)")
    grp.add_argument("--memory", help="the container's memory limit (default: 2g)")
    grp.add_argument("--user", help="run as this user (default: the image's USER)")
    grp.add_argument(
        "--probes", type=Path, action="append", default=[], help="a TOML file of more [[probe]]s"
    )
    grp.add_argument("--no-probes", action="store_true", help="imports only, no probes")
    grp.add_argument(
        "--app",
        help="the application to import, MODULE[:ATTRIBUTE] or a file "
        "(default: found from the image's CMD/ENTRYPOINT)",
    )
    grp.add_argument(
        "--no-app", action="store_true", help="do not import the application's own modules"
    )
    grp.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="set this in the container (NAME alone: this shell's value; repeatable)",
    )
    grp.add_argument(
        "--env-file",
        dest="run_env_files",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="set the variables of this .env file in the container (repeatable; with "
        "imagecheck SERVICE, --env-file is compose's own)",
    )
    grp.add_argument(
        "--no-compose-env",
        action="store_true",
        help="check/smoke: do not take the environment of the compose service that builds "
        "the image",
    )
    build = argparse.ArgumentParser(add_help=False)
    grp = build.add_argument_group("staleness (the Dockerfile and context the image should match)")
    grp.add_argument(
        "--dockerfile",
        type=Path,
        help="the Dockerfile (default: ./Dockerfile when the image's history matches it)",
    )
    grp.add_argument(
        "--context", type=Path, help="the build context (default: the Dockerfile's folder)"
    )
    grp.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a build argument the image was built with (repeatable)",
    )
    grp.add_argument("--build-target", help="the Dockerfile stage built (--target of docker build)")
    grp.add_argument(
        "--cache-age",
        type=float,
        metavar="DAYS",
        help="a network-fetching layer this much older than the newest one came "
        "from the build cache (default: 1)",
    )
    chk = sub.add_parser(
        "check",
        parents=[common, policy, smoke, build],
        help="the image against its pins, known native/ABI problems and smoke tests "
        "(the default command)",
    )
    chk.add_argument(
        "--unpinned",
        choices=("off", "info", "warning", "error"),
        default="info",
        help="severity of IC103, installed but unpinned (default: info)",
    )
    chk.add_argument(
        "--no-smoke", action="store_true", help="static checks only: start no container"
    )
    grp = chk.add_argument_group("migrations (the models against a throwaway database)")
    grp.add_argument(
        "--migrations",
        action="store_true",
        help="run the image's alembic upgrade on a throwaway database of the compose "
        "project's database image, then compare the models with the schema it made",
    )
    grp.add_argument(
        "--no-migrations",
        action="store_true",
        help="imagecheck SERVICE: skip the migration check it runs when there is a database",
    )
    grp.add_argument("--db-image", help="the database image (default: the compose project's)")
    grp.add_argument(
        "--migrations-timeout",
        type=float,
        default=300.0,
        help="seconds the upgrade and comparison may take (default: 300)",
    )
    grp = chk.add_argument_group("bug report")
    grp.add_argument(
        "--bundle",
        type=Path,
        metavar="FILE.tar.gz",
        help="also write one gzip tar for a bug report: the report (text and JSON), and for a "
        "service its and its dependencies' inspect output and last logs, the resolved "
        "compose config; secrets redacted (README, 'Bug-report bundle')",
    )
    grp.add_argument("--force", action="store_true", help="--bundle may replace an existing file")
    _triage_parser(sub, chk)
    sub.add_parser(
        "smoke",
        parents=[common, selection, smoke],
        help="import every installed module in one throwaway container, and run the probes",
    )
    stale = sub.add_parser(
        "stale",
        parents=[common, selection, build],
        help="the image against its Dockerfile, build context, base image and the engine's "
        "build cache: rebuild or prune?",
    )
    stale.add_argument(
        "--prune",
        action="store_true",
        help="then prune the build cache (docker builder prune -af) and dangling "
        "images, after asking",
    )
    stale.add_argument("--yes", action="store_true", help="prune without asking (CI)")
    lint = sub.add_parser(
        "lint",
        parents=[output, policy],
        help="requirement files and Dockerfiles against the constraints, before any build "
        "(what the pre-commit hook runs)",
    )
    lint.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="requirements*.in/.txt, Dockerfiles, constraints files, pyproject.toml (default: "
        "every requirements file and Dockerfile below this folder)",
    )
    lint.add_argument(
        "--resolve",
        action="store_true",
        help="also ask pip-compile (pip-tools) whether requirements.txt is what it would write "
        "for requirements.in; needs a package index",
    )
    lint.add_argument("-v", "--verbose", action="store_true", help="list the checks run")
    sub.add_parser(
        "layers", parents=[common], help="a row per history entry: size, files, waste, packages"
    )
    inv = sub.add_parser(
        "inventory",
        parents=[common],
        help="Python distributions, Debian packages and shared libraries, with their layers",
    )
    inv.add_argument(
        "--all", action="store_true", help="list base-layer packages and system libraries"
    )
    _diff_parser(sub, output)
    return parser


_TARGET_HELP = (
    "docker:NAME[:TAG], an image ID, docker-archive:PATH, oci-dir:PATH, oci-archive:PATH, "
    "registry:HOST/REPO[:TAG|@DIGEST], or a path or engine name without a prefix"
)


def _reading_parser() -> argparse.ArgumentParser:
    """How images are read: every command that reads one (or two: ``diff``) takes these."""
    reading = argparse.ArgumentParser(add_help=False)
    reading.add_argument("--platform", help="os/arch[/variant] for multi-platform images")
    reading.add_argument(
        "--no-cache", action="store_true", help="do not read or write the layer cache"
    )
    reading.add_argument("--cache-dir", type=Path, help="layer cache folder (default: XDG cache)")
    reading.add_argument(
        "--engine-read",
        choices=("auto", "export"),
        default="auto",
        help="engine images: read overlay2 folders in place when possible (auto) or always "
        "read the export stream",
    )
    reading.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="registry: targets: read HOST over plain HTTP or unverified TLS (loopback always "
        "may be; repeatable)",
    )
    reading.add_argument(
        "--registry-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="registry: targets: how long the registry may stay silent (default: 30)",
    )
    reading.add_argument("-v", "--verbose", action="store_true", help="say how the image was read")
    return reading


def _diff_parser(sub: Any, output: argparse.ArgumentParser) -> None:
    """``diff OLD NEW``: two targets, read as every command reads one."""
    diff = sub.add_parser(
        "diff",
        parents=[output, _reading_parser()],
        help="what changed between two images: layers, distributions, packages, libraries, "
        "the application's files, config, alembic head",
    )
    diff.add_argument("old", metavar="OLD", help="the image before: " + _TARGET_HELP)
    diff.add_argument("new", metavar="NEW", help="the image after (any kind of target)")


def _triage_parser(sub: Any, chk: argparse.ArgumentParser) -> None:
    """``triage SERVICE``: every option of ``check`` (its parent), and compose's own."""
    tri = sub.add_parser(
        "triage",
        parents=[chk],
        add_help=False,
        conflict_handler="resolve",  # its --env-file is compose's, not the container's
        help="a compose service: why its containers crash, then its image as check does "
        "(what a bare 'imagecheck SERVICE' runs when a compose file names that service)",
    )
    grp = tri.add_argument_group("compose (imagecheck SERVICE)")
    grp.add_argument(
        "-f",
        "--file",
        action="append",
        default=[],
        help="compose file (repeatable; default: COMPOSE_FILE, else compose.yaml and friends "
        "here or in a parent folder)",
    )
    grp.add_argument(
        "-p", "--project-name", help="default: COMPOSE_PROJECT_NAME, name:, the folder's name"
    )
    grp.add_argument("--env-file", type=Path, help="default: .env beside the compose file")
    grp.add_argument(
        "--tail", type=int, default=200, help="log lines read per container (default: 200)"
    )
    grp.add_argument(
        "--failures",
        type=Path,
        action="append",
        default=[],
        help="a TOML file of more [[failure]]s to explain logs with (repeatable)",
    )
    grp.add_argument(
        "--image",
        metavar="TARGET",
        help="check this image instead of the service's (e.g. a docker save archive of it, "
        "which works with the engine down)",
    )
    grp.add_argument(
        "--since",
        metavar="IMAGE",
        help="also show what changed since IMAGE (the last image that worked; any target)",
    )


def _import_reporters() -> None:
    import imagecheck.checks
    import imagecheck.report.findings
    import imagecheck.report.json
    import imagecheck.report.terminal  # noqa: F401


def _preload_reporters() -> None:
    """The smoke container runs for seconds while this process only waits on its
    logs: import what comes after it (checks, reporters) meanwhile, not after."""
    threading.Thread(target=_import_reporters, name="preload", daemon=True).start()


class _Bar:
    """A progress bar on stderr, shown only on a terminal and only for slow reads."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started = time.monotonic()
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __call__(self, event: Progress) -> None:
        if event.stage == "smoke" and event.done == 0:
            _preload_reporters()
        if not self._console.is_terminal:
            return
        if self._progress is None:
            if time.monotonic() - self._started < _PROGRESS_DELAY or event.total <= 0:
                return
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(  # stages and details are data (layer names): no markup
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}", markup=False),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
        label = {"index": "indexing layers", "export": "reading export (bytes)"}.get(
            event.stage, event.stage
        )
        task = self._tasks.get(event.stage)
        if task is None:
            task = self._progress.add_task(label, total=event.total, detail=event.detail)
            self._tasks[event.stage] = task
        self._progress.update(task, completed=event.done, total=event.total, detail=event.detail)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _run(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.format == "cyclonedx" and args.command != "inventory":
        raise BadInput("--format cyclonedx is for 'imagecheck inventory'")
    if args.command == "lint":
        return _lint(args, out)
    from .api import Options, inventory

    platform = None
    if args.platform:
        from .image import parse_platform

        platform = parse_platform(args.platform)
    options = Options(
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        platform=platform,
        engine_read=args.engine_read,
        insecure_registries=tuple(args.insecure_registry),
        registry_timeout=args.registry_timeout,
    )
    if getattr(args, "bundle", None) is not None:  # before the run, not after minutes of it
        from .triage import destination

        destination(args.bundle, args.force)
    bar = _Bar(err)
    if args.command == "diff":
        return _diff(args, options, out, bar)
    if args.command == "triage":
        return _triage(args, options, out, err, bar)
    if args.command in ("check", "smoke", "stale"):
        return _check(args, options, out, bar)
    if args.format not in ("table", "json", "cyclonedx") or args.report:
        what = f"--format {args.format}" if not args.report else "--report"
        raise BadInput(f"{what} is for check, smoke, stale, lint and a service")
    try:
        inv = inventory(args.target, options, bar)
    finally:
        bar.stop()
    if args.format == "json":
        from .report import dumps, inventory_document

        _write(out, dumps(inventory_document(inv)))
        return ExitCode.OK
    if args.format == "cyclonedx":
        from .report import cyclonedx_json

        _write(out, cyclonedx_json(inv))
        return ExitCode.OK
    from .report import render_inventory, render_layers

    if args.command == "layers":
        render_layers(out, inv, verbose=args.verbose)
    else:
        render_inventory(out, inv, verbose=args.verbose, show_all=args.all)
    return ExitCode.OK


def _diff(args: argparse.Namespace, options: Any, out: Console, bar: _Bar) -> int:
    """``imagecheck diff OLD NEW``: a diff is no failure, so it exits 0."""
    from .api import diff

    if args.format not in ("table", "json", "markdown") or args.report:
        raise BadInput("imagecheck diff writes --format table, json or markdown")
    try:
        changes = diff(args.old, args.new, options, bar)
    finally:
        bar.stop()
    if args.format == "json":
        from .report import diff_document, dumps

        _write(out, dumps(diff_document(changes)))
    elif args.format == "markdown":
        from .report import diff_markdown

        _write(out, diff_markdown(changes))
    else:
        from .report import render_diff

        render_diff(out, changes, verbose=args.verbose)
    return ExitCode.OK


def _smoke_options(args: argparse.Namespace) -> Any:
    from .config import smoke_options

    return smoke_options(
        imports=tuple(args.imports),
        skip=tuple(args.skip),
        probe_files=tuple(args.probes),
        python=args.python,
        module_timeout=args.module_timeout,
        timeout=args.timeout,
        mem_limit=args.memory,
        user=args.user,
        probes=False if args.no_probes else None,
        app=args.app,
        app_how="--app" if args.app else None,
        app_step=False if args.no_app else None,
        env=tuple(args.env),
        env_files=tuple(getattr(args, "run_env_files", ())),
        compose_environment=False if args.no_compose_env else None,
    )


def _build_request(args: argparse.Namespace) -> Any:
    from .api import BuildRequest

    pairs = []
    for item in args.build_arg:
        name, sep, value = item.partition("=")
        if not sep:
            value = os.environ.get(name, "")  # as docker build: the environment's value
        pairs.append((name, value))
    return BuildRequest(
        dockerfile=args.dockerfile,
        context=args.context,
        args=tuple(pairs),
        target=args.build_target,
        cwd=Path(),
        cache_age_days=args.cache_age,
    )


def _migration_options(args: argparse.Namespace, wanted: bool) -> Any:
    if not wanted:
        return None
    from .app import MigrationOptions

    if args.migrations_timeout <= 0:
        raise BadInput("--migrations-timeout must be more than 0")
    return MigrationOptions(db_image=args.db_image, timeout=args.migrations_timeout)


def _check(args: argparse.Namespace, options: Any, out: Console, bar: _Bar) -> int:
    from .api import check, smoke, stale

    try:
        if args.command in ("stale", "smoke"):
            run, what = (
                (stale, _build_request(args))
                if args.command == "stale"
                else (smoke, _smoke_options(args))
            )
            report = run(
                args.target,
                options,
                what,
                select=tuple(args.select),
                ignore=tuple(args.ignore),
                progress=bar,
            )
        else:
            report = check(
                args.target,
                options,
                constraints=args.constraints,
                select=tuple(args.select),
                ignore=tuple(args.ignore),
                unpinned=args.unpinned,
                smoke=None if args.no_smoke else _smoke_options(args),
                build=_build_request(args),
                migrations=_migration_options(args, args.migrations or bool(args.db_image)),
                progress=bar,
            )
    finally:
        bar.stop()
    code = _emit(args, out, report)
    if getattr(args, "bundle", None) is not None:
        from .target import parse_target

        target = parse_target(args.target)
        _bundle(args, report, target.location if target.is_engine else None, {})
    if args.command == "stale" and args.prune:
        _prune(args, report)
    return code


def _prune(args: argparse.Namespace, report: Report) -> None:
    """Destructive: say exactly what goes, and ask unless --yes. A BuildKit image: the
    records of its own chain that the findings name, leaf first; a legacy one: the
    engine's dangling images (never a BuildKit prune, which would do nothing for it)."""
    import re

    from rich.console import Console as ErrConsole

    from .api import prune_build_cache
    from .host import built_with_buildkit

    err = ErrConsole(stderr=True)
    ids: tuple[str, ...] | None = None
    if built_with_buildkit(report.inventory.image.history):
        texts = [
            *(report.stale.commands if report.stale else ()),
            *(f.hint for f in report.findings),
        ]
        ids = tuple(dict.fromkeys(re.findall(r"--filter id=(\S+)", " ".join(texts))))
        if not ids:
            err.print("imagecheck: nothing to prune: no build cache record of this image is old")
            return
        what = (
            f"{len(ids)} build cache record(s) of this image's chain "
            "(docker builder prune -af --filter id=...)"
        )
    else:
        what = (
            "the engine's dangling images (docker image prune -f: the legacy builder's old "
            "cache), for every project on this engine"
        )
    if not args.yes:
        if not sys.stdin.isatty():
            err.print(
                f"imagecheck: not pruned: would remove {what}; --yes to prune without asking",
                soft_wrap=True,
            )
            return
        answer = err.input(f"Remove {what}? [y/N] ", markup=False)
        if answer.strip().lower() not in ("y", "yes"):
            err.print("imagecheck: not pruned", soft_wrap=True)
            return
    cache, images = prune_build_cache(ids)
    pruned = (
        f"{cache.deleted} build cache record(s)" if ids else f"{images.deleted} dangling image(s)"
    )
    freed = (cache.space + images.space) / 1e6
    err.print(f"imagecheck: pruned {pruned}: {freed:.1f} MB freed", soft_wrap=True)


def _is_service(args: argparse.Namespace, err: Console) -> bool:
    """Whether ``imagecheck WORD`` means a compose service. A bare word that is a service
    of the project found from here is that service, even where a folder of that name holds
    its build context; when WORD also names an image (a layout or archive here, an engine
    image), one line on stderr says which was chosen and how to ask for the other. A word
    spelled as a path or with a prefix is an image; so is a word that is no service but an
    image. Else the services are listed. Compose options always mean a service."""
    from .api import engine_has_image
    from .target import PREFIXES, image_at, spelled_as_path
    from .triage import find_files, load_project

    word: str = args.target
    compose_asked = bool(args.file or args.project_name or args.env_file)
    if args.implicit and not compose_asked:
        if word.partition(":")[0] in PREFIXES or spelled_as_path(word):
            return False
        try:
            find_files(Path.cwd())
        except BadInput:
            return False  # no compose file here: an image
        try:
            project = load_project(Path.cwd())
        except BadInput:
            if image_at(word) or engine_has_image(word):
                return False  # a broken compose file does not hide an image
            raise
    else:
        project = load_project(Path.cwd(), args.file, args.project_name, args.env_file)
    if word in project.service_names:
        if args.implicit and not compose_asked:
            _say_other_image(err, word, project.name, project.service(word).image_candidates)
        return True
    if args.implicit and (image_at(word) or engine_has_image(word)):
        return False
    project.service(word)  # raises: the one line that lists the services
    return True  # pragma: no cover - service() raised


def _say_other_image(err: Console, word: str, project: str, candidates: tuple[str, ...]) -> None:
    """A service that is also an image by name: say which was chosen, and the other spelling."""
    from rich.text import Text

    from .api import engine_has_image
    from .target import DOCKER_ARCHIVE, ENGINE, OCI_ARCHIVE, OCI_DIR, image_at

    kind = image_at(word)
    if kind is None and word not in candidates and f"{word}:latest" not in candidates:
        kind = ENGINE if engine_has_image(word) else None
    if kind is None:
        return
    what = {
        ENGINE: "an engine image",
        OCI_DIR: "an OCI layout folder",
        DOCKER_ARCHIVE: "a docker save archive",
        OCI_ARCHIVE: "an OCI archive",
    }[kind]
    line = (
        f"{word} is a service of compose project {project} and {what}: checking the service; "
        f"'imagecheck check {kind}:{word}' checks the image"
    )
    err.print(Text.assemble(("imagecheck: ", "yellow"), line), highlight=False, soft_wrap=True)


def _triage(args: argparse.Namespace, options: Any, out: Console, err: Console, bar: _Bar) -> int:
    """``imagecheck SERVICE``: the service's containers and image, one verdict."""
    from .api import triage
    from .errors import ExitCode

    if not _is_service(args, err):
        args.command = "check"
        if args.env_file is not None:  # not a compose project: the container's env file
            args.run_env_files = [*getattr(args, "run_env_files", ()), args.env_file]
        return _check(args, options, out, bar)
    if args.tail < 1:
        raise BadInput("--tail must be at least 1")
    try:
        report = triage(
            args.target,
            options,
            cwd=Path.cwd(),
            compose_files=tuple(args.file),
            project_name=args.project_name,
            env_file=args.env_file,
            constraints=args.constraints,
            select=tuple(args.select),
            ignore=tuple(args.ignore),
            unpinned=args.unpinned,
            smoke=None if args.no_smoke else _smoke_options(args),
            tail=args.tail,
            failures=tuple(args.failures),
            image=args.image,
            build=_build_request(args) if args.dockerfile or args.context else None,
            migrations=_migration_options(args, not args.no_migrations),
            since=args.since,
            progress=bar,
        )
    finally:
        bar.stop()
    code = _emit(args, out, report)
    if args.bundle is not None:
        run = report.triage
        image = run.image_ref if run is not None and run.image_source != "--image" else None
        compose = {
            "cwd": Path.cwd(),
            "compose_files": tuple(args.file),
            "project_name": args.project_name,
            "env_file": args.env_file,
        }
        _bundle(args, report, image, compose)
    if report.triage is not None and report.triage.engine_error is not None:
        from rich.text import Text

        read = "the compose file and --image say" if args.image else "the compose file says"
        line = f"{report.triage.engine_error}; reported what {read}"
        err.print(Text.assemble(("imagecheck: ", "bold red"), line), soft_wrap=True)
        return max(code, ExitCode.ENVIRONMENT)
    return code


def _bundle(
    args: argparse.Namespace, report: Report, image: str | None, compose: dict[str, Any]
) -> None:
    """``--bundle FILE``: the report as text (no colour) and JSON, and what a bug report
    needs besides, secrets redacted; one line on stderr says where it went."""
    import io

    from rich.console import Console
    from rich.text import Text

    from .api import bundle
    from .report import render_as, render_report

    def render(clean: Report) -> dict[str, str]:
        text = io.StringIO()
        console = Console(file=text, no_color=True, color_system=None, width=120)
        render_report(console, _for_host(clean), args.fail_on, verbose=True)
        return {
            "report.txt": text.getvalue(),
            "report.json": render_as("json", clean, args.fail_on),
        }

    from .triage import given_environment

    given = given_environment(
        tuple(getattr(args, "run_env_files", ())), tuple(getattr(args, "env", ()))
    )
    done = bundle(
        args.bundle,
        report,
        render,
        force=args.force,
        image=image,
        environment=given.pairs,
        **compose,
    )
    line = (
        f"bundle written to {done.path} ({len(done.members)} files, "
        f"{done.redacted} value(s) redacted; MANIFEST.json lists them)"
    )
    Console(stderr=True).print(Text.assemble(("imagecheck: ", "green"), line), soft_wrap=True)


def _lint(args: argparse.Namespace, out: Console) -> int:
    from .api import lint

    report = lint(
        args.files,
        constraints=args.constraints,
        select=tuple(args.select),
        ignore=tuple(args.ignore),
        resolve=args.resolve,
    )
    return _emit(args, out, report)


def _for_host(report: Report) -> Report:
    """The report's commands as this host runs them (README, "Commands for this host"):
    for people at this terminal; JSON and JUnit keep the spelling every host shares."""
    from dataclasses import replace

    from .host import built_with_buildkit, spell

    kit = built_with_buildkit(report.inventory.image.history)

    def fix(text: str) -> str:
        return spell(text, kit)

    stale, triage = report.stale, report.triage
    if stale is not None:
        stale = replace(stale, commands=tuple(map(fix, stale.commands)))
    if triage is not None:
        diagnosis = triage.diagnosis
        if diagnosis is not None:
            diagnosis = replace(diagnosis, fix=fix(diagnosis.fix))
        commands = tuple(map(fix, triage.commands))
        triage = replace(triage, reason=fix(triage.reason), commands=commands, diagnosis=diagnosis)
    findings = tuple(replace(f, hint=fix(f.hint)) for f in report.findings)
    return replace(report, findings=findings, stale=stale, triage=triage)


def _emit(args: argparse.Namespace, out: Console, report: Report | LintReport) -> int:
    """Write a check or lint report in ``--format``; the exit code says whether it failed."""
    if args.fail_on is None:  # argparse parents share actions: the default is set here
        args.fail_on = "warning" if args.command == "stale" else "error"
    from .report import failing, render_as, render_lint, render_report

    extra = [_report_file(item) for item in args.report]
    if args.format == "github":
        _step_summary(report, args.fail_on)
    if args.format in REPORT_FORMATS:
        _write(out, render_as(args.format, report, args.fail_on))
    elif isinstance(report, LintReport):
        render_lint(out, report, args.fail_on, verbose=args.verbose)
    else:
        render_report(out, _for_host(report), args.fail_on, verbose=args.verbose)
    for fmt, path in extra:
        try:
            path.write_text(render_as(fmt, report, args.fail_on), encoding="utf-8")
        except OSError as exc:
            raise BadInput(f"cannot write {path}: {exc.strerror}") from exc
    return ExitCode.FINDINGS if failing(report, args.fail_on) else ExitCode.OK


def _report_file(item: str) -> tuple[str, Path]:
    fmt, sep, path = item.partition("=")
    if not sep or not path or fmt not in REPORT_FORMATS:
        raise BadInput(
            f"--report {item}: want FORMAT=FILE, FORMAT one of {', '.join(REPORT_FORMATS)}"
        )
    return fmt, Path(path)


def _step_summary(report: Report | LintReport, fail_on: str) -> None:
    """``--format github`` in a workflow: the Markdown summary appended to the job's."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from .report import markdown_summary

    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown_summary(report, fail_on) + "\n")
    except OSError as exc:
        raise BadInput(f"cannot append to GITHUB_STEP_SUMMARY {target}: {exc.strerror}") from exc


def _reader_gone(console: Console) -> None:
    """stdout's reader went away (``imagecheck check IMG | head -3``). That is no failure
    of the check: the rest of the report goes nowhere and the exit code stays the verdict's
    (rich's own answer would be exit 1; Python's a traceback)."""
    console.quiet = True
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail either
    os.close(devnull)


def _stdout() -> Console:
    """The report's console: rich decides colour and width, and a closed pipe is quiet."""
    from rich.console import Console

    class Stdout(Console):
        def on_broken_pipe(self) -> None:
            _reader_gone(self)

    return Stdout()


def _write(out: Console, text: str) -> None:
    """A machine-readable report, written as it is (no rich markup or wrapping)."""
    try:
        out.file.write(text)
        out.file.flush()
    except BrokenPipeError:
        _reader_gone(out)


def _takes_value(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Every option of every command, and whether it is followed by a value."""
    table: dict[str, bool] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                table.update(_takes_value(command))
        for option in action.option_strings:
            table[option] = action.nargs != 0
    return table


def _command_first(argv: list[str], parser: argparse.ArgumentParser) -> tuple[list[str], bool]:
    """Options typed before the command word go after it (``imagecheck -f x.yml triage
    backend``, as docker and git take them), so that each command's parser sees its own.
    Without a command word the line is ``imagecheck TARGET``: ``triage``, which falls back
    to ``check``. Returns the reordered words and whether the command was implicit."""
    if argv and argv[0] in ("-h", "--help", "--version"):
        return argv, False
    table = _takes_value(parser)
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        word = argv[i]
        name = word.partition("=")[0] if word.startswith("--") else word
        if name in table:
            i += 2 if table[name] and name == word else 1
        elif word[:2] in table and not word.startswith("--"):
            i += 1  # -fcompose.yml, -vv
        else:
            break  # unknown: argparse says so
    if i < len(argv) and argv[i] in COMMANDS:
        return [argv[i], *argv[:i], *argv[i + 1 :]], False
    if not argv:
        return argv, False
    if i == len(argv) and any(w in ("-h", "--help") for w in argv):
        return ["--help"], False  # imagecheck --format json -h: the commands' list
    return ["triage", *argv], True  # plain ``imagecheck SERVICE`` or ``imagecheck TARGET``


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv, implicit = _command_first(list(sys.argv[1:] if argv is None else argv), parser)
    args = parser.parse_args(argv)
    args.implicit = implicit
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.BAD_INPUT
    from rich.console import Console
    from rich.text import Text

    err = Console(stderr=True)
    handle = None
    try:
        if args.output is not None:
            try:
                handle = open(args.output, "w", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise BadInput(f"cannot write {args.output}: {exc.strerror}") from exc
            out = Console(file=handle, no_color=True, width=160)
        else:
            out = _stdout()
        return _run(args, out, err)
    except ImagecheckError as exc:
        line = " ".join(str(exc).split())  # one line, whatever a library put in the message
        err.print(Text.assemble(("imagecheck: ", "bold red"), line), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("imagecheck: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if args.debug or os.environ.get("IMAGECHECK_DEBUG"):
            raise
        err.print(
            Text.assemble(
                ("imagecheck: internal error: ", "bold red"),
                f"{type(exc).__name__}: {exc} (rerun with --debug and report it)",
            ),
            highlight=False,
            soft_wrap=True,
        )
        return ExitCode.INTERNAL
    finally:
        if handle is not None:
            handle.close()
