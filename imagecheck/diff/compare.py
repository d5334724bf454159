"""OLD against NEW: a pure function of two inventories and their application files."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping

from packaging.version import InvalidVersion, Version

from ..app import Graph, describe
from ..model import (
    AlembicChange,
    AlembicScripts,
    ConfigChange,
    ImageDiff,
    ImageInfo,
    Inventory,
    LayerDiff,
    LibraryChange,
    VersionChange,
)
from .debver import compare_debian
from .files import FileState, compare_files

# The legacy builder names a COPY/ADD by its content's digest: the same step with other
# files would read as another command. BuildKit's "# buildkit" suffix is no command either.
_CONTENT_DIGEST = re.compile(r"\b(file|dir|multi):[0-9a-f]{64}\b")
_BUILDKIT = re.compile(r"\s*# buildkit$")
_BUILD_ARGS = re.compile(r"\|(\d+) ")


def command_key(created_by: str) -> str:
    """A history command as layers are matched by it: content digests, build arguments
    (``|2 A=1 B=2``: another value is the same step rebuilt) and spacing aside."""
    text = _BUILDKIT.sub("", _CONTENT_DIGEST.sub(r"\1:", created_by))
    words = text.replace("/bin/sh -c #(nop) ", "").split()
    for i, word in enumerate(words):
        args = _BUILD_ARGS.fullmatch(word + " ")
        if args:
            del words[i : i + 1 + int(args.group(1))]
            break
    return " ".join(words)


def compare_layers(old: Inventory, new: Inventory) -> tuple[LayerDiff, ...]:
    """The layers (history entries that wrote files) matched in order by their commands:
    kept (same diff_id), rebuilt (same command, other content), added, removed."""
    a = [s for s in old.layers if s.entry.diff_id is not None and not s.entry.empty_layer]
    b = [s for s in new.layers if s.entry.diff_id is not None and not s.entry.empty_layer]
    matcher = difflib.SequenceMatcher(
        None,
        [command_key(s.entry.created_by) for s in a],
        [command_key(s.entry.created_by) for s in b],
        autojunk=False,
    )
    out: list[LayerDiff] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for x, y in zip(a[i1:i2], b[j1:j2], strict=True):
                status = "kept" if x.entry.diff_id == y.entry.diff_id else "rebuilt"
                out.append(
                    LayerDiff(
                        status, y.entry.created_by, x.entry.diff_id, y.entry.diff_id, x.size, y.size
                    )
                )
            continue
        out.extend(
            LayerDiff("removed", x.entry.created_by, x.entry.diff_id, None, x.size, 0)
            for x in a[i1:i2]
        )
        out.extend(
            LayerDiff("added", y.entry.created_by, None, y.entry.diff_id, 0, y.size)
            for y in b[j1:j2]
        )
    return tuple(out)


def _python_order(a: str, b: str) -> int | None:
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        return None
    return (va > vb) - (va < vb)


def _versions(
    kind: str,
    old: Mapping[tuple[str, str], tuple[str, str]],
    new: Mapping[tuple[str, str], tuple[str, str]],
) -> tuple[VersionChange, ...]:
    """``old``/``new``: (where, key) to (name, version)."""
    out: list[VersionChange] = []
    for where, key in sorted(old.keys() | new.keys()):
        a, b = old.get((where, key)), new.get((where, key))
        if a is None and b is not None:
            out.append(VersionChange(kind, b[0], "added", None, b[1], where))
        elif b is None and a is not None:
            out.append(VersionChange(kind, a[0], "removed", a[1], None, where))
        elif a is not None and b is not None and a[1] != b[1]:
            order = compare_debian(a[1], b[1]) if kind == "debian" else _python_order(a[1], b[1])
            change = {None: "changed", 1: "downgraded", -1: "upgraded", 0: "changed"}[order]
            out.append(VersionChange(kind, b[0], change, a[1], b[1], where))
    return tuple(out)


def compare_python(old: Inventory, new: Inventory) -> tuple[VersionChange, ...]:
    """The live distributions of each environment (site folder)."""

    def table(inv: Inventory) -> dict[tuple[str, str], tuple[str, str]]:
        return {(d.environment, d.key): (d.name, d.version) for d in inv.python if d.live}

    return _versions("python", table(old), table(new))


def compare_debian_packages(old: Inventory, new: Inventory) -> tuple[VersionChange, ...]:
    def table(inv: Inventory) -> dict[tuple[str, str], tuple[str, str]]:
        return {
            ("apk" if p.source == "apk" else "dpkg", f"{p.name}:{p.architecture}"): (
                p.name,
                p.version,
            )
            for p in inv.debian
        }

    return _versions("debian", table(old), table(new))


def compare_libraries(old: Inventory, new: Inventory) -> tuple[LibraryChange, ...]:
    """Shared libraries by SONAME (those without one are modules, not libraries)."""

    def table(inv: Inventory) -> dict[str, tuple[str, ...]]:
        paths: dict[str, list[str]] = {}
        for lib in inv.libraries:
            if lib.soname:
                paths.setdefault(lib.soname, []).append(lib.path)
        return {k: tuple(sorted(v)) for k, v in paths.items()}

    a, b = table(old), table(new)
    out: list[LibraryChange] = []
    for soname in sorted(a.keys() | b.keys()):
        pa, pb = a.get(soname, ()), b.get(soname, ())
        if pa == pb:
            continue
        change = "added" if not pa else "removed" if not pb else "moved"
        out.append(LibraryChange(soname, change, pa, pb))
    return tuple(out)


def _exec_form(words: tuple[str, ...]) -> str | None:
    return json.dumps(list(words)) if words else None


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _keyed(field: str, a: Mapping[str, str], b: Mapping[str, str]) -> list[ConfigChange]:
    return [
        ConfigChange(field, key, a.get(key), b.get(key))
        for key in sorted(a.keys() | b.keys())
        if a.get(key) != b.get(key)
    ]


def compare_config(old: ImageInfo, new: ImageInfo) -> tuple[ConfigChange, ...]:
    """ENTRYPOINT, CMD, WORKDIR, USER, then each env variable, label and exposed port."""
    out: list[ConfigChange] = []
    for field, a, b in (
        ("entrypoint", _exec_form(old.entrypoint), _exec_form(new.entrypoint)),
        ("cmd", _exec_form(old.cmd), _exec_form(new.cmd)),
        ("working_dir", old.working_dir or None, new.working_dir or None),
        ("user", old.user or None, new.user or None),
    ):
        if a != b:
            out.append(ConfigChange(field, "", a, b))
    out += _keyed("env", _pairs(old.env), _pairs(new.env))
    out += _keyed("labels", dict(old.labels), dict(new.labels))
    ports_a = dict.fromkeys(old.exposed_ports, "exposed")
    out += _keyed("exposed_ports", ports_a, dict.fromkeys(new.exposed_ports, "exposed"))
    return tuple(out)


def _heads(scripts: AlembicScripts) -> tuple[str, ...]:
    graph = Graph.of(scripts)
    return tuple(describe(r, r.revision) for r in graph.heads())


def compare_alembic(old: Inventory, new: Inventory) -> tuple[AlembicChange, ...]:
    """Each alembic.ini of either image: its heads, and the revisions only one image has."""
    a = {s.config: s for s in old.alembic}
    b = {s.config: s for s in new.alembic}
    out: list[AlembicChange] = []
    for config in sorted(a.keys() | b.keys()):
        sa, sb = a.get(config), b.get(config)
        ra = {r.revision: r for r in sa.revisions} if sa else {}
        rb = {r.revision: r for r in sb.revisions} if sb else {}
        ha = _heads(sa) if sa else ()
        hb = _heads(sb) if sb else ()
        added = tuple(describe(rb[r], r) for r in sorted(rb.keys() - ra.keys()))
        removed = tuple(describe(ra[r], r) for r in sorted(ra.keys() - rb.keys()))
        if ha != hb or added or removed:
            out.append(AlembicChange(config, ha, hb, added, removed))
    return tuple(out)


def diff_images(
    old: Inventory,
    new: Inventory,
    old_files: Mapping[str, FileState],
    new_files: Mapping[str, FileState],
    *,
    roots: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
) -> ImageDiff:
    """What changed from ``old`` to ``new``: nothing here reads an image."""
    files, compared, unverified = compare_files(old_files, new_files)
    if unverified:
        why = (
            f"{unverified} file(s) of equal size written by other layers could not be "
            "compared by content (the source cannot read them in place): counted unchanged"
        )
        notes = (*notes, why)
    return ImageDiff(
        old_ref=old.image.ref,
        old_id=old.image.id,
        new_ref=new.image.ref,
        new_id=new.image.id,
        layers=compare_layers(old, new),
        python=compare_python(old, new),
        debian=compare_debian_packages(old, new),
        libraries=compare_libraries(old, new),
        files=files,
        config=compare_config(old.image, new.image),
        alembic=compare_alembic(old, new),
        file_roots=roots,
        files_compared=compared,
        files_unverified=unverified,
        notes=notes,
    )
