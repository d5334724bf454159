"""BuildKit's cache records as a graph: the chain of one image's layers, and the
smallest prune, on records as ``/system/df`` writes them (Docker 20.10 and 1.42+)."""

from __future__ import annotations

from typing import Any

from imagecheck.engine import CacheRecord, cache_records
from imagecheck.model import HistoryEntry
from imagecheck.stale.buildcache import cache_chain, prune_command, stacked_on

T0, T1, T2, T3 = (
    "2026-01-01T10:00:00.100000001Z",
    "2026-01-02T10:00:00.200000002Z",
    "2026-01-02T10:00:01.300000003Z",
    "2026-01-02T10:00:02.4Z",
)


def _history(*created: str) -> tuple[HistoryEntry, ...]:
    """A base layer, an ENV (no layer), then one layer per time in ``created``."""
    out = [
        HistoryEntry(
            0, "2025-06-01T00:00:00Z", "/bin/sh -c #(nop) ADD file:x in /", "", False, "a"
        ),
        HistoryEntry(1, T1, "ENV A=b", "buildkit.dockerfile.v0", True, None),
    ]
    for n, at in enumerate(created, start=2):
        out.append(HistoryEntry(n, at, f"RUN /bin/sh -c step{n} # buildkit", "", False, f"l{n}"))
    return tuple(out)


def _records(rows: list[tuple[str, str, str]], key: str = "Parent") -> tuple[CacheRecord, ...]:
    def one(rid: str, parent: str, created: str) -> dict[str, Any]:
        value: Any = parent if key == "Parent" else ([parent] if parent else None)
        return {"ID": rid, key: value, "Type": "regular", "CreatedAt": created, "UsageCount": 1}

    return cache_records({"BuildCache": [one(*row) for row in rows]})


def test_the_chain_of_an_image_and_not_its_neighbours() -> None:
    """Three images on one base share the first RUN's record; their second steps differ
    (another COPY, say), and each has its own record of the shared third line."""
    rows = [
        ("base", "", "2025-06-01T00:00:00Z"),
        ("run1", "base", T1),
        ("a2", "run1", T2),
        ("a3", "a2", T3),
        ("b2", "run1", "2026-01-02T10:00:03Z"),
        ("b3", "b2", T3),  # the same instant as a3: only the walk up tells them apart
        ("c2", "run1", "2026-01-02T10:00:05Z"),
        ("c3", "c2", "2026-01-02T10:00:06Z"),
    ]
    for key in ("Parent", "Parents"):
        records = _records(rows, key)
        history = _history(T1, T2, T3)
        chain = cache_chain(records, history, 1)
        assert [r.id for r in chain.base] == ["base"]
        assert [s.record.id for s in chain.steps] == ["run1", "a2", "a3"]
        assert chain.note == ""
        # Another image on the same first layer: its own records, none of a2, a3, b3.
        other = cache_chain(
            records, _history(T1, "2026-01-02T10:00:05Z", "2026-01-02T10:00:06Z"), 1
        )
        assert [s.record.id for s in other.steps] == ["run1", "c2", "c3"]
        last = other.record_of(4)
        assert last is not None
        assert last.id == "c3"
        assert other.record_of(1) is None  # the ENV made no layer


def test_two_chains_that_fit_cite_nothing() -> None:
    rows = [("run1", "", T1), ("a2", "run1", T2), ("b2", "run1", T2)]
    chain = cache_chain(_records(rows), _history(T1, T2), 1)
    assert chain.steps == ()
    assert chain.note == "two chains of build cache records fit this image's layers"


def test_a_pruned_tail_a_broken_chain_and_no_records() -> None:
    rows = [("base", "", "2025-06-01T00:00:00Z"), ("run1", "base", T1), ("r2", "run1", T2)]
    chain = cache_chain(_records(rows), _history(T1, T2, T3), 1)
    assert [s.record.id for s in chain.steps] == ["run1", "r2"]
    assert "newest 1 layer(s)" in chain.note
    # The newest record is at the right moment but stacked on a record of another time:
    # not this image's chain, so nothing at all is cited.
    broken = [("base", "", "2025-06-01T00:00:00Z"), ("x1", "base", T0), ("r2", "x1", T2)]
    none = cache_chain(_records(broken), _history(T1, T2), 1)
    assert none.steps == ()
    assert "no build cache record holds this image's layers" in none.note
    assert cache_chain((), _history(T1), 1).steps == ()
    assert cache_chain(_records(rows), _history(), 1).note == "the image has no layer of its own"


def test_the_smallest_prune_goes_leaf_first() -> None:
    rows = [
        ("base", "", T0),
        ("run1", "base", T1),
        ("b2", "run1", T2),
        ("a2", "run1", T2),
        ("a3", "a2", T3),
    ]
    records = _records(rows)
    assert [r.id for r in stacked_on(records, "run1")] == ["a3", "a2", "b2"]
    run1 = next(r for r in records if r.id == "run1")
    assert prune_command(records, run1) == (
        "docker builder prune -af --filter id=a3 && docker builder prune -af --filter id=a2 && "
        "docker builder prune -af --filter id=b2 && docker builder prune -af --filter id=run1"
    )
    a3 = next(r for r in records if r.id == "a3")
    assert prune_command(records, a3) == "docker builder prune -af --filter id=a3"
