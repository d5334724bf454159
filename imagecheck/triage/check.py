"""IC7xx: a compose service's containers, as ``imagecheck SERVICE`` found them.

The containers' state and the diagnosis of their logs (``imagecheck.triage``) become
findings, so they join the image's findings in one verdict and one exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..codes import (
    IC701,
    IC702,
    IC703,
    IC704,
    IC705,
    IC706,
    IC707,
    IC708,
    IC709,
    IC710,
    IC860,
    IC861,
    IC862,
)
from ..model import ContainerState, Diagnosis, Finding, TriageRun

if TYPE_CHECKING:
    from ..checks import Context


def _state(run: TriageRun) -> ContainerState | None:
    """The container the diagnosis is about: the one failing worst (listed first)."""
    from .diagnose import worst_container

    return worst_container(run.containers)[1]


def _related(d: Diagnosis) -> str:
    """What the service's dependencies logged about its requests, appended as evidence."""
    return "".join(f"; {line}" for line in d.related)


def _failing(run: TriageRun, state: ContainerState) -> Finding | None:
    """IC701-IC703: the service crashloops or exited with an error."""
    failed = run.status == "crashlooping" or (
        run.status == "exited" and (state.exit_code or state.oom_killed)
    )
    if not failed:
        return None
    from .diagnose import describe_run

    how = f"{run.status} ({describe_run(state)})"
    d = run.diagnosis
    if d is not None and d.source == "state":
        return IC703.finding(
            subject=run.service,
            message=f"{how}: {d.title} ({d.evidence})",
            hint=d.fix,
        )
    if d is not None and not d.harmless and d.failure_id is not None:
        message = f"{how}: {d.title}; log: {d.evidence}{_related(d)}"
        return IC701.finding(
            subject=run.service,
            message=message,
            hint=d.fix,
        )
    line = d.evidence if d is not None and not d.harmless else "(no error in the last log lines)"
    also = _related(d) if d is not None and not d.harmless else ""
    return IC702.finding(
        subject=run.service,
        message=(
            f"{how}, for a reason the table of known failures does not know; last error: "
            f"{line}{also}"
        ),
        hint=f"docker compose logs --tail 200 {run.service} shows the whole log; add the message "
        "to a failures file ([[failure]] as in imagecheck/triage/failures.toml) to explain it",
    )


def check_triage(ctx: Context) -> Iterator[Finding]:
    run = ctx.triage
    if run is None:
        return
    if run.engine_error is not None:
        yield IC707.finding(
            subject=run.service,
            message=(
                "the Docker engine cannot be reached: the containers and the image were not "
                "looked at; this report says what the compose file says"
            ),
            hint="start the engine (systemctl start docker) or set DOCKER_HOST, and run again",
        )
        return
    if run.image_ref is None:
        verb = "build" if run.build_context or run.dockerfile else "pull"
        yield IC708.finding(
            subject=run.service,
            message=f"no image of the service in the engine: {run.reason}",
            hint=f"docker compose {verb} {run.service}",
        )
    state = _state(run)
    if state is None:
        yield IC706.finding(
            subject=run.service,
            message="no container of the service: only the image was checked",
            hint=(
                f"docker compose up -d {run.service}, then run imagecheck {run.service} again if "
                "it fails"
            ),
        )
        return
    failing = _failing(run, state)
    if failing is not None:
        yield failing
    d = run.diagnosis
    if failing is None and d is not None and not d.harmless:
        yield IC704.finding(
            subject=run.service,
            message=(
                f"{run.reason}, but its logs show an error: {d.title}; log: "
                f"{d.evidence}{_related(d)}"
            ),
            hint=d.fix,
        )
    if d is not None and d.harmless:
        yield IC705.finding(
            subject=run.service,
            message=f"{d.title}; log: {d.evidence}",
            hint=d.fix,
        )
    for c in run.containers:
        if c.health == "unhealthy" and c.status == "running":
            yield IC710.finding(
                subject=run.service,
                message=f"{c.name} runs but its health check fails ({c.failing_streak} in a row); "
                f"last check: {c.health_log or 'no output'}",
                hint=f"docker inspect --format '{{{{json .State.Health}}}}' {c.name} shows every "
                "check; fix what the HEALTHCHECK tests (or the check itself: its command, "
                "port, start period)",
            )
    if run.newer_image is not None:
        yield IC709.finding(
            subject=run.service,
            message=(
                f"{state.name} runs image {state.image_id[:19]}, but {run.newer_image} now names "
                "another image: the container was not recreated after a build or pull"
            ),
            hint=f"docker compose up -d --force-recreate {run.service}",
        )


def _dependency_down(run: TriageRun, state: ContainerState | None) -> bool:
    """The service fails (or was never started) in a way a dependency down explains."""
    if state is None:
        return False
    if state.status == "created":  # compose waits for a condition that never came
        return True
    return run.status == "crashlooping" or (
        run.status == "exited" and bool(state.exit_code or state.oom_killed)
    )


def check_dependencies(ctx: Context) -> Iterator[Finding]:
    """IC860-IC862: the services ``depends_on`` names, as the engine shows them."""
    from .diagnose import DOWN

    run = ctx.triage
    if run is None or run.engine_error is not None:
        return
    state = _state(run)
    failing = _dependency_down(run, state)
    for dep in run.dependencies:
        said = f"; its last error: {dep.last_error}" if dep.last_error else ""
        what = f"{dep.service} is {dep.status} ({dep.detail}){said}"
        if dep.status in DOWN and failing and state is not None:
            never = state.status == "created"
            how = "was never started" if never else run.status
            yield IC860.finding(
                subject=dep.service,
                message=f"{run.service} {how} while its dependency {what}: the failure follows "
                f"from {dep.service} being down (depends_on, {dep.condition}), not from "
                f"{run.service}'s own code",
                hint=f"docker compose logs --tail 200 {dep.service}, fix it, then docker compose "
                f"up -d {dep.service} {run.service}",
            )
        elif dep.status in DOWN:
            yield IC861.finding(
                subject=dep.service,
                message=f"{run.service} depends on {dep.service} ({dep.condition}), and {what}",
                hint=f"docker compose logs --tail 200 {dep.service}; docker compose up -d "
                f"{dep.service}",
            )
        if dep.condition == "service_started" and dep.has_healthcheck:
            yield IC862.finding(
                subject=dep.service,
                message=f"{run.service} waits only until {dep.service} has started, not until "
                "its health check passes: on a cold start it may connect too early and crash",
                hint=f"depends_on: {{{dep.service}: {{condition: service_healthy}}}} in "
                f"services.{run.service}",
            )
