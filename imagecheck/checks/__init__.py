"""The checks: pure functions of a ``Context`` returning findings with stable codes.

``run_checks`` runs them all, keeps the findings ``--select``/``--ignore`` allow and
records for each check whether it passed, failed or was skipped (and why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..model import CheckResult, Finding
from .compat import check_known
from .context import Context
from .native import (
    check_ctypes,
    check_needed,
    check_numpy_abi,
    check_system_needs,
    check_wheel_tags,
)
from .pins import check_duplicates, check_pins, check_requires
from .smoke import check_smoke

CheckFn = Callable[[Context], Iterator[Finding]]


@dataclass(frozen=True, slots=True)
class Check:
    codes: tuple[str, ...]
    name: str
    run: CheckFn
    needs_pins: bool = False
    needs_smoke: bool = False


CHECKS: tuple[Check, ...] = (
    Check(("IC101", "IC102", "IC103"), "pins", check_pins, needs_pins=True),
    Check(("IC104",), "duplicate dist-info", check_duplicates),
    Check(("IC105",), "requirements of installed distributions", check_requires),
    Check(("IC201",), "wheel tags", check_wheel_tags),
    Check(("IC202",), "shared libraries resolve", check_needed),
    Check(("IC203",), "libraries loaded through ctypes", check_ctypes),
    Check(("IC204",), "NumPy C-API generation", check_numpy_abi),
    Check(("IC205", "IC206"), "system needs", check_system_needs),
    Check(("IC301", "IC302"), "known incompatibilities", check_known),
    Check(
        ("IC500", "IC501", "IC502", "IC503", "IC504", "IC505", "IC506", "IC507"),
        "smoke tests",
        check_smoke,
        needs_smoke=True,
    ),
)
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def _wanted(code: str, select: Iterable[str], ignore: Iterable[str]) -> bool:
    select = list(select)
    if select and not any(code.startswith(s) for s in select):
        return False
    return not any(code.startswith(i) for i in ignore)


def run_checks(
    ctx: Context, select: Iterable[str] = (), ignore: Iterable[str] = ()
) -> tuple[tuple[Finding, ...], tuple[CheckResult, ...]]:
    select, ignore = tuple(select), tuple(ignore)
    findings: list[Finding] = []
    results: list[CheckResult] = []
    for check in CHECKS:
        codes = [c for c in check.codes if _wanted(c, select, ignore)]
        label = "/".join(check.codes)
        if not codes:
            results.append(CheckResult(label, check.name, "skipped", "not selected"))
            continue
        if check.needs_pins and not ctx.constraints.pins:
            results.append(CheckResult(label, check.name, "skipped", "no pins found"))
            continue
        if check.needs_smoke and (ctx.smoke is None or ctx.smoke.status == "skipped"):
            reason = ctx.smoke.reason if ctx.smoke else "not run (--no-smoke)"
            results.append(CheckResult(label, check.name, "skipped", reason))
            continue
        if (
            ctx.inventory.interpreter is None
            and check.name != "system needs"
            and not check.needs_smoke
        ):
            results.append(CheckResult(label, check.name, "skipped", "no Python in the image"))
            continue
        found = [f for f in check.run(ctx) if f.code in codes]
        findings.extend(found)
        status = "failed" if any(f.severity != "info" for f in found) else "passed"
        results.append(CheckResult(label, check.name, status, f"{len(found)} finding(s)"))
    findings.sort(key=lambda f: (SEVERITY_RANK.get(f.severity, 3), f.code, f.subject))
    return tuple(findings), tuple(results)
