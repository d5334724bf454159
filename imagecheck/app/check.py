"""IC80x: what importing the application in the smoke container found.

The entry point (``entry.py``), the runner's ``app`` items (the entry, every module of
its package, the SQLAlchemy mappers) and their results are the smoke run's; here they
become findings that say where (``file:line`` of the last frame in the application),
what the failed ``from X import Y`` could have meant, and what to run next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from ..codes import IC801, IC802, IC803, IC804, IC805, IC806, IC807, IC808
from ..model import AppEntry, Finding, ModuleResult, SmokeRun

_RELATIONSHIP = re.compile(r"relationship '?([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
_MAPPER = re.compile(r"Mapper\[([A-Za-z_]\w*)\(")
_CANNOT = re.compile(r"cannot import name '([^']+)' from '([^']+)'")
_QUIET = ("DeprecationWarning:", "PendingDeprecationWarning:")  # a library's, not the app's bug


class _HasSmoke(Protocol):
    @property
    def smoke(self) -> SmokeRun | None: ...


def mapper_subject(text: str) -> tuple[str | None, str | None]:
    """The model and relationship a SQLAlchemy mapper error names (``User.items``)."""
    match = _RELATIONSHIP.search(text)
    if match:
        return match.group(1), match.group(2)
    match = _MAPPER.search(text)
    return (match.group(1) if match else None), None


def _reproduce(result: ModuleResult) -> str:
    return (
        "see the whole traceback: docker run --rm --entrypoint python IMAGE "
        f"-c 'import {result.name}'"
    )


def _suggest(result: ModuleResult) -> str:
    """``app.models.user defines UserRoles``: the close names of a failed import."""
    if not result.close_names:
        return ""
    names = ", ".join(result.close_names)
    match = _CANNOT.search(result.last_line or "")
    if match:
        return f"{match.group(2)} defines {names}, not {match.group(1)}: a rename missed here?"
    return f"close names: {names}"


def _where(result: ModuleResult) -> str:
    return f" at {result.location}" if result.location else ""


def _unconfigured(
    result: ModuleResult, entry: AppEntry, same: list[ModuleResult], run: SmokeRun
) -> Finding:
    """A failure that asks only for environment variables: with the image's ENV alone
    that is how a healthy application behaves before deploy gives it its settings
    (IC808, a warning); with the environment it runs with, it is the crash (IC802)."""
    names = ", ".join(result.missing_env)
    subject = entry.spec if result.role == "entry" else result.name
    stopped = f"; {len(same)} more module(s) stop there, so they were not checked" if same else ""
    if run.environment_from:
        given = "; ".join(run.environment_from)
        return IC802.finding(
            subject=result.name,
            message=f"the application {subject} fails to import: the environment it ran with "
            f"({given}) lacks {names}{_where(result)}{stopped}",
            hint=f"set {names} in the service's environment: or env_file:, or give the "
            "settings class defaults; " + _reproduce(result),
            location=result.location,
        )
    note = f"; {run.environment_note}" if run.environment_note else ""
    return IC808.finding(
        subject=subject,
        message=f"{subject} needs settings the image does not set: {names}{_where(result)} "
        f"(the image's ENV was all it had){stopped}",
        hint="import it with the values it runs with: --env-file FILE or --env NAME=VALUE, "
        "or imagecheck SERVICE (a compose file beside the build is used by itself)" + note,
        location=result.location,
    )


def _dependency_failure(
    result: ModuleResult, entry: AppEntry, same: list[ModuleResult], module: str
) -> Finding:
    """The application fails because a distribution it imports fails (IC501 says why):
    one finding for all its modules, so the cause is not buried under twenty."""
    what = f"the application {entry.spec}" if result.role == "entry" else result.name
    also = f"; {len(same)} more module(s) of the application fail with it" if same else ""
    code = IC802 if result.role == "entry" else IC804
    return code.finding(
        subject=result.name,
        message=f"{what} fails to import because {module} does: {result.last_line} "
        f"(first at {result.location or result.name}){also}",
        hint=f"fix the import of {module} first (its own finding, IC501, says what "
        "fails); the application's modules are then checked again",
        location=result.location,
    )


def _failure(
    result: ModuleResult, entry: AppEntry, same: list[ModuleResult], run: SmokeRun
) -> Finding:
    if result.missing_env and result.status == "error":
        return _unconfigured(result, entry, same, run)
    also = ""
    if same:
        shown = ", ".join(r.name for r in same[:5]) + (" ..." if len(same) > 5 else "")
        also = f"; {len(same)} other module(s) fail the same way ({shown})"
    suggestion = _suggest(result)
    hint = "; ".join(x for x in (suggestion, _reproduce(result)) if x)
    exited = (result.exc_type or "").endswith("SystemExit")
    if result.status in ("timeout", "crash") or exited:
        what = {
            "timeout": f"did not finish in {result.seconds:g} s (a server started at import, "
            "or a wait for something the container lacks?)",
            "crash": f"killed the interpreter ({result.signal or 'exit'})",
        }.get(result.status, f"exits at import ({result.last_line})")
        return IC805.finding(
            subject=result.name,
            message=f"importing {result.name} {what}{_where(result)}{also}",
            hint='start servers and loops under `if __name__ == "__main__":` or in the '
            "server's lifespan, not at import; " + _reproduce(result),
            location=result.location,
        )
    if result.role == "entry":
        if result.reason == "attribute":
            return IC803.finding(
                subject=entry.spec,
                message=f"{result.name} imports, but {result.last_line}{also}",
                hint=(
                    f"the command serves {entry.spec} ({entry.how}); "
                    + (
                        f"close names: {', '.join(result.close_names)}; "
                        if result.close_names
                        else ""
                    )
                    + "fix the command or the module"
                ),
                location=result.location,
            )
        return IC802.finding(
            subject=result.name,
            message=f"the application {entry.spec} fails to import: "
            f"{result.last_line}{_where(result)}{also}",
            hint=hint + "; it ran with the image's ENV, WORKDIR and USER (and the compose "
            "service's environment with imagecheck SERVICE)",
            location=result.location,
        )
    return IC804.finding(
        subject=result.name,
        message=f"application module {result.name} fails to import: "
        f"{result.last_line}{_where(result)}{also}",
        hint=hint,
        location=result.location,
    )


def check_app(ctx: _HasSmoke) -> Iterator[Finding]:
    """IC801 no application found; IC802 its entry fails; IC803 no such attribute;
    IC808 it needs environment variables the run did not have;
    IC804 another module fails; IC805 an import hangs or exits; IC806 the mappers;
    IC807 a warning at import (each message once)."""
    run = ctx.smoke
    if run is None or run.app is None:
        return
    entry = run.app
    if not entry.found:
        if not entry.expected:  # a shell, a base image's python3: no application to miss
            return
        yield IC801.finding(
            subject="application",
            message=f"no application found to import ({entry.how})",
            hint='name it: --app app.main:app, or [tool.imagecheck] app = "app.main:app" '
            "in pyproject.toml; --no-app turns the step off",
        )
        return
    failed = [
        r for r in run.results if r.kind == "app" and r.status in ("error", "timeout", "crash")
    ]
    # A distribution that fails to import (IC501) fails every module importing it, each
    # at its own import line: one finding for them, naming the distribution.
    broken = {
        r.last_line: r.name
        for r in run.results
        if r.kind == "import" and r.status == "error" and r.last_line
    }
    groups: dict[tuple[str | None, str | None, str], list[ModuleResult]] = {}
    for result in failed:
        cause = broken.get(result.last_line or "") if result.status == "error" else None
        where = f"import {cause}" if cause else result.location
        key = (result.last_line, where, result.status)
        groups.setdefault(key, []).append(result)
    for (_, where, _), members in groups.items():
        first = next((r for r in members if r.role == "entry"), members[0])
        rest = [r for r in members if r is not first]
        if where and where.startswith("import "):
            yield _dependency_failure(first, entry, rest, where.removeprefix("import "))
        else:
            yield _failure(first, entry, rest, run)
    for result in run.results:
        if result.kind == "mappers" and result.status in ("error", "timeout", "crash"):
            model, relationship = mapper_subject(result.last_line or "")
            subject = ".".join(x for x in (model, relationship) if x) or "mappers"
            named = f" on {subject}" if model else ""
            yield IC806.finding(
                subject=subject,
                message=f"sqlalchemy.orm.configure_mappers() fails{named}: {result.last_line}"
                f"{_where(result)} (the first request would raise it)",
                hint="give the relationship foreign_keys= (or primaryjoin=) when two foreign "
                "keys link the same tables, and check back_populates names; "
                "reproduce: docker run --rm --entrypoint python IMAGE -c 'import "
                f"{entry.module or 'app'}, sqlalchemy.orm as o; o.configure_mappers()'",
                location=result.location,
            )
    said: set[str] = set()
    for result in run.results:
        if result.kind != "app" or result.status != "ok":
            continue
        for warning in result.warnings:
            text = warning.rsplit(" (", 1)[0]
            if warning.startswith(_QUIET) or text in said:
                continue
            said.add(text)
            yield IC807.finding(
                subject=result.name,
                message=f"importing {result.name} warns: {warning}",
                hint="a warning at import is often tomorrow's error (SQLAlchemy 2.0 raises "
                "where 2.1 warns): fix what it names; "
                f"python -W error -c 'import {result.name}' in the image shows where",
            )
