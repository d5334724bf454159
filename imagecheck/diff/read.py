"""The diff step of a pipeline: two images already opened and catalogued, their
application files read from the layer indexes (cached by diff_id), and only the files
an index cannot tell apart digested in place, where the source can."""

from __future__ import annotations

from ..image import ImageFS, ImageReader
from ..model import ImageDiff, Inventory
from .compare import diff_images
from .files import app_roots, digests_wanted, file_states, venv_roots, with_digests, without


def _fs(reader: ImageReader, inv: Inventory) -> ImageFS:
    info = inv.image
    found = reader.indexes(info.diff_ids)
    return ImageFS(info.history, [found[d] for d in dict.fromkeys(info.diff_ids)])


def _digests(reader: ImageReader, wanted: dict[str, set[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for diff_id, paths in wanted.items():
        out.update(reader.digests(diff_id, paths))
    return out


def diff_readers(
    old_reader: ImageReader, old: Inventory, new_reader: ImageReader, new: Inventory
) -> ImageDiff:
    """``old`` and ``new`` (each its reader's inventory) compared."""
    old_fs, new_fs = _fs(old_reader, old), _fs(new_reader, new)
    roots = app_roots([(old.image, old_fs), (new.image, new_fs)])
    old_files, new_files = file_states(old_fs, roots), file_states(new_fs, roots)
    venvs = venv_roots((old, new), (old_files, new_files))
    old_files, new_files = without(old_files, venvs), without(new_files, venvs)
    want_old, want_new = digests_wanted(old_files, new_files)
    if want_old:
        old_files = with_digests(old_files, _digests(old_reader, want_old))
        new_files = with_digests(new_files, _digests(new_reader, want_new))
    return diff_images(old, new, old_files, new_files, roots=roots)
