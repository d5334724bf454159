"""The checks ``imagecheck check`` runs, in order: each lives in its concept's package.

``run_checks`` runs them all, keeps the findings ``--select``/``--ignore`` allow and
records for each check whether it passed, failed or was skipped (and why).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from . import codes
from .app import check_alembic, check_app, check_database, check_schema, schema_detail
from .catalog import check_unread
from .checks import Check, Context, run_selected
from .model import CheckResult, Finding
from .native import (
    check_ctypes,
    check_needed,
    check_numpy_abi,
    check_system_needs,
    check_wheel_tags,
)
from .pins import check_duplicates, check_known, check_pins, check_requires, pin_sources
from .smoke import check_smoke
from .stale import check_baked, check_stale
from .triage import check_dependencies, check_triage

CHECKS: tuple[Check[Context], ...] = (
    Check(
        (codes.IC101, codes.IC102, codes.IC103),
        "pins",
        check_pins,
        needs_pins=True,
        detail=pin_sources,
    ),
    Check((codes.IC104,), "duplicate dist-info", check_duplicates),
    Check((codes.IC105,), "requirements of installed distributions", check_requires),
    Check((codes.IC201,), "wheel tags", check_wheel_tags),
    Check((codes.IC202, codes.IC207, codes.IC208), "shared libraries resolve", check_needed),
    Check((codes.IC203,), "libraries loaded through ctypes", check_ctypes),
    Check((codes.IC204,), "NumPy C-API generation", check_numpy_abi),
    Check((codes.IC205, codes.IC206), "system needs", check_system_needs),
    Check((codes.IC210,), "catalog files read", check_unread),
    Check(codes.family("IC3"), "known incompatibilities", check_known),
    Check(codes.family("IC5"), "smoke tests", check_smoke, needs_smoke=True),
    Check(codes.family("IC80"), "the application's import", check_app, needs_smoke=True),
    Check(codes.family("IC6"), "stale image and build cache", check_stale, needs_build=True),
    Check(codes.family("IC7"), "compose service containers", check_triage, needs_triage=True),
    Check(codes.family("IC85")[:5], "alembic revisions", check_alembic),
    Check(codes.family("IC85")[5:], "database revision", check_database, needs_triage=True),
    Check(codes.family("IC86"), "the stack's dependencies", check_dependencies, needs_triage=True),
    Check(
        codes.family("IC90") + codes.family("IC91"),  # IC91x: the shapes (app/shapes.py)
        "models against migrations",
        check_schema,
        needs_migrations=True,
        detail=schema_detail,
    ),
    Check(codes.family("IC93"), "build-time values baked in", check_baked),
)


_NOTHING_BAKED = "no configuration to compare the build with (imagecheck SERVICE, --build-arg)"


def _skip(check: Check[Context], ctx: Context) -> str | None:
    if check.codes[0] is codes.IC850:  # read from the files: no interpreter needed
        return None if ctx.inventory.alembic else "no alembic.ini in the image"
    if check.codes[0] is codes.IC930:  # any image: a Next.js one has no Python
        return None if ctx.baked is not None else _NOTHING_BAKED
    if check.codes[0] is codes.IC855 and ctx.triage is not None and ctx.triage.database is None:
        return "no database read (no database service running, or no alembic in the image)"
    if check.needs_migrations:
        if ctx.migrations is None:
            return "not run (--migrations)"
        return ctx.migrations.reason if ctx.migrations.status == "skipped" else None
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
    if ctx.inventory.interpreter is None and check.name not in (
        "system needs",
        "catalog files read",
    ):
        return "no Python in the image"
    return None


def run_checks(
    ctx: Context, select: Iterable[str] = (), ignore: Iterable[str] = ()
) -> tuple[tuple[Finding, ...], tuple[CheckResult, ...]]:
    findings, results = run_selected(CHECKS, ctx, select, ignore, _skip)
    return anchored(findings, ctx), results


def anchored(findings: tuple[Finding, ...], ctx: Context) -> tuple[Finding, ...]:
    """Findings about what a layer installed point at the Dockerfile line that made the
    layer (the ``RUN pip install`` or ``apt-get install``), when the Dockerfile is known
    and its history matched; a finding that names its own file line keeps it."""
    if ctx.stale is None:
        return findings
    lines = {s.entry.index: s.line for s in ctx.stale.match.steps if s.entry and s.line}
    dockerfile = ctx.stale.build.dockerfile
    return tuple(
        replace(f, location=f"{dockerfile}:{lines[f.layer.index]}")
        if f.location is None and f.layer is not None and f.layer.index in lines
        else f
        for f in findings
    )
