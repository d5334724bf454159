"""Run a list of checks over a context: select/ignore by code, record what ran and why not.

Shared by ``imagecheck check`` (an image's context) and ``imagecheck lint`` (files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..codes import Code
from ..model import CheckResult, Finding, severity_rank

C = TypeVar("C")


@dataclass(frozen=True)
class Check(Generic[C]):
    codes: tuple[Code, ...]  # from the registry; joined by '/' they label its result
    name: str
    run: Callable[[C], Iterator[Finding]]
    needs_pins: bool = False
    needs_smoke: bool = False
    needs_build: bool = False  # a Dockerfile and build context
    needs_triage: bool = False
    needs_migrations: bool = False  # a migration run (check --migrations, imagecheck SERVICE)
    detail: Callable[[C], str] | None = None  # what it checked against, for its result


def wanted(code: str, select: Iterable[str], ignore: Iterable[str]) -> bool:
    select = list(select)
    if select and not any(code.startswith(s) for s in select):
        return False
    return not any(code.startswith(i) for i in ignore)


def run_selected(
    checks: Sequence[Check[C]],
    ctx: C,
    select: Iterable[str],
    ignore: Iterable[str],
    skip: Callable[[Check[C], C], str | None],
) -> tuple[tuple[Finding, ...], tuple[CheckResult, ...]]:
    """Findings sorted by severity then code; a result per check (``skip`` says why not)."""
    select, ignore = tuple(select), tuple(ignore)
    findings: list[Finding] = []
    results: list[CheckResult] = []
    for check in checks:
        codes = [c.code for c in check.codes if wanted(c.code, select, ignore)]
        label = "/".join(c.code for c in check.codes)
        reason = "not selected" if not codes else skip(check, ctx)
        if reason:
            results.append(CheckResult(label, check.name, "skipped", reason))
            continue
        found = [f for f in check.run(ctx) if f.code in codes]
        findings.extend(found)
        status = "failed" if any(f.severity != "info" for f in found) else "passed"
        reason = f"{len(found)} finding(s)"
        if check.detail is not None:
            reason += f"; {check.detail(ctx)}"
        results.append(CheckResult(label, check.name, status, reason))
    findings.sort(key=lambda f: (severity_rank(f.severity), f.code, f.subject))
    return tuple(findings), tuple(results)
