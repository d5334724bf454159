"""Pins and system needs: what the image is supposed to hold.

Requirement files are read as pip-compile writes them (``==`` pins, ``--hash``,
markers, extras, ``-r``/``-c`` includes, ``# via`` comments) and as people write
them (ranges, bare names, URLs); lock files and pyproject dependencies through
``lockfiles``.
System needs (shared libraries by SONAME, Debian packages) live in a small TOML file
beside the pins (README, "Constraints"). A malformed line is one error naming the
file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import BadInput
from ..model import canonical
from ..tomlfile import load_toml_file

_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)$")
_IGNORED_OPTIONS = (
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--no-index",
    "--trusted-host",
    "--pre",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--require-hashes",
    "--use-feature",
)
_WHEEL_NAME = re.compile(r"/([A-Za-z0-9_.]+)-([^-/]+)(-[^/]*)?\.(whl|tar\.gz|zip)$")


@dataclass(frozen=True, slots=True)
class Pin:
    """One requirement the image must satisfy."""

    name: str  # canonical
    requirement: str  # as written, hashes and comments removed
    specifier: str  # "==1.26.4", ">=2,<3", "" for a bare name
    extras: tuple[str, ...]
    marker: str | None
    url: str | None
    source: str  # "path:line"
    constraint_only: bool = False  # from a -c file: limits versions, requires nothing

    @property
    def exact(self) -> str | None:
        """The version of an ``==`` pin, else None."""
        m = re.fullmatch(r"===?\s*([^,;\s*]+)", self.specifier)
        return m.group(1) if m else None


@dataclass(frozen=True, slots=True)
class SystemNeed:
    kind: str  # "library" (by SONAME) or "debian" (a package name)
    name: str
    debian: str | None  # the Debian package that provides a library
    why: str
    source: str


@dataclass(frozen=True, slots=True)
class Constraints:
    pins: tuple[Pin, ...] = ()
    system: tuple[SystemNeed, ...] = ()
    files: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()  # canonical names of the application's own distributions
    origin: str = ""  # where they were found, when not given: "the build context DIR"
    notes: tuple[str, ...] = ()  # files found and not read, and why

    def pin(self, name: str) -> Pin | None:
        key = canonical(name)
        for pin in self.pins:
            if pin.name == key and not pin.constraint_only:
                return pin
        for pin in self.pins:
            if pin.name == key:
                return pin
        return None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments; keep the first line number."""
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw
        if not buf:
            start = n
        line = "" if line.lstrip().startswith("#") else re.sub(r"(^|\s)#.*$", "", line)
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            out.append((start, buf.strip()))
        buf = ""
    if buf.strip():
        out.append((start, buf.strip()))
    return out


def requirement(text: str, source: str, constraint_only: bool) -> Pin:
    """One PEP 508 requirement (or a bare URL) as a pin; a malformed one is ``BadInput``."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = re.sub(r"\s--hash[=\s]\S+", "", f" {text}").strip()
    if re.match(r"^(https?|file)://", text):
        egg = re.search(r"#egg=([A-Za-z0-9_.-]+)", text)
        wheel = _WHEEL_NAME.search(text.split("#")[0])
        name = egg.group(1) if egg else wheel.group(1) if wheel else None
        if name is None:
            raise BadInput(f"{source}: cannot tell the distribution name of the URL {text}")
        text = f"{name} @ {text.split('#')[0]}"
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        detail = str(exc).splitlines()[0]
        raise BadInput(f"{source}: not a requirement: {text!r} ({detail})") from exc
    return Pin(
        name=canonical(req.name),
        requirement=text,
        specifier=str(req.specifier),
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker else None,
        url=req.url,
        source=source,
        constraint_only=constraint_only,
    )


def read_requirements(
    path: Path, *, constraint_only: bool = False, _seen: set[Path] | None = None
) -> list[Pin]:
    """Pins from a requirements file and the files it includes."""
    seen = _seen if _seen is not None else set()
    real = path.resolve()
    if real in seen:
        return []
    seen.add(real)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise BadInput(f"no such constraints file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    pins: list[Pin] = []
    for lineno, line in _logical_lines(text):
        source = f"{path}:{lineno}"
        include = _INCLUDE.match(line)
        if include:
            target = path.parent / include.group(2)
            only = constraint_only or include.group(1) in ("-c", "--constraint")
            pins.extend(read_requirements(target, constraint_only=only, _seen=seen))
            continue
        if line.startswith(("-e ", "--editable")):
            continue  # a local checkout: nothing a pin can say about it
        if line.startswith("-"):
            if line.split("=")[0].split()[0] in _IGNORED_OPTIONS:
                continue
            raise BadInput(f"{source}: unknown option {line.split()[0]!r}")
        pins.append(requirement(line, source, constraint_only))
    return pins


def read_system(path: Path) -> list[SystemNeed]:
    """``[[library]]`` (soname, debian, why) and ``[[debian]]`` (name, why) tables."""
    data = load_toml_file(path)
    needs: list[SystemNeed] = []
    for n, item in enumerate(data.get("library", []), 1):
        if not isinstance(item, dict) or not isinstance(item.get("soname"), str):
            raise BadInput(f"{path}: [[library]] number {n} needs a soname string")
        needs.append(
            SystemNeed(
                "library",
                item["soname"],
                item.get("debian"),
                str(item.get("why", "")),
                f"{path}:[[library]] {n}",
            )
        )
    for n, item in enumerate(data.get("debian", []), 1):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadInput(f"{path}: [[debian]] number {n} needs a name string")
        needs.append(
            SystemNeed(
                "debian",
                item["name"],
                item["name"],
                str(item.get("why", "")),
                f"{path}:[[debian]] {n}",
            )
        )
    unknown = set(data) - {"library", "debian"}
    if unknown:
        raise BadInput(f"{path}: unknown tables {', '.join(sorted(unknown))} (library, debian)")
    return needs


@dataclass(frozen=True, slots=True)
class _Read:
    pins: list[Pin]
    system: list[SystemNeed]
    files: list[str]
    projects: list[str]

    def add(self, other: _Read) -> None:
        self.pins.extend(other.pins)
        self.system.extend(other.system)
        self.files.extend(other.files)
        self.projects.extend(other.projects)


def _from_path(path: Path) -> _Read:
    from .lockfiles import is_lock_file, read_lock, read_pyproject

    if path.is_dir():
        read = _Read([], [], [], [])
        for child in sorted(path.iterdir()):
            if child.is_file() and (child.suffix in (".txt", ".toml") or is_lock_file(child)):
                read.add(_from_path(child))
        return read
    if path.name == "pyproject.toml" or is_lock_file(path):
        locked = read_pyproject(path) if path.name == "pyproject.toml" else read_lock(path)
        return _Read(list(locked.pins), [], [str(path)], list(locked.projects))
    if path.suffix == ".toml":
        return _Read([], read_system(path), [str(path)], [])
    if not path.exists():
        raise BadInput(f"no such constraints file or folder: {path}")
    return _Read(read_requirements(path), [], [str(path)], [])


def _constraints(paths: list[Path]) -> Constraints:
    read = _Read([], [], [], [])
    for path in paths:
        read.add(_from_path(path))
    return Constraints(
        tuple(read.pins), tuple(read.system), tuple(read.files), tuple(dict.fromkeys(read.projects))
    )


def load_constraints(paths: list[Path], cwd: Path | None = None) -> Constraints:
    """``--constraints`` paths, else ``[tool.imagecheck] constraints``, else ``./constraints``;
    with none of them, the caller may ``discover`` the pins of the build context."""
    cwd = cwd or Path.cwd()
    if not paths:
        pyproject = cwd / "pyproject.toml"
        configured = (
            load_toml_file(pyproject).get("tool", {}).get("imagecheck", {}).get("constraints")
            if pyproject.is_file()
            else None
        )
        if isinstance(configured, str):
            configured = [configured]
        if isinstance(configured, list):
            paths = [cwd / str(p) for p in configured]
        elif (cwd / "constraints").is_dir():
            paths = [cwd / "constraints"]
    return _constraints(paths)


def context_projects(context: Path) -> tuple[str, ...]:
    """The project a build context's pyproject.toml builds (none when it cannot be read:
    the pins were given, a broken file there is not what the user asked about)."""
    from .lockfiles import project_names

    try:
        return project_names(load_toml_file(context / "pyproject.toml"))
    except BadInput:
        return ()


_DEV_FILE = re.compile(r"(^|[-_.])(dev|devel|test|tests|testing|doc|docs|lint|ci|typing)([-_.]|$)")


def discover(context: Path) -> Constraints:
    """The pin files at the top of a build context, when none were given or configured.

    ``requirements*.txt``, ``requirements*.in`` without its compiled ``.txt``, lock files,
    and ``pyproject.toml`` (its dependencies only when no lock file sits beside it: the
    lock is their compiled form; its project name always). ``constraints*.txt`` and
    requirement files for development (``requirements-dev.txt``, ``-test``, ``-docs``)
    limit versions but require nothing, as pip's ``-c`` does."""
    from .lockfiles import is_lock_file, project_names, read_lock, read_pyproject

    context = context.resolve()
    children = sorted(p for p in context.iterdir() if p.is_file()) if context.is_dir() else []
    names = {p.name for p in children}
    locks = [p for p in children if is_lock_file(p)]
    read = _Read([], [], [], [])
    notes: list[str] = []
    for path in children:
        name, stem = path.name, path.stem
        if re.fullmatch(r"(requirements|constraints)[^/]*\.txt", name) or (
            re.fullmatch(r"requirements[^/]*\.in", name) and f"{stem}.txt" not in names
        ):
            only = name.startswith("constraints") or bool(_DEV_FILE.search(stem[12:]))
            read.add(_Read(read_requirements(path, constraint_only=only), [], [str(path)], []))
        elif name.endswith(".in") and name.startswith("requirements"):
            notes.append(f"{name} not read: {stem}.txt is its compiled form")
        elif path in locks:
            locked = read_lock(path)
            read.add(_Read(list(locked.pins), [], [str(path)], list(locked.projects)))
        elif name == "pyproject.toml" and locks:
            notes.append(f"pyproject.toml dependencies not read: {locks[0].name} locks them")
            read.projects.extend(project_names(load_toml_file(path)))
        elif name == "pyproject.toml":
            locked = read_pyproject(path)
            read.add(_Read(list(locked.pins), [], [str(path)], list(locked.projects)))
    return Constraints(
        tuple(read.pins),
        (),
        tuple(read.files),
        tuple(dict.fromkeys(read.projects)),
        origin=f"the build context {context}" if read.files else "",
        notes=tuple(notes),
    )


def with_context(pins: Constraints, context: Path | None) -> Constraints:
    """The pins given or configured, else those found in the build ``context``. Given
    pins still learn the context's project name, for the application's own distribution."""
    if context is None:
        return pins
    if pins.files:
        projects = tuple(dict.fromkeys((*pins.projects, *context_projects(context))))
        return replace(pins, projects=projects)
    return discover(context)
