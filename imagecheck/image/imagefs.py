"""The squashed image filesystem, built from layer indexes with overlay semantics.

Layers are applied bottom to top as the kernel's overlay would: an opaque folder
hides everything below it, a whiteout hides a path and all under it, a file put where
a folder was hides the folder's contents. Every visible path knows the layer that
wrote it, and what later layers hid or replaced is remembered: that is how the layer
view counts wasted bytes and how catalogers see what a layer removed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..model import HistoryEntry, LayerRef
from .elf import ElfInfo
from .layerindex import DIR, FILE, HARDLINK, MAX_CAPTURE, SYMLINK, Entry, LayerIndex

_MAX_HOPS = 40


@dataclass(frozen=True, slots=True)
class Node:
    entry: Entry
    layer: int  # position in ImageFS.layers


@dataclass(frozen=True, slots=True)
class Version:
    """One state of a captured file: its bytes as written by a layer, or None when removed."""

    layer: int
    data: bytes | None


@dataclass(slots=True)
class LayerStats:
    files_added: int = 0
    files_changed: int = 0
    files_removed: int = 0
    wasted_bytes: int = 0  # written by this layer, later hidden or replaced
    hidden_bytes: int = 0  # of lower layers, hidden or replaced by this one


class ImageFS:
    """Read-only view of the final filesystem. Paths are absolute (``/usr/lib``)."""

    UNREAD_BOUND = MAX_CAPTURE  # bytes of a catalog file the layer reader keeps

    def __init__(self, history: Sequence[HistoryEntry], indexes: Sequence[LayerIndex]) -> None:
        by_diff = {ix.diff_id: ix for ix in indexes}
        # One position per history entry that made a layer, in image order.
        self.layers: list[LayerRef] = []
        self._indexes: list[LayerIndex] = []
        for entry in history:
            if entry.diff_id is not None and not entry.empty_layer:
                self.layers.append(LayerRef(entry.index, entry.created_by, entry.diff_id))
                self._indexes.append(by_diff[entry.diff_id])
        self.stats = [LayerStats() for _ in self.layers]
        self._nodes: dict[str, Node] = {"": Node(Entry(DIR, 0, 0o755), -1)}
        self._children: dict[str, set[str]] = {"": set()}
        self._timeline: dict[str, list[Version]] = {}
        for pos, index in enumerate(self._indexes):
            self._apply(pos, index)

    # -- building -------------------------------------------------------------------------

    def _drop(self, path: str, pos: int, *, count: bool) -> None:
        """Hide ``path`` and everything under it (a whiteout, opaque folder or replacement)."""
        node = self._nodes.pop(path, None)
        if node is None:
            return
        for child in list(self._children.pop(path, ())):
            self._drop(child, pos, count=count)
        parent = path.rpartition("/")[0]
        siblings = self._children.get(parent)
        if siblings is not None:
            siblings.discard(path)
        if node.entry.kind == FILE and node.layer >= 0:
            self.stats[node.layer].wasted_bytes += node.entry.size
            self.stats[pos].hidden_bytes += node.entry.size
        if count and node.entry.kind != DIR:
            self.stats[pos].files_removed += 1
        timeline = self._timeline.get(path)
        if timeline is not None and timeline[-1].data is not None:
            timeline.append(Version(pos, None))

    def _ensure_parent(self, path: str, pos: int) -> None:
        parent = path.rpartition("/")[0]
        if parent not in self._nodes:
            self._ensure_parent(parent, pos)
            self._nodes[parent] = Node(Entry(DIR, 0, 0o755), pos)
            self._children.setdefault(parent.rpartition("/")[0], set()).add(parent)
        self._children.setdefault(parent, set()).add(path)

    def _apply(self, pos: int, index: LayerIndex) -> None:
        stats = self.stats[pos]
        for folder in index.opaque:
            for child in list(self._children.get(folder, ())):
                self._drop(child, pos, count=True)
        for path in index.whiteouts:
            self._drop(path, pos, count=True)
        for path in sorted(index.entries):
            entry = index.entries[path]
            old = self._nodes.get(path)
            if old is not None:
                if old.entry.kind == DIR and entry.kind == DIR:
                    continue  # a folder re-listed in a later layer keeps its files
                if DIR in (old.entry.kind, entry.kind):
                    self._drop(path, pos, count=False)
                elif old.entry.kind == FILE and old.layer >= 0:
                    self.stats[old.layer].wasted_bytes += old.entry.size
                    stats.hidden_bytes += old.entry.size
                stats.files_changed += entry.kind != DIR
            else:
                stats.files_added += entry.kind != DIR
            self._ensure_parent(path, pos)
            self._nodes[path] = Node(entry, pos)
            if entry.kind == DIR:
                self._children.setdefault(path, set())
        for path, data in index.contents.items():
            self._timeline.setdefault(path, []).append(Version(pos, data))

    # -- reading --------------------------------------------------------------------------

    @staticmethod
    def _key(path: str) -> str:
        return posixpath.normpath("/" + path).lstrip("/") if path not in ("", "/") else ""

    def node(self, path: str) -> Node | None:
        """The entry at ``path`` itself, symlinks not followed."""
        return self._nodes.get(self._key(path))

    def resolve(self, path: str) -> str | None:
        """``path`` with every symlink followed inside the image; None if it dangles."""
        parts = [p for p in self._key(path).split("/") if p]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            current = "/".join([*done, part])
            node = self._nodes.get(current)
            if node is None:
                return None
            if node.entry.kind == SYMLINK:
                hops += 1
                if hops > _MAX_HOPS:
                    return None
                target = node.entry.link
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/") if p and p != "."] + parts
                continue
            done.append(part)
        return "/" + "/".join(done)

    def exists(self, path: str) -> bool:
        return self.resolve(path) is not None

    def is_dir(self, path: str) -> bool:
        real = self.resolve(path)
        node = self._nodes.get(self._key(real)) if real else None
        return node is not None and node.entry.kind == DIR

    def listdir(self, path: str) -> list[str]:
        """Names in the folder at ``path`` (symlinks followed), sorted."""
        real = self.resolve(path)
        if real is None:
            return []
        return sorted(c.rpartition("/")[2] for c in self._children.get(self._key(real), ()))

    def layer_of(self, path: str) -> LayerRef | None:
        """The layer that wrote what ``path`` (symlinks followed) shows."""
        real = self.resolve(path)
        node = self._nodes.get(self._key(real)) if real else None
        if node is None or node.layer < 0:
            return None
        return self.layers[node.layer]

    def read(self, path: str) -> bytes | None:
        """The captured bytes of a visible file (only files the index keeps)."""
        real = self.resolve(path)
        if real is None:
            return None
        key = self._key(real)
        node = self._nodes.get(key)
        if node is not None and node.entry.kind == HARDLINK and node.entry.link:
            key = node.entry.link
        timeline = self._timeline.get(key)
        if not timeline or timeline[-1].data is None:
            return None
        return timeline[-1].data

    def elf(self, path: str) -> ElfInfo | None:
        real = self.resolve(path)
        node = self._nodes.get(self._key(real)) if real else None
        if node is None or node.layer < 0:
            return None
        return self._indexes[node.layer].elf.get(self._key(real or ""))

    def shebang(self, path: str) -> str | None:
        real = self.resolve(path)
        node = self._nodes.get(self._key(real)) if real else None
        if node is None or node.layer < 0:
            return None
        return self._indexes[node.layer].shebangs.get(self._key(real or ""))

    def captured(self) -> Iterator[str]:
        """Every path whose bytes some layer captured, visible or not (absolute)."""
        return ("/" + p for p in self._timeline)

    def timeline(self, path: str) -> list[Version]:
        """Each state of a captured file, bottom layer first."""
        return list(self._timeline.get(self._key(path), ()))

    def elf_files(self) -> Iterator[tuple[str, ElfInfo, LayerRef]]:
        """Every visible ELF file the indexes parsed, with the layer that wrote it."""
        for pos, index in enumerate(self._indexes):
            for path, info in index.elf.items():
                node = self._nodes.get(path)
                if node is not None and node.layer == pos:
                    yield "/" + path, info, self.layers[pos]

    def unread(self) -> Iterator[tuple[str, int, LayerRef]]:
        """Every visible catalog file its layer left unread (over ``UNREAD_BOUND``), with
        its size."""
        for pos, index in enumerate(self._indexes):
            for path, size in index.unread.items():
                node = self._nodes.get(path)
                if node is not None and node.layer == pos:
                    yield "/" + path, size, self.layers[pos]

    def size_of(self, pos: int) -> int:
        return self._indexes[pos].size

    def walk_files(self, prefixes: Iterable[str]) -> Iterator[str]:
        """Visible non-folder paths under the given folders (absolute, symlinks not followed)."""
        for prefix in prefixes:
            key = self._key(prefix)
            stack = [key]
            while stack:
                current = stack.pop()
                for child in self._children.get(current, ()):
                    node = self._nodes[child]
                    if node.entry.kind == DIR:
                        stack.append(child)
                    else:
                        yield "/" + child
