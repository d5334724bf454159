"""Lock files and pyproject dependencies as pin sources.

``uv.lock``, ``poetry.lock``, ``pylock.toml`` (PEP 751) and ``Pipfile.lock`` name every
package they resolved, for every extra and development group, while the image needs
only the application's main dependencies: a package reached only through an extra or
a group limits versions (``constraint_only``) but is not required. A lock's own
project (uv's editable or virtual root, a local directory source, Pipfile's
``path``) is the application, never a pin: its name is returned apart, for the pin
check to recognise the application's own distribution. TOML is read with
``tomllib``; a file of the wrong shape is one ``BadInput`` line naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInput
from ..model import canonical
from ..tomlfile import load_toml_file
from .constraints import Pin, requirement

LOCK_NAMES = ("uv.lock", "poetry.lock", "Pipfile.lock")
_PYLOCK = re.compile(r"^pylock(\.[^./]+)?\.toml$")
_MAX_ALTERNATIVES = 8  # markers of one package from different paths, before "always"


@dataclass(frozen=True, slots=True)
class Locked:
    """What one lock file or pyproject says: its pins and the projects it is the lock of."""

    pins: tuple[Pin, ...]
    projects: tuple[str, ...]  # canonical names of the application's own distributions


def is_lock_file(path: Path) -> bool:
    return path.name in LOCK_NAMES or bool(_PYLOCK.match(path.name))


def read_lock(path: Path) -> Locked:
    """The reader for the lock file's name (``is_lock_file``)."""
    if path.name == "uv.lock":
        return read_uv_lock(path)
    if path.name == "poetry.lock":
        return read_poetry_lock(path)
    if path.name == "Pipfile.lock":
        return read_pipfile_lock(path)
    return read_pylock(path)


def _pin(
    path: Path,
    where: str,
    name: str,
    version: str | None,
    marker: str | None,
    *,
    optional: bool,
    extras: Iterable[str] = (),
) -> Pin:
    extra = f"[{','.join(sorted(extras))}]" if extras else ""
    spec = f"=={version}" if version else ""
    text = f"{name}{extra}{spec}" + (f" ; {marker}" if marker else "")
    return requirement(text, f"{path}:{where}", optional)


def _tables(data: Any, key: str, path: Path, what: str) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("name"), str) for i in items
    ):
        raise BadInput(f"{path}: not a {what} ([[{key}]] tables, each with a name)")
    return items


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- markers along the dependency graph ------------------------------------------------


def _and(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    return f"({a}) and ({b})"


def _either(alternatives: list[str | None]) -> str | None:
    """One marker for a package reached along several paths (None: always needed)."""
    if not alternatives or None in alternatives:
        return None
    texts = [a for a in alternatives if a is not None]
    return texts[0] if len(texts) == 1 else " or ".join(f"({t})" for t in texts)


# -- uv.lock ---------------------------------------------------------------------------


def read_uv_lock(path: Path) -> Locked:
    """uv's lock: the roots are its editable/virtual packages; their ``dependencies``
    are walked with each edge's marker (and the extras an edge asks for)."""
    data = load_toml_file(path)
    packages = _tables(data, "package", path, "uv lock file")
    if not packages:
        raise BadInput(f"{path}: not a uv lock file (no [[package]] tables)")

    def is_root(pkg: dict[str, Any]) -> bool:
        source = pkg.get("source")
        return isinstance(source, dict) and bool({"editable", "virtual", "directory"} & {*source})

    by_name: dict[str, list[int]] = {}
    for n, pkg in enumerate(packages):
        by_name.setdefault(canonical(pkg["name"]), []).append(n)

    def targets(dep: Any) -> list[int]:
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
            raise BadInput(f"{path}: a dependency without a name: {dep!r}")
        found = by_name.get(canonical(dep["name"]), [])
        version = dep.get("version")
        if version is not None:
            found = [n for n in found if packages[n].get("version") == version]
        return found

    def edges(pkg: dict[str, Any], extras: Iterable[str]) -> list[Any]:
        deps = list(pkg.get("dependencies", []))
        optional = pkg.get("optional-dependencies", {})
        for extra in extras:
            if isinstance(optional, dict):
                deps += optional.get(extra, [])
        return deps

    markers: dict[int, list[str | None]] = {}
    roots = [n for n, p in enumerate(packages) if is_root(p)]
    built = [n for n in roots if {"editable", "virtual"} & {*packages[n]["source"]}]
    work: list[tuple[int, str | None, tuple[str, ...]]] = [(n, None, ()) for n in built or roots]
    seen: set[tuple[int, str | None, tuple[str, ...]]] = set()
    while work:
        item = work.pop()
        if item in seen:
            continue
        seen.add(item)
        n, marker, extras = item
        for dep in edges(packages[n], extras):
            step = _and(marker, _str(dep.get("marker")))
            asked = tuple(sorted(str(e) for e in dep.get("extra", [])))
            for target in targets(dep):
                alts = markers.setdefault(target, [])
                if None in alts or step in alts:
                    if asked:  # the same package, but more of its extras
                        work.append((target, None if None in alts else step, asked))
                    continue
                alts.append(step)
                if len(alts) > _MAX_ALTERNATIVES:  # too many paths to spell: always
                    alts[:] = [None]
                work.append((target, alts[-1], asked))
    pins: list[Pin] = []
    projects: list[str] = []
    for n, pkg in enumerate(packages):
        name = pkg["name"]
        if n in roots:
            projects.append(canonical(name))
            continue
        where = f"[[package]] {name}"
        version = _str(pkg.get("version"))
        if n in markers:
            pins.append(_pin(path, where, name, version, _either(markers[n]), optional=False))
        else:  # only an extra, a dev group or another fork needs it
            pins.append(_pin(path, where, name, version, None, optional=True))
    return Locked(tuple(pins), tuple(projects))


# -- poetry.lock -----------------------------------------------------------------------


def read_poetry_lock(path: Path) -> Locked:
    """Poetry's lock: ``groups`` (or the older ``category``) says main or dev, ``optional``
    marks extras; ``markers`` is a string, or a table by group. Its project is not in
    the lock but in the pyproject.toml beside it."""
    data = load_toml_file(path)
    if "metadata" not in data:
        raise BadInput(f"{path}: not a Poetry lock file (no [metadata] table)")
    packages = _tables(data, "package", path, "Poetry lock file")
    sibling = path.parent / "pyproject.toml"
    project = load_toml_file(sibling) if sibling.is_file() else {}
    # Poetry before 1.5 (lock 1.x) writes a marker on each dependency edge, not on the
    # package: loguru's win32-setctime is "main" but needed on Windows only.
    walked = None
    if project and not any("markers" in pkg for pkg in packages):
        walked = _poetry_markers(packages, project, path)
    pins: list[Pin] = []
    for pkg in packages:
        groups = pkg.get("groups") or [pkg.get("category", "main")]
        marker = pkg.get("markers")
        if isinstance(marker, dict):
            marker = marker.get("main")
        if walked is not None and canonical(pkg["name"]) in walked:
            marker = _either(walked[canonical(pkg["name"])])
        main = "main" in groups and not pkg.get("optional", False)
        where = f"[[package]] {pkg['name']}"
        version = _str(pkg.get("version"))
        pins.append(_pin(path, where, pkg["name"], version, _str(marker), optional=not main))
    return Locked(tuple(pins), project_names(project) if project else ())


_Edge = tuple[str, str | None, tuple[str, ...]]  # (canonical name, marker, extras asked)


def _poetry_roots(project: dict[str, Any]) -> list[_Edge]:
    """The application's main dependencies, each with its marker and extras."""
    roots: list[_Edge] = []
    for text in project.get("project", {}).get("dependencies", []) or []:
        pin = requirement(str(text), "[project.dependencies]", False)
        roots.append((canonical(pin.name), pin.marker, tuple(sorted(pin.extras))))
    deps = project.get("tool", {}).get("poetry", {}).get("dependencies", {})
    for name, value in deps.items() if isinstance(deps, dict) else ():
        if canonical(name) == "python":
            continue
        for alt in value if isinstance(value, list) else [value]:
            table = alt if isinstance(alt, dict) else {}
            if not table.get("optional", False):
                extras = tuple(sorted(str(e) for e in table.get("extras", [])))
                roots.append((canonical(name), _str(table.get("markers")), extras))
    return roots


def _poetry_markers(
    packages: list[dict[str, Any]], project: dict[str, Any], path: Path
) -> dict[str, list[str | None]]:
    """Each package reached from the project's main dependencies, with the markers of
    the paths that reach it (an edge's ``markers`` and'ed along the path), the extras an
    edge asks for bringing in the package's optional dependencies they list."""
    by_name = {canonical(p["name"]): p for p in packages}
    markers: dict[str, list[str | None]] = {}
    work = _poetry_roots(project)
    seen: set[_Edge] = set()
    while work:
        name, marker, extras = work.pop()
        alts = markers.setdefault(name, [])
        if None in alts:
            marker = None  # always needed: every further path is too
        elif marker not in alts:
            alts.append(marker)
            if len(alts) > _MAX_ALTERNATIVES:  # too many paths to spell: always
                alts[:] = [None]
                marker = None
        if (name, marker, extras) in seen:  # at most a few expansions per package
            continue
        seen.add((name, marker, extras))
        pkg = by_name.get(name)
        if pkg is None:
            continue
        listed = pkg.get("extras", {})
        wanted = {
            canonical(re.split(r"[\s(\[;<>=!~]", str(item), maxsplit=1)[0])
            for extra in extras
            for item in (listed.get(extra, []) if isinstance(listed, dict) else [])
        }
        deps = pkg.get("dependencies", {})
        if not isinstance(deps, dict):
            raise BadInput(f"{path}: [package.dependencies] of {pkg['name']} is not a table")
        for dep, value in deps.items():
            for alt in value if isinstance(value, list) else [value]:
                table = alt if isinstance(alt, dict) else {}
                if table.get("optional", False) and canonical(dep) not in wanted:
                    continue
                step = _and(marker, _str(table.get("markers")))
                asked = tuple(sorted(str(e) for e in table.get("extras", [])))
                work.append((canonical(dep), step, asked))
    return markers


# -- pylock.toml (PEP 751) -------------------------------------------------------------


def read_pylock(path: Path) -> Locked:
    """PEP 751: a package with a ``directory`` source is the project (or a local part of
    it); one whose marker asks for ``extras`` or ``dependency_groups`` is optional."""
    data = load_toml_file(path)
    if not isinstance(data.get("lock-version"), str):
        raise BadInput(f"{path}: not a PEP 751 lock file (no lock-version)")
    pins: list[Pin] = []
    projects: list[str] = []
    for pkg in _tables(data, "packages", path, "PEP 751 lock file"):
        name = pkg["name"]
        if isinstance(pkg.get("directory"), dict):
            projects.append(canonical(name))
            continue
        marker = _str(pkg.get("marker"))
        optional = marker is not None and bool(re.search(r"\b(extras|dependency_groups)\b", marker))
        where = f"[[packages]] {name}"
        pins.append(_pin(path, where, name, _str(pkg.get("version")), marker, optional=optional))
    return Locked(tuple(pins), tuple(projects))


# -- Pipfile.lock ----------------------------------------------------------------------


def read_pipfile_lock(path: Path) -> Locked:
    """Pipenv's JSON lock: ``default`` is required, ``develop`` only limits versions; an
    entry with a ``path`` (``-e .``) is the project."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadInput(f"no such file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    except ValueError as exc:
        raise BadInput(f"{path}: not valid JSON: {exc}") from exc
    except RecursionError:
        raise BadInput(f"{path}: not a Pipfile.lock (its JSON nests too deep)") from None
    if not isinstance(data, dict) or not isinstance(data.get("default", {}), dict):
        raise BadInput(f'{path}: not a Pipfile.lock (no "default" object)')
    pins: list[Pin] = []
    projects: list[str] = []
    default = data.get("default", {})
    develop = data.get("develop", {})
    if not isinstance(develop, dict):
        raise BadInput(f'{path}: not a Pipfile.lock ("develop" is not an object)')
    for section, entries in (("default", default), ("develop", develop)):
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise BadInput(f"{path}: {section}.{name} is not an object")
            if "path" in entry:
                projects.append(canonical(name))
                continue
            if section == "develop" and name in default:
                continue
            version = _str(entry.get("version"))
            spec = version.lstrip("=") if version and version.startswith("==") else None
            extras = [str(e) for e in entry.get("extras", [])]
            where = f"{section}.{name}"
            marker = _str(entry.get("markers"))
            pins.append(
                _pin(path, where, name, spec, marker, optional=section == "develop", extras=extras)
            )
    return Locked(tuple(pins), tuple(projects))


# -- pyproject.toml --------------------------------------------------------------------


def project_names(data: dict[str, Any]) -> tuple[str, ...]:
    """The distribution a pyproject builds: ``[project] name`` or ``[tool.poetry] name``."""
    names = [
        data.get("project", {}).get("name"),
        data.get("tool", {}).get("poetry", {}).get("name"),
    ]
    return tuple(dict.fromkeys(canonical(n) for n in names if isinstance(n, str) and n))


def _poetry_bound(parts: list[int], at: int) -> str:
    upper = [*parts[:at], parts[at] + 1]
    return ".".join(str(p) for p in upper)


def poetry_specifier(text: str) -> str | None:
    """A Poetry version constraint in PEP 440 (``^1.2`` is ``>=1.2,<2``); None when it has
    no PEP 440 spelling (``||``): then only the name is pinned."""
    text = text.strip()
    if "||" in text:
        return None
    if text in ("", "*"):
        return ""
    out: list[str] = []
    for clause in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text):
        m = re.fullmatch(r"([\^~])\s*(\d+(?:\.\d+)*)", clause)
        if m and not clause.startswith("~="):
            parts = [int(p) for p in m.group(2).split(".")]
            if m.group(1) == "^":
                at = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
            else:
                at = 1 if len(parts) > 1 else 0
            out.append(f">={m.group(2)},<{_poetry_bound(parts, at)}")
        elif re.fullmatch(r"\d[\w.*+!-]*", clause):
            out.append(f"=={clause}")
        elif clause:
            out.append(clause)
    return ",".join(out)


def read_pyproject(path: Path) -> Locked:
    """``[project] dependencies`` (PEP 621) and ``[tool.poetry.dependencies]``: ranges the
    application needs; optional ones and development groups are not read."""
    data = load_toml_file(path)
    deps = data.get("project", {}).get("dependencies", [])
    if not isinstance(deps, list):
        raise BadInput(f"{path}: [project] dependencies is not a list")
    pins = [requirement(str(d), f"{path}:[project.dependencies]", False) for d in deps]
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
    if not isinstance(poetry, dict):
        raise BadInput(f"{path}: [tool.poetry.dependencies] is not a table")
    where = "[tool.poetry.dependencies]"
    for name, value in poetry.items():
        if canonical(name) == "python":
            continue
        table = value if isinstance(value, dict) else {"version": value}
        if isinstance(value, list) or table.get("optional", False):
            continue  # several constraints by marker, or an extra: not a plain pin
        version = table.get("version")
        spec = poetry_specifier(version) if isinstance(version, str) else ""
        if not isinstance(version, str) and not {"git", "path", "url"} & {*table}:
            raise BadInput(f"{path}: {where} {name} has no version")
        extras = table.get("extras", [])
        extra = f"[{','.join(sorted(str(e) for e in extras))}]" if extras else ""
        marker = _str(table.get("markers"))
        text = f"{name}{extra}{spec or ''}" + (f" ; {marker}" if marker else "")
        pins.append(requirement(text, f"{path}:{where}", False))
    return Locked(tuple(pins), project_names(data))
