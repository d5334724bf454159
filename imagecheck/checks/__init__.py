"""The checks: pure functions of a ``Context`` returning findings with stable codes.

``run_checks`` runs them all, keeps the findings ``--select``/``--ignore`` allow and
records for each check whether it passed, failed or was skipped (and why).
"""

from __future__ import annotations

from collections.abc import Iterable

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
from .pins import check_duplicates, check_pins, check_requires, pin_sources
from .runner import Check, run_selected
from .smoke import check_smoke
from .stale import check_stale
from .triage import CODES as TRIAGE_CODES
from .triage import check_triage

CHECKS: tuple[Check[Context], ...] = (
    Check(("IC101", "IC102", "IC103"), "pins", check_pins, needs_pins=True, detail=pin_sources),
    Check(("IC104",), "duplicate dist-info", check_duplicates),
    Check(("IC105",), "requirements of installed distributions", check_requires),
    Check(("IC201",), "wheel tags", check_wheel_tags),
    Check(("IC202", "IC207", "IC208"), "shared libraries resolve", check_needed),
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
    Check(
        ("IC601", "IC602", "IC603", "IC604", "IC605", "IC606", "IC607"),
        "stale image and build cache",
        check_stale,
        needs_build=True,
    ),
    Check(TRIAGE_CODES, "compose service containers", check_triage, needs_triage=True),
)


def _skip(check: Check[Context], ctx: Context) -> str | None:
    if check.needs_triage:
        return None if ctx.triage is not None else "no compose service (imagecheck SERVICE)"
    if check.needs_pins and not ctx.constraints.pins:
        return "; ".join(["no pins found", *ctx.constraints.notes])
    if check.needs_build:
        return None if ctx.stale is not None else ctx.stale_skip
    if check.needs_smoke:
        if ctx.smoke is None:
            return "not run (--no-smoke)"
        return ctx.smoke.reason if ctx.smoke.status == "skipped" else None
    if ctx.inventory.interpreter is None and check.name != "system needs":
        return "no Python in the image"
    return None


def run_checks(
    ctx: Context, select: Iterable[str] = (), ignore: Iterable[str] = ()
) -> tuple[tuple[Finding, ...], tuple[CheckResult, ...]]:
    return run_selected(CHECKS, ctx, select, ignore, _skip)
