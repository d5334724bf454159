"""BuildKit's build cache as a graph: which records this image's build used (issue 16).

A BuildKit record (``/system/df`` BuildCache) is a snapshot stacked on its parent's
snapshot, and a build step is served from the cache only when the step and every step
under it match: two images that share a ``RUN`` line but differ in an earlier ``COPY``
each have their own record for that line, and neither can serve the other's build. So a
record is tied to this image only through the chain of parents, never through the text
of its description.

The anchor is the time: BuildKit writes a layer's history ``created`` from the record
that holds the layer (a cached step keeps the time it first ran), so the record of the
image's newest step is the one created at that instant, and its parents, walked up one
step at a time, must be the records of the steps before it, each created at its step's
instant. What is left above the first step is the base image's. A chain that does not
hold all the way up is no chain: nothing is cited.

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..engine import CacheRecord
from ..model import HistoryEntry
from ..timestamps import parse_timestamp


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One of the image's own layers and the cache record that holds it."""

    entry: HistoryEntry
    record: CacheRecord


@dataclass(frozen=True, slots=True)
class CacheChain:
    """The records a rebuild of this image would be served from, base first."""

    base: tuple[CacheRecord, ...]  # above the image's first own layer: the base image's
    steps: tuple[ChainStep, ...]  # the image's own layers that still have a record, in order
    note: str = ""  # why some or all of the image's layers have none

    def record_of(self, index: int) -> CacheRecord | None:
        """The record of the history entry ``index``, when it is on the chain."""
        return next((s.record for s in self.steps if s.entry.index == index), None)


def _instant(value: str | None) -> datetime | None:
    return parse_timestamp(value) if value else None


def cache_chain(
    records: Sequence[CacheRecord], history: Sequence[HistoryEntry], base_entries: int
) -> CacheChain:
    """The chain of ``records`` that built the image's own layers (the history entries
    from ``base_entries`` on that made a layer). Where the newest layers' records were
    pruned, the chain ends at the newest layer that has one."""
    own = [e for e in history[base_entries:] if not e.empty_layer]
    if not own:
        return CacheChain((), (), "the image has no layer of its own")
    by_id = {r.id: r for r in records}
    by_time: dict[datetime, list[CacheRecord]] = {}
    for rec in records:
        at = _instant(rec.created_at)
        if at is not None:
            by_time.setdefault(at, []).append(rec)
    for last in range(len(own) - 1, -1, -1):
        at = _instant(own[last].created)
        found = [
            chain
            for candidate in (by_time.get(at, []) if at is not None else [])
            if (chain := _walk_up(candidate, own[: last + 1], by_id)) is not None
        ]
        if len(found) > 1:  # the same instants on two chains: never guess which
            return CacheChain((), (), "two chains of build cache records fit this image's layers")
        if found:
            missing = len(own) - 1 - last
            note = (
                f"the build cache holds no record of the image's newest {missing} layer(s)"
                if missing
                else ""
            )
            return CacheChain(found[0][0], found[0][1], note)
    return CacheChain(
        (),
        (),
        "no build cache record holds this image's layers (pruned, or built by another "
        "builder or engine)",
    )


def _walk_up(
    record: CacheRecord, own: Sequence[HistoryEntry], by_id: dict[str, CacheRecord]
) -> tuple[tuple[CacheRecord, ...], tuple[ChainStep, ...]] | None:
    """``record`` as the newest of ``own``'s records: each parent up the chain must be the
    record of the step before, created at that step's instant; what remains is the base."""
    steps: list[ChainStep] = []
    current: CacheRecord | None = record
    for entry in reversed(own):
        if current is None or _instant(current.created_at) != _instant(entry.created):
            return None
        steps.append(ChainStep(entry, current))
        current = _parent(current, by_id)
    base: list[CacheRecord] = []
    seen = {s.record.id for s in steps}
    while current is not None and current.id not in seen:
        base.append(current)
        seen.add(current.id)
        current = _parent(current, by_id)
    return tuple(reversed(base)), tuple(reversed(steps))


def _parent(record: CacheRecord, by_id: dict[str, CacheRecord]) -> CacheRecord | None:
    return by_id.get(record.parents[0]) if record.parents else None


def stacked_on(records: Sequence[CacheRecord], record_id: str) -> tuple[CacheRecord, ...]:
    """Every record stacked on ``record_id``, however far down, the farthest first: the
    engine removes a record only once nothing is stacked on it."""
    children: dict[str, list[CacheRecord]] = {}
    for rec in records:
        for parent in rec.parents:
            children.setdefault(parent, []).append(rec)
    out: list[CacheRecord] = []
    seen: set[str] = {record_id}

    def visit(rid: str) -> None:
        for child in sorted(children.get(rid, []), key=lambda r: r.id):
            if child.id in seen:
                continue
            seen.add(child.id)
            visit(child.id)
            out.append(child)

    visit(record_id)
    return tuple(out)


def prune_command(records: Sequence[CacheRecord], record: CacheRecord) -> str:
    """The smallest prune that removes ``record``: it, after every record stacked on it.
    One ``--filter id=`` per command (given two, Docker 20.10 removed neither), and
    ``-a`` (without it, it removed nothing an image was built from)."""
    ids = [r.id for r in stacked_on(records, record.id)] + [record.id]
    return " && ".join(f"docker builder prune -af --filter id={rid}" for rid in ids)
