"""IC401 (a requirement against the constraints) and IC402 (requirements.txt against its .in).

Both read files only: nothing is resolved, nothing is downloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ..codes import IC401, IC402
from ..model import Finding, canonical
from ..pins import Constraints, Pin, read_requirements, satisfies

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UPPER = ("==", "===", "<", "<=", "~=")  # operators that stop the resolver picking the newest


def _specifiers(pins: list[Pin]) -> SpecifierSet | None:
    try:
        return SpecifierSet(",".join(p.specifier for p in pins if p.specifier))
    except InvalidSpecifier:
        return None


def bounded(spec: SpecifierSet) -> bool:
    """Whether the newest release can be excluded: an ``==``, ``<``, ``<=`` or ``~=``."""
    return any(s.operator in _UPPER for s in spec)


def _exact(pins: list[Pin]) -> str | None:
    return next((p.exact for p in pins if p.exact), None)


def _fits(own: list[Pin], spec: SpecifierSet, pin: Pin) -> bool | None:
    """Whether the file's requirement admits a constraint pin; None when we cannot tell."""
    if pin.exact:
        return satisfies(pin.exact, str(spec))
    version = _exact(own)
    return satisfies(version, pin.specifier) if version else None


def check_against_constraints(
    path: Path, constraints: Constraints, compiled: bool
) -> Iterator[Finding]:
    """IC401: requirements of ``path`` the constraints' pins rule out, or do not hold.

    ``compiled``: a ``.in`` that pip-compile turns into a ``.txt`` beside it; its bare
    names are fine (the ``.txt`` carries the versions and is checked itself).
    """
    pins = read_requirements(path)
    names = dict.fromkeys(p.name for p in pins if not p.constraint_only and p.url is None)
    for name in names:
        own = [p for p in pins if p.name == name]
        theirs = [p for p in constraints.pins if p.name == name and p.url is None]
        spec = _specifiers(own)
        if not theirs or spec is None:
            continue
        first = next(p for p in own if not p.constraint_only)
        written = " and ".join(p.requirement for p in own)
        fits = [_fits(own, spec, pin) for pin in theirs]
        pin = theirs[0]
        if all(f is False for f in fits):
            wanted = f"{name}=={pin.exact}" if pin.exact else pin.requirement
            yield IC401.finding(
                subject=name,
                message=f"{written} rules out {wanted}, which {pin.source} pins",
                hint=f"require {wanted} here, or change the pin in {pin.source.rsplit(':', 1)[0]} "
                "if the new version is meant",
                location=first.source,
            )
            continue
        strict = [p for p in theirs if p.exact or bounded(SpecifierSet(p.specifier or ""))]
        if compiled or bounded(spec) or not strict:
            continue
        pin = strict[0]
        constraint_file = pin.source.rsplit(":", 1)[0]
        rel = os.path.relpath(constraint_file, path.parent)
        wanted = f"{name}=={pin.exact}" if pin.exact else pin.requirement
        yield IC401.finding(
            subject=name,
            message=f"{written} sets no upper bound: pip installs the newest {name}, not {wanted} "
            f"that {pin.source} pins",
            hint=f"write {wanted} here, or add '-c {rel}' to {path.name} so pip keeps to the pins",
            location=first.source,
        )


def via_annotations(path: Path) -> dict[str, list[str]]:
    """pip-compile's ``# via`` lines: distribution name -> what pulled it in."""
    via: dict[str, list[str]] = {}
    current: str | None = None
    collecting = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        text = raw.strip()
        if text.startswith("# via"):
            collecting = current is not None
            rest = text[len("# via") :].strip()
            if collecting and rest:
                via.setdefault(current or "", []).append(rest)
            continue
        if collecting and text.startswith("#") and raw[:1].isspace() and text[1:].strip():
            via.setdefault(current or "", []).append(text[1:].strip())
            continue
        collecting = False
        if not text or text.startswith("#") or raw[:1].isspace():
            continue
        if text.startswith("-"):
            current = None
            continue
        name = _NAME.match(text)
        current = canonical(name.group(0)) if name else None
        if current:
            via.setdefault(current, [])
    return via


def _applies_here(pin: Pin) -> bool:
    if not pin.marker:
        return True
    try:
        return Marker(pin.marker).evaluate({"extra": ""})
    except InvalidMarker:
        return True


def check_fresh(source: Path, compiled: Path) -> Iterator[Finding]:
    """IC402: ``compiled`` (requirements.txt) no longer matches ``source`` (requirements.in)."""
    listed = [p for p in read_requirements(source) if not p.constraint_only]
    asked = [p for p in listed if _applies_here(p)]
    have = {p.name: p for p in read_requirements(compiled) if not p.constraint_only}
    hint = f"pip-compile {source} and commit both files"
    for want in asked:
        got = have.get(want.name)
        if got is None:
            yield IC402.finding(
                subject=want.name,
                message=f"{want.requirement} is in {source} but not in {compiled}: "
                f"{compiled} is out of date",
                hint=hint,
                location=want.source,
            )
        elif got.exact and want.specifier and satisfies(got.exact, want.specifier) is False:
            yield IC402.finding(
                subject=want.name,
                message=f"{source} asks for {want.requirement} but {got.source} pins "
                f"{want.name}=={got.exact}: {compiled} is out of date",
                hint=hint,
                location=want.source,
            )
    names = {p.name for p in listed}
    for name, vias in via_annotations(compiled).items():
        direct = any(v.startswith("-r ") and Path(v[3:].strip()).name == source.name for v in vias)
        if direct and name not in names and name in have:
            yield IC402.finding(
                subject=name,
                message=f"{compiled} still says {name} is there '# via -r {source.name}', but "
                f"{source} no longer asks for it: {compiled} is out of date",
                hint=hint,
                location=have[name].source,
            )
