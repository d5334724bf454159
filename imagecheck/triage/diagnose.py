"""Crashloop triage of a compose service: its containers, their logs, and why they fail.

``imagecheck backend`` starts here: the compose project says which containers and image
belong to the service, the engine says what state the containers are in and what they
last logged, and the known-failure table turns the last real error into a cause and a
fix. The image itself is then checked like any other (``api.triage``). Never prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EngineUnavailable, ImageNotFound
from ..model import (
    ContainerState,
    DependencyState,
    Diagnosis,
    Finding,
    Inventory,
    StaleVerdict,
    TriageRun,
)
from ..stale import BakedFacts, BuildRequest, baked_facts, rebuild_for
from ..timestamps import parse_timestamp
from .failures import Failure, classify
from .logs import Level, level_of, looks_like_error, unwrap

if TYPE_CHECKING:
    from ..engine import Engine
    from ..stale import FileReader
    from .compose import ComposeProject, ComposeService

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
#: A container restarted this recently and running again is still in its crash loop.
RECENT_RESTART_SECONDS = 120
#: Failures that live in the image: rebuilding it (without the stale cache) is the fix.
IMAGE_FAILURES = frozenset(
    {
        "numpy-abi",
        "libmagic",
        "bcrypt-72-bytes",
        "module-not-found",
        "shared-library-missing",
        "glibc-too-old",
    }
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CHAIN = (
    "During handling of the above exception",
    "The above exception was the direct cause",
)
_RANK = {"crashlooping": 0, "exited": 1, "running": 2, "clean": 3, "completed": 4}
#: Restart policies under which an exit with 0 is the end of the job: the engine does not
#: start the container again.
_ONE_SHOT_POLICIES = ("", "no", "on-failure")
#: A dependency's client errors quoted in a diagnosis, the newest.
RELATED_LINES = 3
#: PostgreSQL's position of the error in the statement, which its clients do not repeat.
_AT_CHARACTER = re.compile(r" at character \d+$")


# --- containers ----------------------------------------------------------------------------


def service_containers(engine: Engine, project: str, service: str) -> tuple[ContainerState, ...]:
    """The service's containers, found by the labels compose (v1 and v2) puts on them."""
    listed = engine.container_ids([f"{PROJECT_LABEL}={project}", f"{SERVICE_LABEL}={service}"])
    states = []
    for cid in listed:
        try:
            states.append(engine.inspect_container(cid))
        except ImageNotFound:
            continue  # removed between the list and its inspect (compose down, a rerun)
    return tuple(sorted(states, key=lambda s: s.name))


def container_status(
    state: ContainerState, now: datetime | None = None, one_shot: bool = False
) -> str:
    """ "crashlooping", "exited" (with an error), "running", "completed" (a one-shot job
    that exited 0: no restart policy, or ``one_shot``, another service waits for it to
    complete), or "clean" (exited 0 where the engine would restart it: stopped)."""
    if state.restarting or state.status == "restarting":
        return "crashlooping"
    if state.status in ("running", "paused"):
        started = parse_timestamp(state.started_at)
        now = now or datetime.now(timezone.utc)
        recent = started is not None and (now - started).total_seconds() < RECENT_RESTART_SECONDS
        return "crashlooping" if state.restart_count and recent else "running"
    if state.exit_code or state.oom_killed:
        return "exited"
    if state.status == "created":  # never started: waiting for a dependency, or up --no-start
        return "clean"
    return "completed" if one_shot or state.restart_policy in _ONE_SHOT_POLICIES else "clean"


def worst_container(
    containers: tuple[ContainerState, ...], now: datetime | None = None, one_shot: bool = False
) -> tuple[str, ContainerState | None]:
    """The service's status and the container it comes from: the one failing worst."""
    if not containers:
        return "no-container", None
    ranked = sorted(containers, key=lambda c: _RANK[container_status(c, now, one_shot)])
    status = container_status(ranked[0], now, one_shot)
    return ("exited" if status == "clean" else status), ranked[0]


def _when(value: str | None) -> str:
    """An engine timestamp to the second, in UTC."""
    parsed = parse_timestamp(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC") if parsed else "an unknown time"


def describe_run(state: ContainerState) -> str:
    """Which run of the container the engine's state describes, and how it ended; a
    running container's ExitCode is 0 and says nothing about the run before it.

    The engine counts a restart when it decides to restart (RestartCount), so a container
    restarting with RestartCount N has just ended run N; one running has N + 1 runs."""
    n = state.restart_count
    oom = ", killed for memory (OOMKilled)" if state.oom_killed else ""
    if state.restarting or state.status == "restarting":
        return f"restarting; run {n} exited {state.exit_code}{oom} at {_when(state.finished_at)}"
    if state.status in ("running", "paused"):
        paused = " (paused)" if state.status == "paused" else ""
        since = f"run {n + 1}{paused} since {_when(state.started_at)}"
        if not n:
            return since
        return f"{since}, after {n} restart(s); run {n} ended at {_when(state.finished_at)}"
    if state.status == "created":
        return "created, never started"
    runs = f" after {n} restart(s)" if n else ""
    ended = f"exited {state.exit_code}{oom} at {_when(state.finished_at)}"
    return f"run {n + 1} {ended}{runs}" if n else ended


# --- the diagnosis -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    """A traceback (its text, its final exception line) or a single log line."""

    text: str
    evidence: str
    traceback: bool
    complete: bool = True  # a traceback that reached its exception line
    level: Level | None = None  # what its first line states ("ERROR:    Traceback ...")


def _blocks(lines: list[str]) -> Iterator[_Block]:
    """Tracebacks as one block each (chained ones together), every other line alone."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if "Traceback (most recent call last)" not in line:
            # a message may wrap onto the next line ("cannot be run in\nNumPy 2")
            following = lines[i + 1] if i + 1 < len(lines) else ""
            yield _Block(f"{line}\n{following}", line.strip(), False, level=level_of(line))
            i += 1
            continue
        start, last = i, ""
        i += 1
        while i < len(lines):
            current = lines[i]
            # frames: indented, or inside rich's box (│ ... │, its ╰──╯ bottom)
            if current[:1].isspace() or not current.strip() or current[:1] in "│╭╰":
                i += 1
                continue
            if current.startswith(_CHAIN) or "Traceback (most recent call last)" in current:
                i += 1
                continue
            last = current.strip()
            i += 1
            # the next line continues the chain or ends the traceback
            if i < len(lines) and (
                lines[i].startswith(_CHAIN) or (not lines[i].strip() and _chained(lines, i))
            ):
                continue
            break
        text = "\n".join(lines[start:i])
        yield _Block(text, last or lines[i - 1].strip(), True, bool(last), level_of(lines[start]))


def _chained(lines: list[str], i: int) -> bool:
    """A blank line followed by "During handling ..." still belongs to the traceback."""
    j = i
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j < len(lines) and lines[j].startswith(_CHAIN)


def _own_match(block: _Block, table: tuple[Failure, ...]) -> Failure | None:
    """The failure a block shows; a match owed to the next line alone belongs to that line."""
    failure = classify(block.text, table)
    if failure is None or block.traceback:
        return failure
    following = block.text.split("\n", 1)[1]
    return None if following and failure.matches(following) else failure


def _from_failure(failure: Failure, evidence: str, source: str = "logs") -> Diagnosis:
    return Diagnosis(
        failure.id, failure.title, failure.cause, failure.fix, evidence, failure.harmless, source
    )


def diagnose(
    log_text: str, state: ContainerState | None, table: tuple[Failure, ...]
) -> Diagnosis | None:
    """Why the container fails: OOMKilled from its state first, else the LAST real error
    of the logs (a traceback's final exception line is the evidence), else the last line
    at error level (``logs.level_of``); a known harmless message only when nothing else is
    found. Lines a console wrapped are joined first; a database's record of its clients'
    failures is theirs (``_not_a_cause``)."""
    if state is not None and state.oom_killed:
        oom = next((f for f in table if f.id == "oom-killed"), None)
        evidence = f"State.OOMKilled=true (exit code {state.exit_code})"
        if oom is not None:
            return _from_failure(oom, evidence, "state")
    lines = unwrap(_ANSI.sub("", log_text).splitlines())
    serving = state is not None and container_status(state) == "running"
    real: Diagnosis | None = None
    harmless: Diagnosis | None = None
    loose: str | None = None  # the last line at error level, known or not
    for block in _blocks(lines):
        failure = _own_match(block, table)
        if failure is not None and failure.harmless:
            harmless = _from_failure(failure, block.evidence)
        elif _not_a_cause(block.level, serving):
            continue
        elif failure is not None:
            real = _from_failure(failure, block.evidence)
        elif block.traceback and not _cut_short(block, real):
            real = _unknown(block.evidence)
        elif not block.traceback and looks_like_error(block.evidence):
            loose = block.evidence
    if real is not None:
        return real
    if loose is not None:
        return _unknown(loose)
    return harmless


def _not_a_cause(level: Level | None, serving: bool) -> bool:
    """A line below error level, or a database server's record of a client's failed
    statement (PostgreSQL's ERROR) or session (FATAL, while the server keeps serving):
    the client's failure, quoted in the client's diagnosis instead (``client_errors``)."""
    if level is None:
        return False
    if not level.error:
        return True
    return level.client_error and (level.written == "ERROR" or serving)


def client_errors(
    log_text: str, since: str | None = None, client_log: str | None = None
) -> tuple[str, ...]:
    """The clients' failures a database server logged (PostgreSQL's ERROR and FATAL
    lines, with the STATEMENT after them), since ``since`` when the lines are dated; with
    ``client_log``, only those whose message the client logged too (its driver quotes
    the server's message): the failures of that client, not of another."""
    start = parse_timestamp(since)
    lines = _ANSI.sub("", log_text).splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        level = level_of(line)
        if level is None or not level.client_error:
            continue
        stamp = parse_timestamp(level.stamp.replace(" ", "T", 1) if level.stamp else None)
        if start is not None and stamp is not None and stamp < start:
            continue
        said = _AT_CHARACTER.sub("", level.message)
        if client_log is not None and said not in client_log:
            continue
        text = f"{level.written}:  {level.message}"
        after = level_of(lines[i + 1]) if i + 1 < len(lines) else None
        if after is not None and after.written == "STATEMENT":
            text += f" (STATEMENT:  {after.message})"
        out.append(text)
    return tuple(out)


def _cut_short(block: _Block, earlier: Diagnosis | None) -> bool:
    """The newest run's traceback read while it was still being written (the log is
    copied asynchronously): no exception line yet, or the start of the earlier one.
    The earlier, whole report of the same crash is the better evidence."""
    if earlier is None:
        return False
    return not block.complete or earlier.evidence.startswith(block.evidence)


def _unknown(line: str) -> Diagnosis:
    return Diagnosis(
        None,
        "an error the table of known failures does not know",
        "The container's last error is not a known failure; the line is quoted verbatim.",
        "Read the whole log (docker compose logs SERVICE); add the message to a failures file "
        "([[failure]] as in imagecheck/triage/failures.toml) to have it explained next time.",
        line,
    )


# --- the image -----------------------------------------------------------------------------


def tag_images(engine: Engine, service: ComposeService) -> dict[str, str]:
    """The images the service's names point to now (``image:``, else compose v2's and v1's
    default names), by name in that order, for those the engine has: asked once, for both
    the image to check and whether the container still runs what its tag names."""
    found: dict[str, str] = {}
    for ref in service.image_candidates:
        try:
            found[ref] = engine.inspect_image(ref).id
        except ImageNotFound:
            continue
    return found


def resolve_image(
    service: ComposeService, container: ContainerState | None, tags: dict[str, str]
) -> tuple[str | None, str, str]:
    """(reference, how it was found, why none was): the container's image first (what
    really crashes; by the tag's name when the tag still points to it, else by its ID),
    else ``image:``, else compose v2's then v1's default name, if built."""
    candidates = service.image_candidates
    if container is not None and container.image_id:
        named = (ref for ref, image_id in tags.items() if image_id == container.image_id)
        return next(named, container.image_id), "container", ""
    source = ("image:",) if service.image else ("compose v2 name", "compose v1 name")
    for ref, how in zip(candidates, source, strict=False):
        if ref in tags:
            return ref, how, ""
    verb = "pulled" if service.image and service.build is None else "built"
    return None, "", f"the engine has no image {' or '.join(candidates)}: it was never {verb}"


def image_drift(container: ContainerState, tags: dict[str, str]) -> str | None:
    """The tag the service names, when it now points to another image than the container
    runs (rebuilt or pulled, but the container was not recreated)."""
    for ref, current in tags.items():
        return ref if current and current != container.image_id else None
    return None


# --- gathering -----------------------------------------------------------------------------


def gather(
    project: ComposeProject,
    service: ComposeService,
    engine: Engine | None,
    table: tuple[Failure, ...],
    *,
    tail: int = 200,
    engine_error: str | None = None,
) -> TriageRun:
    """Everything the compose file and the engine say about ``service`` (``engine`` None:
    only the compose file, and ``engine_error`` says why)."""
    build = service.build
    base = TriageRun(
        service=service.name,
        project=project.name,
        compose_files=tuple(str(f) for f in project.files),
        status="skipped",
        reason="",
        build_context=str(build.context) if build and build.context else None,
        dockerfile=str(build.dockerfile) if build and build.dockerfile else None,
        warnings=project.warnings,
    )
    if engine is None:
        reason = "no Docker engine: the containers and the image were not looked at"
        return replace(base, reason=reason, engine_error=engine_error or "unreachable")
    try:
        containers = service_containers(engine, project.name, service.name)
        status, worst = worst_container(containers, one_shot=project.one_shot(service.name))
        logs, diagnosis = "", None
        if worst is not None:
            logs = engine.container_logs(worst.id, tail)
            diagnosis = diagnose(logs, worst, table)
        if diagnosis is not None and not diagnosis.harmless and worst is not None:
            since = worst.started_at if status == "running" else None
            related = _dependencies_errors(
                engine, project, service, tail, since=since, own_log=logs
            )
            diagnosis = replace(diagnosis, related=related)
        dependencies = dependency_states(engine, project, service, table, tail=tail)
        tags = tag_images(engine, service)
        image_ref, how, missing = resolve_image(service, worst, tags)
        newer = image_drift(worst, tags) if worst is not None else None
    except EngineUnavailable as exc:
        return gather(project, service, None, table, tail=tail, engine_error=str(exc))
    reason = _reason(status, worst, len(containers))
    if missing:
        reason += f"; {missing}"
    return replace(
        base,
        status=status,
        reason=reason,
        containers=containers,
        log_tail=logs,
        diagnosis=diagnosis,
        image_ref=image_ref,
        image_source=how,
        newer_image=newer,
        dependencies=dependencies,
    )


#: A dependency in one of these states cannot serve the service.
DOWN = frozenset({"exited", "restarting", "unhealthy", "not created", "created"})


def dependency_states(
    engine: Engine,
    project: ComposeProject,
    service: ComposeService,
    table: tuple[Failure, ...] = (),
    *,
    tail: int = 200,
    now: datetime | None = None,
) -> tuple[DependencyState, ...]:
    """Each ``depends_on`` service's state (``DOWN`` ones with their last logged error)."""
    out: list[DependencyState] = []
    for name, condition in service.depends_on:
        containers = service_containers(engine, project.name, name)
        if not containers:
            out.append(DependencyState(name, condition, "not created", "no container"))
            continue
        status, worst = worst_container(containers, now, one_shot=project.one_shot(name))
        assert worst is not None  # noqa: S101 - containers is not empty
        if worst.status == "created":
            state = "created"
        elif status == "crashlooping":
            state = "restarting"
        elif status == "running" and worst.health in ("healthy", "unhealthy", "starting"):
            state = worst.health
        else:
            state = status
        error = ""
        if state in DOWN and state != "not created":
            found = diagnose(engine.container_logs(worst.id, tail), worst, table)
            error = found.evidence if found is not None and not found.harmless else ""
        out.append(
            DependencyState(
                name,
                condition,
                state,
                describe_run(worst),
                worst.health is not None,
                worst.name,
                error,
            )
        )
    return tuple(out)


def database_candidates(
    engine: Engine, project: ComposeProject, service: ComposeService
) -> list[tuple[str, str]]:
    """(service, container id) of the project's other services, ``depends_on`` first:
    where the stack's database may run."""
    order = [d for d, _ in service.depends_on]
    order += [s for s in project.service_names if s not in order and s != service.name]
    return [(name, c.id) for name in order for c in service_containers(engine, project.name, name)]


def _dependencies_errors(
    engine: Engine,
    project: ComposeProject,
    service: ComposeService,
    tail: int,
    *,
    since: str | None,
    own_log: str,
) -> tuple[str, ...]:
    """What the services ``service`` depends on (its database) logged about its failed
    requests (those its own log mentions, since its container started when it runs):
    evidence of its failure, not of theirs."""
    out: list[str] = []
    for dependency, _ in service.depends_on:
        for container in service_containers(engine, project.name, dependency):
            lines = client_errors(engine.container_logs(container.id, tail), since, own_log)
            out.extend(f"{dependency} logged: {line}" for line in lines)
    return tuple(out[-RELATED_LINES:])


def _reason(status: str, state: ContainerState | None, count: int) -> str:
    """The header: what the engine reports about the container, and which run it is."""
    if state is None:
        return "no container of this service (docker compose up has not run it)"
    of = f" ({count} containers)" if count > 1 else ""
    run = describe_run(state)
    if status == "crashlooping":
        return f"{state.name} is crashlooping: {run}{of}"
    if status == "running":
        health = f", {state.health}" if state.health else ""
        return f"{state.name} is running ({run}{health}){of}"
    if status == "completed":
        return f"{state.name} completed its job: {run} (a one-shot service){of}"
    return f"{state.name} {run}{of}"


# --- what to run ---------------------------------------------------------------------------


def _code_only(errors: list[Finding], stale: list[Finding], failure: str | None) -> bool:
    """The image is what its source builds, and the source is wrong (the application's
    import, its mappers, its migrations): a rebuild after the fix, no cache to drop."""
    own = ("IC8", "IC9")
    return (
        bool(errors)
        and not stale
        and failure is None
        and all(f.code.startswith(own) for f in errors)
    )


def commands(
    run: TriageRun,
    findings: tuple[Finding, ...],
    has_build: bool,
    verdict: StaleVerdict | None = None,
) -> tuple[str, ...]:
    """The commands of the verdict, in the order to run them. The build cache advice is
    the staleness verdict's, for the builder that made the image: a BuildKit image's exact
    ``docker builder prune --filter id=`` (none when no record holds its stale layers), a
    legacy image's ``--no-cache`` rebuild only (BuildKit's prune does nothing for it).
    ``host.spell`` adds ``DOCKER_BUILDKIT=1`` for the terminal where it is needed."""
    name = run.service
    out: list[str] = []
    failure = run.diagnosis.failure_id if run.diagnosis else None
    image_errors = [f for f in findings if f.severity == "error" and not f.code.startswith("IC7")]
    for f in findings:
        if f.code == "IC860":  # a dependency down: bring it up before the service
            out.append(f"docker compose logs --tail 200 {f.subject}")
            out.append(f"docker compose up -d {f.subject}")
    if failure == "db-behind-models" or any(f.code in ("IC855", "IC857") for f in findings):
        out.append(f"docker compose run --rm {name} alembic upgrade head")
    stale = [f for f in findings if f.code.startswith("IC60") and f.severity != "info"]
    cache_codes = ("IC203", "IC603", "IC605", "IC607")
    stale_cache = failure == "libmagic" or any(f.code in cache_codes for f in image_errors + stale)
    never_built = any(f.code == "IC708" for f in findings)
    if failure in IMAGE_FAILURES or image_errors or stale or never_built:
        if not has_build:
            out.append(f"docker compose pull {name}")
        elif never_built or _code_only(image_errors, stale, failure):
            out.append(f"docker compose build {name}")  # after the fix the findings name
        else:
            if stale_cache and verdict is not None:
                out.extend(c for c in verdict.commands if " prune " in c)
            out.append(f"docker compose build --no-cache {name}")
    if failure is None and run.diagnosis is not None:
        out.append(f"docker compose logs --tail 200 {name}")
    drifted = any(f.code == "IC709" for f in findings)
    if out or run.status in ("crashlooping", "exited", "no-container") or drifted:
        recreate = " --force-recreate" if run.containers else ""
        out.append(f"docker compose up -d{recreate} {name}")
    return tuple(dict.fromkeys(out))


__all__ = [
    "DOWN",
    "IMAGE_FAILURES",
    "PROJECT_LABEL",
    "SERVICE_LABEL",
    "client_errors",
    "commands",
    "container_status",
    "database_candidates",
    "dependency_states",
    "describe_run",
    "diagnose",
    "gather",
    "image_drift",
    "resolve_image",
    "service_baked",
    "service_containers",
    "tag_images",
    "worst_container",
]


def service_baked(reader: FileReader, inv: Inventory, svc: ComposeService) -> BakedFacts:
    """What the service's configuration gives its image now (``environment:``/``env_file:``,
    ``build.args``), beside what the image's build baked in (IC93x)."""
    args = tuple((k, v) for k, v in (svc.build.args if svc.build else ()) if v is not None)
    return baked_facts(
        reader,
        inv,
        rebuild=rebuild_for(svc.name, inv, {}),
        service=svc.name,
        environment=svc.environment,
        environment_how=f"compose service {svc.name!r} environment:/env_file:",
        build_args=args,
        build_args_how=f"compose service {svc.name!r} build.args",
    )


def service_build(svc: ComposeService, folder: Path) -> BuildRequest:
    """The staleness checks of a compose service: its ``build:`` (context, Dockerfile,
    args, target), else ``./Dockerfile`` of the project when the history matches it."""
    spec = svc.build
    if spec is None or spec.context is None or spec.dockerfile is None:
        return BuildRequest(cwd=folder, service=svc.name)
    args = tuple((k, v) for k, v in spec.args if v is not None)
    how = f"compose service {svc.name!r}: build {spec.context}"
    return BuildRequest(spec.dockerfile, spec.context, args, spec.target, svc.name, how)
