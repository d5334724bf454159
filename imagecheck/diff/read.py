"""The diff step of a pipeline: two images already opened and catalogued, their
application files read from the layer indexes (cached by diff_id), and only the files
an index cannot tell apart digested in place, where the source can.

Only the application's folders are squashed: each layer index is cut down to the
entries under them (and the whiteouts and opaque folders that reach them) before the
image filesystem is built, so a large base image costs its index's load, not its walk.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..image import ImageFS, ImageReader, LayerIndex
from ..model import ImageDiff, Inventory
from .compare import diff_images
from .files import (
    app_roots,
    digests_wanted,
    file_states,
    installed,
    venv_roots,
    with_digests,
    without,
)


def _indexes(
    reader: ImageReader, inv: Inventory, have: Sequence[LayerIndex] = ()
) -> list[LayerIndex]:
    """The image's layer indexes in order; those in ``have`` (the other image's: an
    index depends only on its diff_id) are not loaded again."""
    found = {ix.diff_id: ix for ix in have if ix.diff_id in inv.image.diff_ids}
    found |= reader.indexes(d for d in inv.image.diff_ids if d not in found)
    return [found[d] for d in dict.fromkeys(inv.image.diff_ids)]


def _tops(indexes: Sequence[LayerIndex]) -> set[str]:
    return {p.partition("/")[0] for ix in indexes for p in ix.entries}


def _cut(index: LayerIndex, roots: tuple[str, ...]) -> LayerIndex:
    """``index`` with only what can reach ``roots`` (index keys, no leading slash)."""
    inside = tuple(r + "/" for r in roots)

    def reaches(path: str) -> bool:  # under a root, or a folder above one
        return (
            path in roots or path.startswith(inside) or any(r.startswith(path + "/") for r in roots)
        )

    return LayerIndex(
        diff_id=index.diff_id,
        entries={
            p: e
            for p, e in index.entries.items()
            if (p in roots or p.startswith(inside)) and not installed("/" + p)
        },
        whiteouts=frozenset(p for p in index.whiteouts if reaches(p)),
        opaque=frozenset(p for p in index.opaque if p == "" or reaches(p)),
        contents={p: c for p, c in index.contents.items() if p.startswith(inside)},
    )


def _fs(inv: Inventory, indexes: Sequence[LayerIndex], roots: tuple[str, ...]) -> ImageFS:
    keys = tuple(r.lstrip("/") for r in roots)
    return ImageFS(inv.image.history, [_cut(ix, keys) for ix in indexes])


def _digests(reader: ImageReader, wanted: dict[str, set[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for diff_id, paths in wanted.items():
        out.update(reader.digests(diff_id, paths))
    return out


def diff_readers(
    old_reader: ImageReader, old: Inventory, new_reader: ImageReader, new: Inventory
) -> ImageDiff:
    """``old`` and ``new`` (each its reader's inventory) compared."""
    old_ix = _indexes(old_reader, old)
    new_ix = _indexes(new_reader, new, old_ix)
    roots = app_roots([(old.image, _tops(old_ix)), (new.image, _tops(new_ix))])
    old_files = file_states(_fs(old, old_ix, roots), roots)
    new_files = file_states(_fs(new, new_ix, roots), roots)
    venvs = venv_roots((old, new), (old_files, new_files))
    old_files, new_files = without(old_files, venvs), without(new_files, venvs)
    want_old, want_new = digests_wanted(old_files, new_files)
    if want_old:
        old_files = with_digests(old_files, _digests(old_reader, want_old))
        new_files = with_digests(new_files, _digests(new_reader, want_new))
    return diff_images(old, new, old_files, new_files, roots=roots)
