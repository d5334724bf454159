"""IC1xx: the installed distributions against the pins, and against each other."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..codes import IC101, IC102, IC103, IC104, IC105
from ..model import Finding, PythonDist, canonical
from .constraints import Pin

if TYPE_CHECKING:
    from ..checks import Context

# Installed by ensurepip/virtualenv in every environment; nobody pins them.
BOOTSTRAP = frozenset({"pip", "setuptools", "wheel", "distribute", "pkg-resources"})


def applies(marker: str | None, ctx: Context, extras: tuple[str, ...] = ("",)) -> bool:
    """Whether a PEP 508 marker holds for the image's interpreter (never the host's)."""
    if not marker:
        return True
    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return True
    # A lock's markers may ask for extras or dependency groups (PEP 751): none are chosen.
    env: dict[str, str | AbstractSet[str]] = {**ctx.marker_env}
    env.update(extras=frozenset(), dependency_groups=frozenset())
    return any(parsed.evaluate({**env, "extra": e}) for e in extras)


def satisfies(version: str, specifier: str) -> bool | None:
    """Whether ``version`` is in ``specifier``; None when either cannot be parsed."""
    if not specifier:
        return True
    try:
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return None


def _fix(pin: Pin) -> str:
    return f"pip install '{pin.requirement}'"


def pin_sources(ctx: Context) -> str:
    """Which files the pins came from, and which were found and not read."""
    c = ctx.constraints
    # Found in a folder: the folder is in the origin, the names say enough.
    files = [posixpath.basename(f) for f in c.files] if c.origin else list(c.files)
    text = "pins from " + ", ".join(files) + (f" ({c.origin})" if c.origin else "")
    return "; ".join([text, *c.notes])


def _sources(pins: list[Pin]) -> str:
    return "; ".join(f"{p.requirement} ({p.source})" for p in pins)


def check_pins(ctx: Context) -> Iterator[Finding]:
    """IC101 pinned but missing, IC102 wrong version, IC103 installed but unpinned.

    Several sources may pin one name (requirements.txt and a lock): a missing one is
    one IC101 naming each source, and each source the image disagrees with is its own
    IC102, which names the sources it agrees with."""
    by_name: dict[str, list[Pin]] = {}
    for pin in ctx.constraints.pins:
        if applies(pin.marker, ctx):
            by_name.setdefault(pin.name, []).append(pin)
    for name, pins in by_name.items():
        dist = ctx.by_key.get(name)
        if dist is None:
            required = [p for p in pins if not p.constraint_only]
            if required:
                yield IC101.finding(
                    subject=name,
                    message=f"{_sources(required)} is pinned but not installed where the runtime "
                    "interpreter looks",
                    hint=f"add it to the image's install step and rebuild ({_fix(required[0])})",
                    location=required[0].source,
                )
            continue
        agree = [p for p in pins if satisfies(dist.version, p.specifier) is not False]
        for pin in pins:
            if pin in agree:
                continue
            also = f" ({_sources(agree)} agrees with the image)" if agree else ""
            yield IC102.finding(
                subject=dist.name,
                message=f"{dist.name} {dist.version} is installed but {pin.source} pins "
                f"{pin.requirement}{also}; layer #{dist.layer.index} installed it",
                hint=f"find what pulled {dist.name} {dist.version} in at layer #{dist.layer.index} "
                f"and pin it there, or rebuild without the cache ({_fix(pin)})",
                layer=dist.layer,
                location=pin.source,
            )
    if ctx.unpinned_severity == "off" or not ctx.constraints.pins:
        return
    for dist in ctx.runtime:
        key = canonical(dist.name)
        if dist.application:
            continue  # the project itself: what the pins are for, not one of them
        if key not in by_name and key not in BOOTSTRAP:
            yield IC103.finding(
                subject=dist.name,
                message=f"{dist.name} {dist.version} is installed but not pinned",
                hint=f"pin it ({dist.name}=={dist.version}) or find what depends on it",
                layer=dist.layer,
                severity=ctx.unpinned_severity,
            )


def check_duplicates(ctx: Context) -> Iterator[Finding]:
    """IC104: two dist-info of one name in one folder."""
    by_path = {d.path: d for d in ctx.inventory.python}
    for dist in ctx.inventory.python:
        live = by_path.get(dist.shadowed_by or "")
        if live is None or live.environment != dist.environment:
            continue
        yield IC104.finding(
            subject=dist.name,
            message=f"two dist-info of {dist.name} in {dist.environment}: {live.version} is live "
            f"(its files are present), {dist.version} is a leftover from layer "
            f"#{dist.layer.index}",
            hint=f"remove {dist.path} (a site-packages copied over another leaves it), "
            "or install into a clean folder",
            layer=dist.layer,
        )


def _requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def check_requires(ctx: Context) -> Iterator[Finding]:
    """IC105: a Requires-Dist not satisfied (pip check, offline, with the image's markers)."""
    for dist in ctx.runtime:
        for text in dist.requires_dist:
            req = _requirement(text)
            if req is None or not applies(str(req.marker) if req.marker else None, ctx):
                continue
            have = ctx.by_key.get(canonical(req.name))
            if have is None:
                yield IC105.finding(
                    subject=dist.name,
                    message=f"{dist.name} {dist.version} requires {req}, which is not installed",
                    hint=f"pip install '{req}' in the image (pip check reports the same)",
                    layer=dist.layer,
                )
            elif satisfies(have.version, str(req.specifier)) is False:
                yield IC105.finding(
                    subject=dist.name,
                    message=(
                        f"{dist.name} {dist.version} requires {req}, but {have.name} "
                        f"{have.version} is installed (layer #{have.layer.index})"
                    ),
                    hint=(
                        f"pin {have.name} to a version in {req.specifier or 'its range'} and "
                        "rebuild"
                    ),
                    layer=have.layer,
                )


def dist_label(dist: PythonDist) -> str:
    return f"{dist.name} {dist.version}"
