"""Alembic, statically: an ``alembic.ini``'s revision scripts read with ``ast``, never run.

``alembic upgrade head`` at a container's start fails on two heads after two branches
merged (``Multiple head revisions are present``), on a ``down_revision`` no script
defines, and on two scripts with one revision id; a script that does not parse hides
every revision after it. These are read from the image filesystem (or a source tree,
for ``imagecheck lint``) the way alembic loads them: ``script_location`` (and
``version_locations``) of the ini, every ``*.py`` there but ``__init__.py``, the module
level ``revision``, ``down_revision``, ``depends_on`` and ``branch_labels``.

The graph functions (``heads``, ``behind``, ...) also compare the image's head with the
revision the live database is at (``imagecheck SERVICE``).
"""

from __future__ import annotations

import ast
import configparser
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..model import AlembicEnv, AlembicRevision, AlembicScripts
from .envpy import ini_url, read_env

#: Files alembic's script directory loads as revisions (``_only_source_rev_file``).
_SCRIPT = re.compile(r"^(?!\.#|__init__)[^/]*\.py$")
_FIELDS = ("revision", "down_revision", "depends_on", "branch_labels")
#: Where an ``alembic.ini`` in an image is the application's, not a library's template.
_NOT_APPLICATION = ("/usr/share/", "/usr/lib/python", "/usr/local/lib/python")


class Files(Protocol):
    """What the reader needs of a filesystem: the image's (``ImageFS``) or a folder's."""

    def read(self, path: str) -> bytes | None: ...

    def listdir(self, path: str) -> list[str]: ...

    def is_dir(self, path: str) -> bool: ...


class Folder:
    """A source tree as ``Files``: POSIX paths under ``root`` (``Path()``: as given)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, path: str) -> Path:
        if self.root == Path() and path.startswith("/"):
            return Path(path)
        return self.root / path.lstrip("/")

    def read(self, path: str) -> bytes | None:
        try:
            return self._path(path).read_bytes()
        except OSError:
            return None

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(p.name for p in self._path(path).iterdir())
        except OSError:
            return []

    def is_dir(self, path: str) -> bool:
        return self._path(path).is_dir()


# --- reading -------------------------------------------------------------------------------


class _Unreadable(Exception):
    """A script alembic could not load; the message says why."""


def _strings(node: ast.expr | None, name: str) -> tuple[str, ...]:
    """A literal None, string, or tuple/list of strings; anything else cannot be read."""
    if node is None:
        return ()
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise _Unreadable(f"{name} is not a literal ({ast.unparse(node)[:60]})") from None
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list, set, frozenset)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _Unreadable(f"{name} is not a string or a tuple of strings: {value!r}")


def parse_revision(text: str, path: str) -> AlembicRevision:
    """One revision script's identifiers and message; raises ``ValueError`` with the reason
    when alembic could not load it either (a syntax error, no ``revision``)."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise ValueError(f"line {exc.lineno}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
        raise ValueError(str(exc) or type(exc).__name__) from None
    found: dict[str, ast.expr | None] = {}
    lines: dict[str, int] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):  # revision: str = "..." (alembic's template)
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _FIELDS:
                found[target.id] = value
                lines[target.id] = node.lineno
    try:
        revision = _strings(found.get("revision"), "revision")
        if len(revision) != 1 or not revision[0]:
            raise _Unreadable("no revision = '...' at module level")
        down = _strings(found.get("down_revision"), "down_revision")
        depends = _strings(found.get("depends_on"), "depends_on")
        labels = _strings(found.get("branch_labels"), "branch_labels")
    except _Unreadable as exc:
        raise ValueError(str(exc)) from None
    doc = ast.get_docstring(tree) or ""
    message = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return AlembicRevision(
        revision[0], down, depends, labels, message, path, lines.get("revision", 1)
    )


def _interpolate(value: str, here: str) -> str:
    return value.replace("%(here)s", here).replace("%%", "%")


def _locations(ini: configparser.RawConfigParser, folder: str) -> list[str]:
    """The version folders: ``version_locations`` when set, else ``script_location/versions``;
    relative paths against the ini's folder (where alembic is run from)."""
    section = "alembic"
    script = ini.get(section, "script_location", fallback="").strip()
    if not script:
        raise ValueError("no script_location in its [alembic] section")
    script = _interpolate(script, folder)
    if ":" in script and not script.startswith("/"):
        raise ValueError(f"script_location {script!r} names a package; not read")
    base = posixpath.normpath(posixpath.join(folder, script))
    raw = ini.get(section, "version_locations", fallback="").strip()
    if not raw:
        return [posixpath.join(base, "versions")]
    separator = ini.get(section, "version_path_separator", fallback="").strip()
    sep = {"space": " ", "comma": ",", "colon": ":", "semicolon": ";", "newline": "\n"}
    parts = raw.split(sep[separator]) if separator in sep else re.split(r"[ ,]+", raw)
    out = []
    for part in (p.strip() for p in parts):
        if part:
            out.append(posixpath.normpath(posixpath.join(folder, _interpolate(part, folder))))
    return out


def read_scripts(files: Files, config: str) -> AlembicScripts:
    """The revisions ``config`` (an alembic.ini path in ``files``) points alembic to."""
    text = files.read(config)
    ini = configparser.RawConfigParser(strict=False)
    try:
        ini.read_string((text or b"").decode("utf-8", "replace"), config)
        locations = _locations(ini, posixpath.dirname(config))
    except (configparser.Error, ValueError) as exc:
        reason = str(exc).splitlines()[0]
        return AlembicScripts(config, (), (), (), f"{config}: {reason}")
    revisions: list[AlembicRevision] = []
    unreadable: list[tuple[str, str]] = []
    found = [loc for loc in locations if files.is_dir(loc)]
    for location in found:
        for name in files.listdir(location):
            path = posixpath.join(location, name)
            if not _SCRIPT.match(name) or files.is_dir(path):
                continue
            data = files.read(path)
            if data is None:
                unreadable.append((path, "its bytes were not read"))
                continue
            try:
                revisions.append(parse_revision(data.decode("utf-8", "replace"), path))
            except ValueError as exc:
                unreadable.append((path, str(exc)))
    note = "" if found else f"no version folder at {', '.join(locations)}"
    env = _env(files, ini, posixpath.dirname(config), (text or b"").decode("utf-8", "replace"))
    return AlembicScripts(config, tuple(found), tuple(revisions), tuple(unreadable), note, env)


def _env(
    files: Files, ini: configparser.RawConfigParser, folder: str, text: str
) -> AlembicEnv | None:
    """The script folder's env.py, read statically (None when the image has none)."""
    script = _interpolate(ini.get("alembic", "script_location", fallback="").strip(), folder)
    path = posixpath.join(posixpath.normpath(posixpath.join(folder, script)), "env.py")
    data = files.read(path)
    if data is None:
        return None
    return read_env(data.decode("utf-8", "replace"), path, ini_url(text))


def find_configs(paths: Iterable[str]) -> list[str]:
    """The application's ``alembic.ini`` files among ``paths`` (absolute, in an image)."""
    return sorted(
        p
        for p in paths
        if posixpath.basename(p) == "alembic.ini"
        and not p.startswith(_NOT_APPLICATION)
        and "/site-packages/" not in p
        and "/dist-packages/" not in p
    )


def catalog_alembic(files: Files, captured: Iterable[str]) -> tuple[AlembicScripts, ...]:
    """Every application ``alembic.ini`` of an image, with its revisions (``captured``:
    the paths whose bytes the layer indexes kept)."""
    configs = [c for c in find_configs(captured) if files.read(c) is not None]
    return tuple(read_scripts(files, c) for c in configs)


# --- the graph -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Graph:
    """The revisions of one ``AlembicScripts`` by id (the first script of a duplicate id)."""

    by_id: dict[str, AlembicRevision]
    duplicates: tuple[tuple[AlembicRevision, ...], ...]  # scripts sharing one id

    @classmethod
    def of(cls, scripts: AlembicScripts) -> Graph:
        groups: dict[str, list[AlembicRevision]] = {}
        for rev in sorted(scripts.revisions, key=lambda r: r.path):
            groups.setdefault(rev.revision, []).append(rev)
        return cls(
            {k: v[0] for k, v in groups.items()},
            tuple(tuple(v) for v in groups.values() if len(v) > 1),
        )

    def labels(self) -> dict[str, str]:
        """Branch label to the revision that carries it."""
        return {label: r.revision for r in self.by_id.values() for label in r.branch_labels}

    def heads(self) -> tuple[AlembicRevision, ...]:
        """Revisions no other revision names as its ``down_revision``."""
        parents = {d for r in self.by_id.values() for d in r.down_revisions}
        heads = (r for r in self.by_id.values() if r.revision not in parents)
        return tuple(sorted(heads, key=_key))

    def dangling(self) -> Iterator[tuple[AlembicRevision, str, str]]:
        """(revision, field, id) for each ``down_revision``/``depends_on`` no script defines."""
        labels = self.labels()
        for rev in sorted(self.by_id.values(), key=_key):
            for down in rev.down_revisions:
                if down not in self.by_id:
                    yield rev, "down_revision", down
            for dep in rev.depends_on:
                if dep not in self.by_id and dep not in labels:
                    yield rev, "depends_on", dep

    def resolve(self, rev: str) -> str | None:
        """A full id, a unique prefix of one, or a branch label, to the id."""
        if rev in self.by_id:
            return rev
        label = self.labels().get(rev)
        if label is not None:
            return label
        matches = [k for k in self.by_id if k.startswith(rev)] if len(rev) >= 4 else []
        return matches[0] if len(matches) == 1 else None

    def ancestors(self, rev: str) -> set[str]:
        """``rev`` and every revision an upgrade to it applies first (down and depends_on)."""
        seen: set[str] = set()
        stack = [rev]
        labels = self.labels()
        while stack:
            current = stack.pop()
            current = labels.get(current, current)
            if current in seen or current not in self.by_id:
                continue
            seen.add(current)
            node = self.by_id[current]
            stack.extend((*node.down_revisions, *node.depends_on))
        return seen

    def behind(self, at: Iterable[str], head: str) -> list[AlembicRevision]:
        """The revisions ``alembic upgrade`` to ``head`` would apply to a database at ``at``,
        oldest first."""
        done: set[str] = set()
        for rev in at:
            done |= self.ancestors(rev)
        todo = self.ancestors(head) - done
        return sorted((self.by_id[r] for r in todo), key=lambda r: self._depth(r.revision))

    def _depth(self, rev: str) -> int:
        return len(self.ancestors(rev))


def _key(rev: AlembicRevision) -> tuple[str, str]:
    return (rev.path, rev.revision)


def describe(rev: AlembicRevision | None, rev_id: str) -> str:
    """``3f2a1b0c9d8e (add users)``: an id with its message when it has one."""
    if rev is None or not rev.message:
        return rev_id
    return f"{rev_id} ({rev.message})"


__all__ = [
    "Files",
    "Folder",
    "Graph",
    "catalog_alembic",
    "describe",
    "find_configs",
    "parse_revision",
    "read_scripts",
]
