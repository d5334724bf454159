"""Smoke tests: import what the image's Python has installed, in one throwaway container.

``plan`` turns the inventory into the runner's items (every top-level import name of
every distribution the runtime interpreter sees, minus the known non-importables,
plus configured imports and probes); ``run_smoke`` hands them to
``probe/runner.py`` inside the image through the engine and reads the results back.
What the results mean (findings, hints) is ``checks/smoke.py``'s business.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..app import plan_entry, runner_config
from ..engine import Engine, Shared, Throwaway, shared
from ..errors import BadInput, EngineUnavailable, EnvironmentProblem, ImageNotFound
from ..image import Progress, ProgressFn, no_progress
from ..model import AppEntry, Inventory, ModuleResult, PythonDist, SmokeRun, canonical
from ..target import CONTAINERD, DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR, PODMAN, REGISTRY, Target
from ..tomlfile import load_toml_file, load_toml_text

LABEL = "imagecheck.smoke"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True, slots=True)
class SmokeOptions:
    imports: tuple[str, ...] = ()  # imported too, e.g. "scipy.stats"
    skip: tuple[str, ...] = ()  # never imported (a name skips its submodules too)
    python: str | None = None  # the interpreter; None: the inventory's runtime one
    module_timeout: float = 60.0
    timeout: float = 600.0  # the whole run
    mem_limit: str = "2g"
    probes: bool = True
    probe_files: tuple[Path, ...] = ()
    user: str | None = None  # None: the image's USER
    # The application (IC80x): found from CMD unless ``app`` ("app.main:app") is given.
    app_step: bool = True
    app: str | None = None
    app_how: str = ""  # where ``app`` was configured ("--app", "pyproject.toml ...")
    # A compose service's: ``command:``/``entrypoint:`` overrides and its environment.
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    service_how: str = ""  # "compose service 'backend' command:"
    environment: tuple[tuple[str, str], ...] = ()
    # Where ``environment`` came from ("--env-file .env", "compose service 'backend' ...");
    # with none, the image's own ENV is all the application gets (IC808 is a warning then).
    environment_from: tuple[str, ...] = ()
    environment_note: str = ""  # why a compose file nearby was not used
    compose_environment: bool = True  # check: use the compose service that builds the image
    # As typed: ``--env-file`` paths and ``--env NAME[=VALUE]``; the pipeline resolves them
    # into ``environment`` once (api), after the compose service's.
    env_files: tuple[Path, ...] = ()
    env: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Probe:
    """A short functional snippet, run when all its distributions are installed."""

    name: str
    distributions: tuple[str, ...]
    imports: tuple[str, ...]  # import names it needs; skipped when one failed
    code: str


def _data() -> dict[str, Any]:
    return load_toml_text(resources.files("imagecheck.smoke").joinpath("smoke.toml").read_text())


def default_skips() -> frozenset[str]:
    return frozenset(str(n) for n in _data().get("skip", []))


def load_probes(extra: tuple[Path, ...] = ()) -> tuple[Probe, ...]:
    """The shipped probes, then each user file's ``[[probe]]`` (same shape)."""
    docs: list[tuple[str, dict[str, Any]]] = [("smoke.toml", _data())]
    docs += [(str(p), load_toml_file(p)) for p in extra]
    probes: list[Probe] = []
    for origin, doc in docs:
        for n, item in enumerate(doc.get("probe", []), 1):
            try:
                probes.append(
                    Probe(
                        str(item["name"]),
                        tuple(canonical(d) for d in item["distributions"]),
                        tuple(str(i) for i in item.get("imports", [])),
                        str(item["code"]),
                    )
                )
            except (KeyError, TypeError) as exc:
                raise BadInput(f"{origin}: probe #{n} needs name, distributions and code") from exc
    return tuple(probes)


def runtime_dists(inv: Inventory) -> list[PythonDist]:
    """Live distributions the runtime interpreter imports from."""
    on_path = {e.path for e in inv.environments if e.on_runtime_path}
    return [d for d in inv.python if d.live and (not on_path or d.environment in on_path)]


def _skipped(name: str, skips: frozenset[str]) -> bool:
    parts = name.split(".")
    return any(".".join(parts[: n + 1]) in skips for n in range(len(parts)))


def plan(inv: Inventory, opts: SmokeOptions) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The runner's items, and which distribution provides each import name."""
    skips = default_skips() | set(opts.skip)
    owner: dict[str, str] = {}
    dists = runtime_dists(inv)
    for dist in sorted(dists, key=lambda d: canonical(d.name)):
        for name in dist.import_names:
            if _IDENTIFIER.match(name) and not _skipped(name, frozenset(skips)):
                owner.setdefault(name, dist.name)
    names = [*owner]
    names += [n for n in opts.imports if n not in owner and _IDENTIFIER.match(n)]
    # "listed": the name comes from a distribution's metadata, which may name modules
    # that do not exist; the runner skips those instead of failing them.
    items: list[dict[str, Any]] = [
        {"kind": "import", "name": n, "listed": n in owner} for n in names
    ]
    if opts.probes:
        installed = {canonical(d.name) for d in dists}
        for probe in load_probes(opts.probe_files):
            if all(d in installed for d in probe.distributions):
                needs = list(probe.imports)
                items.append(
                    {"kind": "probe", "name": probe.name, "code": probe.code, "needs": needs}
                )
                owner.setdefault(probe.name, dists_name(dists, probe.distributions[0]))
    return items, owner


def dists_name(dists: list[PythonDist], key: str) -> str:
    return next((d.name for d in dists if canonical(d.name) == key), key)


def runner_source() -> str:
    return resources.files("imagecheck.smoke").joinpath("probe/runner.py").read_text()


def _result(record: dict[str, Any], owner: dict[str, str]) -> ModuleResult:
    warnings = tuple(
        f"{w.get('category')}: {w.get('message')} ({w.get('where')})"
        for w in record.get("warnings") or ()
    )
    logs = tuple(
        f"{r.get('level')} {r.get('logger')}: {r.get('message')}" for r in record.get("logs") or ()
    )
    name = str(record.get("name", "?"))
    signal = record.get("signal")
    if signal is None and record.get("exit_code") is not None:
        signal = f"exit {record['exit_code']}"
    return ModuleResult(
        kind=str(record.get("kind", "import")),
        name=name,
        status=str(record.get("status", "error")),
        seconds=float(record.get("seconds") or 0.0),
        distribution=owner.get(name),
        exc_type=record.get("exc_type"),
        last_line=record.get("last_line"),
        traceback_tail=record.get("traceback_tail"),
        signal=signal,
        output=str(record.get("output") or ""),
        warnings=warnings,
        logs=logs,
        reason=str(record.get("reason") or ""),
        location=record.get("location"),
        close_names=tuple(str(n) for n in record.get("close_names") or ()),
        missing_env=tuple(str(n) for n in record.get("missing_env") or ()),
        role=record.get("role"),
    )


def run_smoke(
    engine: Engine,
    image: str,
    inv: Inventory,
    opts: SmokeOptions,
    progress: ProgressFn = no_progress,
) -> SmokeRun:
    """Run the plan in one throwaway container of ``image`` (an engine image ID)."""
    interp = opts.python or (inv.interpreter.path if inv.interpreter else None)
    if interp is None:
        return SmokeRun("skipped", "no Python interpreter found in the image (--python sets one)")
    items, owner = plan(inv, opts)
    entry = app_entry(inv, opts)
    document: dict[str, Any] = {"items": items, "module_timeout": opts.module_timeout}
    if entry is not None and entry.found:
        mappers = any(canonical(d.name) == "sqlalchemy" for d in runtime_dists(inv))
        document["app"] = runner_config(entry, mappers=mappers, timeout=opts.module_timeout)
    elif not items:
        return SmokeRun("skipped", "nothing to import", interp, app=entry)
    spec = Throwaway(
        image=image,
        entrypoint=(interp,),
        command=("-c", runner_source(), json.dumps(document)),
        timeout=opts.timeout,
        mem_limit=opts.mem_limit,
        pids_limit=max(256, 2 * len(items) + 64) + (1024 if "app" in document else 0),
        labels={LABEL: "1"},
        user=opts.user,
        environment=tuple(f"{k}={v}" for k, v in opts.environment),
    )
    results: list[ModuleResult] = []
    seen: dict[str, Any] = {}
    alone: dict[str, str] = {}

    def on_line(line: str) -> None:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return  # not ours: nothing else should write here, but never trust it
        kind = record.get("kind") if isinstance(record, dict) else None
        if kind in ("start", "end", "app-plan"):
            seen[kind] = record
            return
        if kind == "alone":
            alone[str(record.get("name"))] = str(record.get("status"))
            return
        if isinstance(record, dict):
            results.append(_result(record, owner))
            progress(Progress("smoke", len(results), len(items), str(record.get("name", ""))))

    progress(Progress("smoke", 0, len(items)))
    started = time.perf_counter()
    try:
        outcome = engine.run_throwaway(spec, on_line)
    except (EngineUnavailable, ImageNotFound):
        raise
    except EnvironmentProblem as exc:
        return SmokeRun("failed", f"the container did not run: {exc}", interp)
    elapsed = round(time.perf_counter() - started, 3)
    python_version = seen.get("start", {}).get("python")
    results = [
        dataclasses.replace(r, alone=alone[r.name]) if r.kind == "import" and r.name in alone else r
        for r in results
    ]
    app_plan = seen.get("app-plan", {})
    app_modules = tuple(str(m) for m in app_plan.get("modules") or ())
    if app_plan.get("status") == "missing" and entry is not None:
        results.append(
            ModuleResult(
                "app",
                entry.path or " or ".join(entry.candidates),
                "error",
                exc_type="builtins.FileNotFoundError",
                last_line=str(app_plan.get("reason")),
                role="entry",
            )
        )
    done = {(r.kind, r.name) for r in results}
    planned = [
        *items,
        *(
            {"kind": "mappers" if "configure_mappers" in m else "app", "name": m}
            for m in app_modules
        ),
    ]
    rest = [i for i in planned if (i["kind"], i["name"]) not in done]
    if outcome.timed_out:
        status, reason = "timeout", f"the whole run took over {opts.timeout:g} s and was stopped"
    elif "end" not in seen:
        why = "it was killed for memory" if outcome.oom_killed else f"exit {outcome.exit_code}"
        status, reason = "failed", f"the runner stopped before the end ({why})"
    else:
        status, reason = "ran", f"{len(results)} item(s) in {elapsed:g} s"
    for n, item in enumerate(rest):
        in_progress = n == 0 and status == "timeout"
        results.append(
            ModuleResult(
                item["kind"],
                item["name"],
                "timeout" if in_progress else "not-run",
                distribution=owner.get(item["name"]),
                reason="running when the overall timeout hit" if in_progress else reason,
            )
        )
    return SmokeRun(
        status,
        reason,
        interp,
        python_version,
        elapsed,
        tuple(results),
        outcome.stderr_tail,
        app=entry,
        app_modules=app_modules,
        environment_from=opts.environment_from,
        environment_note=opts.environment_note,
    )


def app_entry(inv: Inventory, opts: SmokeOptions) -> AppEntry | None:
    """The application to import with the distributions; None when that step is off."""
    if not opts.app_step:
        return None
    return plan_entry(
        inv,
        configured=opts.app,
        configured_how=opts.app_how,
        command=opts.command,
        entrypoint=opts.entrypoint,
        how=opts.service_how,
        environment=opts.environment,
    )


def smoke_image(
    target: Target,
    inv: Inventory,
    opts: SmokeOptions,
    progress: ProgressFn = no_progress,
    engine: Shared | None = None,
) -> SmokeRun:
    """Run the smoke tests of an inventoried image, or say why they cannot run.

    The static checks never depend on this: with no engine, or an archive the engine
    has not loaded, the smoke run is skipped with the reason.
    """
    with shared(engine) as once:
        try:
            connected = once.get()
        except EngineUnavailable as exc:
            return SmokeRun("skipped", f"no Docker engine to run the image in ({exc})")
        try:
            if target.kind in (DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR, REGISTRY, CONTAINERD, PODMAN):
                try:
                    connected.inspect_image(inv.image.id)
                except ImageNotFound:
                    fetch = {
                        REGISTRY: f"docker pull {target.location}",
                        CONTAINERD: "ctr images export - NAME | docker load",
                        PODMAN: "podman image save NAME | docker load (podman is not used "
                        "to start containers)",
                    }.get(target.kind, "docker load -i ARCHIVE")
                    return SmokeRun(
                        "skipped",
                        f"the engine has not loaded this image ({inv.image.id[:19]}); "
                        f"smoke tests run images in the engine: {fetch}",
                    )
            return run_smoke(connected, inv.image.id, inv, opts, progress)
        except EngineUnavailable as exc:
            return SmokeRun("skipped", f"the Docker engine went away ({exc})")
