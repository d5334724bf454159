"""A diff as plain data: the JSON document of ``imagecheck diff`` (schemas/diff.schema.json)
and the ``changes`` of a triage report. No rich here: JSON output loads no terminal code."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from ..model import ImageDiff
from .json import tool_header

#: The kinds, in the order they are shown, with their section titles.
KINDS = (
    ("layers", "Layers"),
    ("python", "Python distributions"),
    ("debian", "Debian packages"),
    ("libraries", "Shared libraries"),
    ("files", "Application files"),
    ("config", "Image config"),
    ("alembic", "Alembic"),
)


def diff_document(d: ImageDiff) -> dict[str, Any]:
    """The plain data of a diff: every change, with the counts of each kind."""
    return tool_header() | diff_data(d)


def diff_data(d: ImageDiff) -> dict[str, Any]:
    """The diff without the tool header (triage's ``changes`` holds it)."""
    return {
        "old": {"ref": d.old_ref, "id": d.old_id},
        "new": {"ref": d.new_ref, "id": d.new_id},
        "same_image": d.old_id == d.new_id,
        "counts": counts(d),
        **{kind: [_plain(asdict(x)) for x in getattr(d, kind)] for kind, _ in KINDS},
        "file_roots": list(d.file_roots),
        "files_compared": d.files_compared,
        "files_unverified": d.files_unverified,
        "notes": list(d.notes),
    }


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON's arrays are lists: a dataclass's tuple fields become lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in row.items()}


def counts(d: ImageDiff) -> dict[str, dict[str, int]]:
    """Per kind, how many of each change (layers: kept too)."""
    out: dict[str, dict[str, int]] = {
        "layers": dict(Counter(x.status for x in d.layers)),
        "python": dict(Counter(x.change for x in d.python)),
        "debian": dict(Counter(x.change for x in d.debian)),
        "libraries": dict(Counter(x.change for x in d.libraries)),
        "files": dict(Counter(x.change for x in d.files)),
        "config": dict(Counter(x.field for x in d.config)),
        "alembic": {"configs": len(d.alembic)} if d.alembic else {},
    }
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def has_changes(kind: str, d: ImageDiff) -> bool:
    """Whether ``kind`` changed (layers: any not kept)."""
    if kind == "layers":
        return any(x.status != "kept" for x in d.layers)
    return bool(getattr(d, kind))
