"""IC601-IC607: the image against the Dockerfile and context that should have built it.

Each finding says what differs, quoted on both sides, and the command that makes the
image fresh again: the rebuild, and where the engine's cache would serve the old
result again, the prune.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..codes import IC601, IC602, IC603, IC604, IC605, IC606, IC607
from ..dockerfile import flags
from ..errors import BadInput
from ..model import Finding, LayerRef, canonical
from ..pins import applies, read_requirements, satisfies
from ..timestamps import parse_timestamp
from .baked import redact, used_args
from .buildcache import prune_command, stacked_on
from .facts import StaleFacts, chain_record, fetches, rebuild_command
from .history import Aligned

if TYPE_CHECKING:
    from ..checks import Context

MAX_FILE_FINDINGS = 20


def _rebuild(ctx: Context, facts: StaleFacts) -> str:
    tags = ctx.inventory.image.repo_tags
    return rebuild_command(facts.build, tags[0] if tags else None)


def _layer(ctx: Context, step: Aligned) -> LayerRef | None:
    if step.entry is None:
        return None
    return LayerRef(step.entry.index, step.entry.created_by, step.entry.diff_id)


def _where(facts: StaleFacts, line: int | None) -> str:
    return f"{facts.build.dockerfile}:{line}" if line else str(facts.build.dockerfile)


def _history(ctx: Context, facts: StaleFacts) -> Iterator[Finding]:
    diff = facts.match.first_difference
    if facts.match.matched or diff is None:
        return
    if diff.line is None:
        message = f"the image has a step its Dockerfile lacks: '{diff.created_by}'"
    elif not diff.created_by:
        message = (
            f"{_where(facts, diff.line)} has '{diff.instruction}', which the image's history lacks"
        )
    else:
        message = (
            f"{diff.reason} at {_where(facts, diff.line)}: the Dockerfile has "
            f"'{_squash(diff.instruction)}', which the builder records as '{diff.expected}'; "
            f"the image has '{diff.created_by}'"
        )
        if diff.detail:
            message += f" ({diff.detail})"
    step = next((s for s in facts.match.steps if s.line == diff.line and s.entry), None)
    args = [*facts.build.args, *((a.name, a.value) for a in used_args(ctx.inventory.image.history))]
    layer = _layer(ctx, step) if step else None
    yield IC601.finding(
        subject=str(facts.build.dockerfile),
        message=redact(message, args) + "; the image was built from another version of the "
        "Dockerfile",
        hint=f"rebuild: {_rebuild(ctx, facts)}",
        layer=replace(layer, created_by=redact(layer.created_by, args)) if layer else None,
        location=_where(facts, diff.line),
    )


def _files(ctx: Context, facts: StaleFacts) -> Iterator[Finding]:
    changed = [f for f in facts.files if f.status in ("changed", "missing")]
    for f in changed[:MAX_FILE_FINDINGS]:
        if f.status == "missing":
            what = f"{f.dest} is not in the layer the COPY made"
        else:
            what = (
                f"{f.dest} in the image ({f.image_size} bytes) differs "
                f"({f.context_size} bytes in the context)"
            )
        yield IC602.finding(
            subject=f.source,
            message=f"{f.source} changed since the image was built: {what} (COPY at line {f.line})",
            hint=f"rebuild: {_rebuild(ctx, facts)}",
            layer=f.layer,
            location=_where(facts, f.line),
        )
    lines = {f.line for f in changed}
    for h in facts.hashes:
        if h.recorded == h.context or h.line in lines:
            continue
        yield IC602.finding(
            subject=f"line {h.line}",
            message=(
                f"what the COPY at line {h.line} takes from the context changed since the build "
                f"(the image recorded {h.recorded[:17]}..., the context is {h.context[:17]}... "
                "now): a file added, removed or its mode changed"
            ),
            hint=f"rebuild: {_rebuild(ctx, facts)}",
            layer=h.layer,
            location=_where(facts, h.line),
        )
    if len(changed) > MAX_FILE_FINDINGS:
        rest = changed[MAX_FILE_FINDINGS:]
        yield IC602.finding(
            subject=f"{len(rest)} more files",
            message=f"{len(rest)} more context files differ from their copies in the image, "
            f"e.g. {rest[0].source}",
            hint=f"rebuild: {_rebuild(ctx, facts)}",
        )


def _declared(ctx: Context, facts: StaleFacts) -> Iterator[Finding]:
    have = {p.name for p in ctx.inventory.debian}
    managers = {"apk" if p.source == "apk" else "apt" for p in ctx.inventory.debian}
    for item in facts.declared:
        if item.manager not in managers or item.name in have:
            continue
        prune = _line_prune(facts, item.line)
        yield IC603.finding(
            subject=item.name,
            message=f"{_where(facts, item.line)} installs {item.name} but the image has no such "
            f"{'Debian' if item.manager == 'apt' else 'Alpine'} package: the layer came "
            "from an older Dockerfile or a stale build cache",
            hint=f"{prune}{_rebuild(ctx, facts)}",
            location=_where(facts, item.line),
        )


def _line_prune(facts: StaleFacts, line: int) -> str:
    """The exact prune of the record that holds this image's layer of ``line``, and
    ``&&``; nothing for a legacy build or a layer no record holds."""
    step = next((s for s in facts.match.steps if s.line == line and s.entry), None)
    rec = chain_record(facts, step) if step is not None else None
    if rec is None or facts.state is None:
        return ""
    return f"{prune_command(facts.state.records, rec)} && "


def _requirements(ctx: Context, facts: StaleFacts) -> Iterator[Finding]:
    for req in facts.requirements:
        try:
            pins = read_requirements(req.path)
        except BadInput:
            continue  # IC602 already says the file is not what the image has
        for pin in pins:
            if pin.constraint_only or pin.url or not applies(pin.marker, ctx):
                continue
            dist = ctx.by_key.get(canonical(pin.name))
            if dist is None:
                message = (
                    f"{req.source} asks for {pin.requirement} ({pin.source}), which the image lacks"
                )
            elif satisfies(dist.version, pin.specifier) is False:
                message = (
                    f"{req.source} asks for {pin.requirement} ({pin.source}) but the image has "
                    f"{dist.name} {dist.version} (layer #{dist.layer.index})"
                )
            else:
                continue
            yield IC604.finding(
                subject=pin.name,
                message=message + "; the requirements changed since the build",
                hint=f"rebuild: {_rebuild(ctx, facts)}",
                layer=dist.layer if dist else None,
                location=_where(facts, req.line),
            )


def _cached_layers(ctx: Context, facts: StaleFacts) -> Iterator[Finding]:
    own = [s for s in facts.match.steps if s.entry is not None and s.line is not None]
    dates = [d for d in (parse_timestamp(s.entry.created) for s in own if s.entry) if d]
    if not dates:
        return
    newest = max(dates)
    for step in own:
        created = parse_timestamp(step.entry.created if step.entry else None)
        if created is None or not fetches(step):
            continue
        age = (newest - created).total_seconds() / 86400
        if age < facts.cache_age_days:
            continue
        days = _age(age)
        yield IC605.finding(
            subject=f"line {step.line}",
            message=f"'RUN {_script(step)[:120]}' ({_where(facts, step.line)}) ran {days} before "
            "the image's newest step: the builder reused a cached layer, and what it fetched "
            "is that old",
            hint=f"rebuild without the cache: {_rebuild(ctx, facts)}",
            layer=_layer(ctx, step),
            location=_where(facts, step.line),
        )


def _base(ctx: Context, facts: StaleFacts) -> Iterator[Finding]:
    state = facts.state
    if state is None or not state.base_layers:
        return
    base_entries = ctx.inventory.image.history[: facts.match.base_entries]
    used = tuple(e.diff_id for e in base_entries if e.diff_id)
    if used == state.base_layers:
        return
    yield IC606.finding(
        subject=state.base_ref,
        message=(
            f"the engine's {state.base_ref} ({(state.base_id or '')[:19]}, "
            f"{len(state.base_layers)} layer(s)) is not the base this image was built on "
            f"({len(used)} layer(s)): a rebuild would start from another base"
        ),
        hint=f"rebuild on the current base: {_rebuild(ctx, facts)}",
    )


def _age(days: float) -> str:
    return f"{days:.0f} day(s)" if days >= 1 else f"{days * 24:.1f} hour(s)"


def _squash(text: str) -> str:
    return " ".join(text.split())


def _script(step: Aligned) -> str:
    """A RUN's command as builders record it: no keyword, continuations joined."""
    body = step.text.split(None, 1)[1] if " " in step.text.strip() else ""
    _, command = flags(body.replace("\\\n", " "))  # --mount=... is not recorded
    return _squash(command)


def _cache(ctx: Context, facts: StaleFacts, stale: bool) -> Iterator[Finding]:
    """Cache entries a rebuild would serve for a network-fetching RUN, older than the
    cache age: a warning when the image is stale anyway (the prune is part of the fix),
    else worth knowing before the next build."""
    state = facts.state
    if state is None:
        return
    severity = "warning" if stale else "info"
    now = datetime.now(timezone.utc)
    for step in (s for s in facts.match.steps if fetches(s)):
        needle = _script(step)
        rec = chain_record(facts, step)
        created = parse_timestamp(rec.created_at) if rec is not None else None
        if rec is not None and created is not None:
            age = (now - created).total_seconds() / 86400
            if age >= facts.cache_age_days:
                stacked = len(stacked_on(state.records, rec.id))
                layer = step.entry.index if step.entry else "?"
                yield IC607.finding(
                    subject=f"build cache {rec.id[:12]}",
                    message=(
                        f"build cache record {rec.id[:12]} holds this image's layer of 'RUN "
                        f"{needle[:100]}' (line {step.line}, layer #{layer}): "
                        f"it ran {_age(age)} ago ({rec.created_at[:19]}), last used "
                        f"{(rec.last_used_at or 'never')[:19]}, used {rec.usage_count} "
                        f"time(s){', in use' if rec.in_use else ''}; a rebuild serves it again"
                    ),
                    hint=f"{prune_command(state.records, rec)} (this record"
                    + (f" and the {stacked} stacked on it" if stacked else "")
                    + f" only), then {_rebuild(ctx, facts)}",
                    location=_where(facts, step.line),
                    severity=severity,
                )
        for img in state.cached_images:
            days = (now.timestamp() - img.created) / 86400
            if not needle or needle not in _squash(img.created_by) or days < facts.cache_age_days:
                continue
            when = datetime.fromtimestamp(img.created, timezone.utc).isoformat(timespec="seconds")
            yield IC607.finding(
                subject=f"cached image {img.id[7:19]}",
                message=(
                    f"untagged image {img.id[7:19]} (made {when}, {days:.0f} day(s) ago) is the "
                    f"legacy builder's cache of 'RUN {needle[:100]}' (line {step.line}): a rebuild "
                    "reuses it"
                ),
                hint=(
                    f"{_rebuild(ctx, facts)} (--no-cache skips it; docker image prune -f drops the "
                    "dangling images that keep old ones)"
                ),
                location=_where(facts, step.line),
                severity=severity,
            )


def check_stale(ctx: Context) -> Iterator[Finding]:
    facts = ctx.stale
    if facts is None:
        return
    found: list[Finding] = []
    for part in (_history, _files, _declared, _requirements, _cached_layers, _base):
        found.extend(part(ctx, facts))
    yield from found
    yield from _cache(ctx, facts, stale=any(f.severity != "info" for f in found))
