"""The inventory of an image: every cataloger over one squashed filesystem, and what
each layer added, changed and removed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..app import catalog_alembic, image_scripts
from ..image import ImageFS, LayerIndex, Progress, ProgressFn, no_progress
from ..model import Change, ImageInfo, Inventory, LayerSummary, UnreadFile
from .dpkg import catalog_debian
from .elf import catalog_libraries, ld_so_conf_paths
from .python import catalog_python, mark_applications, python_events
from .unread import unread_note


def catalog_image(
    info: ImageInfo,
    indexes: Sequence[LayerIndex],
    notes: tuple[str, ...] = (),
    progress: ProgressFn = no_progress,
) -> Inventory:
    """Catalog an image from its layer indexes, in ``info.diff_ids`` order."""
    progress(Progress("catalog", 0, 1))
    fs = ImageFS(info.history, list(indexes))
    environments, interpreter, python = catalog_python(fs, info)
    py_removed, py_changes = python_events(fs, python)
    debian, deb_removed, deb_changes = catalog_debian(fs)
    libraries = catalog_libraries(fs)
    unread = tuple(UnreadFile(p, size, ref, fs.UNREAD_BOUND) for p, size, ref in fs.unread())
    notes = (*notes, *(unread_note(u) for u in unread))
    progress(Progress("catalog", 1, 1))
    by_index = {ref.index: pos for pos, ref in enumerate(fs.layers)}
    layers = []
    for entry in info.history:
        changes: list[Change] = [
            *py_changes.get(entry.index, ()),
            *deb_changes.get(entry.index, ()),
        ]
        pos = by_index.get(entry.index)
        if pos is None:
            layers.append(LayerSummary(entry, 0, 0, 0, 0, 0, 0, tuple(changes)))
            continue
        st = fs.stats[pos]
        layers.append(
            LayerSummary(
                entry,
                fs.size_of(pos),
                st.files_added,
                st.files_changed,
                st.files_removed,
                st.wasted_bytes,
                st.hidden_bytes,
                tuple(changes),
            )
        )
    return Inventory(
        image=info,
        environments=environments,
        interpreter=interpreter,
        python=python,
        removed=(*py_removed, *deb_removed),
        debian=debian,
        libraries=libraries,
        layers=tuple(layers),
        notes=notes,
        ld_paths=ld_so_conf_paths(fs),
        alembic=catalog_alembic(fs, fs.captured()),
        scripts=image_scripts(fs),
        unread=unread,
    )


def with_applications(inv: Inventory, projects: Sequence[str]) -> Inventory:
    """The inventory with the pins' own projects (a lock's root, the pyproject's name)
    marked as the application."""
    if not projects:
        return inv
    return replace(inv, python=mark_applications(inv.python, projects))
