"""The application's files of one image, as the layer indexes record them.

An index records each entry's kind, size, mode and link, the bytes of the few files the
catalogers keep, and (through its layer's diff_id) the digest of the layer that wrote it;
no per-file digest and no mtime. Two files are the same when the same layer wrote them
(the layer digest covers their bytes), or their kept bytes are equal, or their sha256 is
(read in place where the source can, only for equal sizes in other layers); else their
sizes tell a change, and equal sizes in other layers without a digest stay unverified.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..image import ImageFS
from ..model import FileChange, ImageInfo, Inventory

#: Top-level folders of the system and its packages: not the application's, unless the
#: image's WORKDIR is below one of them (``/usr/src/app``).
SYSTEM_TOP = frozenset(
    {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "media", "mnt", "proc"}
    | {"root", "run", "sbin", "sys", "tmp", "usr", "var"}
)
_SKIP_PARTS = ("/site-packages/", "/dist-packages/", "/__pycache__/", "/node_modules/.cache/")


@dataclass(frozen=True, slots=True)
class FileState:
    """A visible file as its layer index records it."""

    kind: str  # the index's: "f", "l", "h", "o"
    size: int
    mode: int
    link: str
    diff_id: str  # the layer that wrote it
    sha256: str | None  # of its kept bytes, or read in place
    digest_from: str = ""  # "bytes" (the index kept them) or "sha256" (read in place)


def app_roots(images: Iterable[tuple[ImageInfo, Iterable[str]]]) -> tuple[str, ...]:
    """The folders holding the application in either image (each given with the names at
    the top of its layers): each WORKDIR, and every top-level folder that is not the
    system's (``/app``, ``/srv``, ``/opt``)."""
    roots: set[str] = set()
    for info, top in images:
        workdir = posixpath.normpath("/" + info.working_dir.lstrip("/"))
        if workdir != "/":
            roots.add(workdir)
        roots.update("/" + name for name in top if name and name not in SYSTEM_TOP)
    # A root below another is walked with it.
    ordered = sorted(roots)
    return tuple(r for r in ordered if not any(r.startswith(o + "/") for o in ordered if o != r))


def venv_roots(
    inventories: Iterable[Inventory], states: Iterable[Mapping[str, FileState]]
) -> tuple[str, ...]:
    """Virtual environments in either image: the catalog's, and any folder holding a
    ``pyvenv.cfg`` (installed software, compared as distributions, not as files)."""
    found = {e.venv for inv in inventories for e in inv.environments if e.venv}
    for table in states:
        found.update(p.rpartition("/")[0] for p in table if p.endswith("/pyvenv.cfg"))
    return tuple(sorted(found))


def without(states: Mapping[str, FileState], folders: tuple[str, ...]) -> dict[str, FileState]:
    """``states`` minus the files under ``folders``."""
    prefixes = tuple(f.rstrip("/") + "/" for f in folders)
    return {p: s for p, s in states.items() if not p.startswith(prefixes)}


def installed(path: str) -> bool:
    """Byte code, or a file of an installed distribution: never the application's own."""
    return path.endswith(".pyc") or any(part in path for part in _SKIP_PARTS)


def file_states(fs: ImageFS, roots: tuple[str, ...]) -> dict[str, FileState]:
    """Each visible non-folder path under ``roots`` (absolute), minus installed
    distributions and byte code."""
    states: dict[str, FileState] = {}
    for path in fs.walk_files(roots):
        if installed(path):
            continue
        node = fs.node(path)
        if node is None or node.layer < 0:
            continue
        entry = node.entry
        data = fs.read(path) if entry.kind == "f" else None
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        diff_id = fs.layers[node.layer].diff_id or ""
        states[path] = FileState(
            entry.kind, entry.size, entry.mode, entry.link, diff_id, digest, "bytes" if data else ""
        )
    return states


def digests_wanted(
    old: Mapping[str, FileState], new: Mapping[str, FileState]
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The files only a digest can tell apart (in both, regular, equal size, other layers,
    bytes not kept): index paths by diff_id, for OLD and for NEW."""
    want_old: dict[str, set[str]] = {}
    want_new: dict[str, set[str]] = {}
    for path, a in old.items():
        b = new.get(path)
        if b is None or a.kind != "f" or b.kind != "f" or a.size != b.size:
            continue
        if a.diff_id == b.diff_id or (a.sha256 is not None and b.sha256 is not None):
            continue
        want_old.setdefault(a.diff_id, set()).add(path.lstrip("/"))
        want_new.setdefault(b.diff_id, set()).add(path.lstrip("/"))
    return want_old, want_new


def with_digests(
    states: Mapping[str, FileState], digests: Mapping[str, str]
) -> dict[str, FileState]:
    """``states`` with the sha256 read in place (``digests`` by index path) filled in."""
    out = dict(states)
    for key, digest in digests.items():
        path = "/" + key
        if path in out:
            s = out[path]
            out[path] = FileState(s.kind, s.size, s.mode, s.link, s.diff_id, digest, "sha256")
    return out


def compare_files(
    old: Mapping[str, FileState], new: Mapping[str, FileState]
) -> tuple[tuple[FileChange, ...], int, int]:
    """The changed files, how many both images hold, and how many equal-size files in
    other layers could not be compared by content."""
    changes: list[FileChange] = []
    unverified = 0
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if a is None or b is None:
            change = "added" if a is None else "removed"
            old_size = None if a is None else a.size
            changes.append(FileChange(path, change, "", old_size, None if b is None else b.size))
            continue
        basis = _changed_by(a, b)
        if basis == "unverified":
            unverified += 1
        elif basis:
            changes.append(FileChange(path, "changed", basis, a.size, b.size))
    return tuple(changes), len(old.keys() & new.keys()), unverified


def _changed_by(a: FileState, b: FileState) -> str:
    """What shows the file changed; "" when it did not, "unverified" when nothing can tell."""
    if a.kind != b.kind:
        return "kind"
    if a.kind == "l":
        return "link" if a.link != b.link else ""
    if a.diff_id == b.diff_id:
        return ""  # one layer, one digest: the same bytes
    if a.size != b.size:
        return "size"
    if a.sha256 is not None and b.sha256 is not None:
        if a.sha256 == b.sha256:
            return ""
        return "bytes" if a.digest_from == b.digest_from == "bytes" else "sha256"
    if a.kind == "f" and a.size == 0:
        return ""
    return "unverified"
