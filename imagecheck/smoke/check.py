"""IC50x: what the smoke run found, as findings with the cause and the fix.

The run itself (the container, the fork chain) is ``imagecheck.smoke``; here a
failing import is explained with the known-failure table, the ctypes library map
(which Debian package provides the library) and the NumPy ABI analysis (which
distribution was built for NumPy 1.x, and which numpy broke it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..codes import IC500, IC501, IC502, IC503, IC504, IC505, IC506, IC507
from ..model import Finding, LayerRef, ModuleResult, canonical
from ..native import load_ctypes_map, numpy_mismatches
from ..triage import Failure, classify, load_failures

if TYPE_CHECKING:
    from ..checks import Context

_MISSING = re.compile(r"No module named '([^']+)'")
_FAILED = {"error": IC501, "timeout": IC502, "crash": IC503}  # an import's status


def _layer(ctx: Context, result: ModuleResult) -> LayerRef | None:
    if result.distribution is None:
        return None
    dist = ctx.by_key.get(canonical(result.distribution))
    return dist.layer if dist else None


def _text(result: ModuleResult) -> str:
    return "\n".join(
        x for x in (result.last_line, result.traceback_tail, result.output, *result.logs) if x
    )


def _numpy_hint(ctx: Context) -> str | None:
    try:
        numpy, major, affected = numpy_mismatches(ctx)
    except LookupError:
        return None
    if not affected or major < 2:
        return None
    names = ", ".join(f"{d.name} {d.version}" for d, _ in affected.values())
    return (
        f"{names} {'was' if len(affected) == 1 else 'were'} built for NumPy 1.x and numpy "
        f"{numpy.version} (layer #{numpy.layer.index}) broke it: pin numpy<2 (the constraints' "
        "numpy pin) and rebuild, or upgrade to releases built for NumPy 2"
    )


def _hint(ctx: Context, result: ModuleResult, failure: Failure | None) -> str:
    if failure is not None and failure.id == "numpy-abi":
        hint = _numpy_hint(ctx)
        if hint:
            return hint
    dist_key = canonical(result.distribution) if result.distribution else None
    for lib in load_ctypes_map():
        if lib.distribution == dist_key and lib.debian:
            return (
                f"{result.distribution} loads {lib.soname}, which Debian's {lib.debian} provides: "
                f"add 'apt-get install -y --no-install-recommends {lib.debian}' to the final "
                "stage; if it is there already, the layer came from a stale cache: rebuild with "
                "--no-cache (docker builder prune -af first)"
            )
    missing = _MISSING.search(result.last_line or "")
    if missing and failure is not None and failure.id == "module-not-found":
        return (
            f"{result.name} imports {missing.group(1)}, which nothing installed provides: "
            f"{failure.fix}"
        )
    if failure is not None:
        return failure.fix
    return (
        f"run the image with: docker run --rm --entrypoint python IMAGE -c 'import {result.name}'"
        " to see the whole traceback"
    )


def _failed(ctx: Context, result: ModuleResult, table: tuple[Failure, ...]) -> Finding:
    what = "import" if result.kind == "import" else "probe"
    who = f"{result.name} ({result.distribution})" if result.distribution else result.name
    failure = classify(_text(result), table)
    if result.status == "timeout":
        message = (
            f"{what} {who} did not finish in time ({result.reason or f'{result.seconds:g} s'})"
        )
    elif result.status == "crash":
        message = f"{what} {who} crashed the interpreter ({result.signal or 'killed'})"
    else:
        message = f"{what} {who} fails: {result.last_line}"
    if failure is not None and not failure.harmless:
        message += f" ({failure.title})"
    code = IC505 if result.kind == "probe" else _FAILED[result.status]
    if result.alone == "ok":
        return IC507.finding(
            subject=result.name,
            message=f"{message}, after other modules were imported in the same process; "
            "imported alone it works (an import-order effect)",
            hint="harmless unless the application imports both; --skip it to keep the run quiet",
            layer=_layer(ctx, result),
        )
    return code.finding(
        subject=result.name,
        message=message,
        hint=_hint(ctx, result, failure),
        layer=_layer(ctx, result),
    )


def _noise(ctx: Context, result: ModuleResult, table: tuple[Failure, ...]) -> Iterator[Finding]:
    """An item that worked but printed, warned or logged: a known harmless message is a
    warning that says so (IC506); anything else is worth knowing (IC504)."""
    said = [
        *result.logs,
        *result.warnings,
        *([result.output.strip()] if result.output.strip() else []),
    ]
    if not said:
        return
    failure = classify("\n".join(said), table)
    who = f"{result.name} ({result.distribution})" if result.distribution else result.name
    if failure is not None and failure.harmless:
        yield IC506.finding(
            subject=result.name,
            message=f"{who} logs '{said[0][:200]}': harmless. {failure.cause}",
            hint=failure.fix,
            layer=_layer(ctx, result),
            severity=failure.severity,
        )
        return
    first = said[0].splitlines()[0][:200] if said[0] else ""
    yield IC504.finding(
        subject=result.name,
        message=(
            f"{result.kind} {who} printed, warned or logged {len(said)} thing(s); first: {first}"
        ),
        hint="nothing to do unless the message matters; --format json has them all",
        layer=_layer(ctx, result),
    )


def check_smoke(ctx: Context) -> Iterator[Finding]:
    """IC500 the run broke; IC501-503 an import fails, hangs or crashes; IC504 output;
    IC505 a probe fails; IC506 a known harmless message; IC507 an import fails only
    after other imports."""
    run = ctx.smoke
    if run is None or run.status == "skipped":
        return
    table = load_failures()
    if run.status in ("failed", "timeout"):
        tail = run.stderr_tail.strip().splitlines()[-1:] if run.stderr_tail.strip() else []
        yield IC500.finding(
            subject=run.interpreter or "smoke",
            message=f"the smoke run did not finish: {run.reason}"
            + (f"; stderr: {tail[0]}" if tail else ""),
            hint="raise --timeout or --memory, or --skip the module that hangs; "
            "imagecheck smoke IMAGE -v shows each result as it comes",
        )
    for result in run.results:
        if result.status in ("error", "timeout", "crash"):
            yield _failed(ctx, result, table)
        elif result.status == "ok":
            yield from _noise(ctx, result, table)
