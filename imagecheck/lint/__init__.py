"""``imagecheck lint``: requirement files and Dockerfiles checked before any image is built.

What pre-commit runs (``.pre-commit-hooks.yaml``). Offline by default:

- IC401: a requirement the constraints' pins rule out (``numpy>=2`` against
  ``numpy==1.26.4``), or leave open (a bare ``numpy`` that pip would install as 2.x);
- IC402: a ``requirements.txt`` out of date with the ``requirements.in`` beside it;
  with ``resolve``, also what pip-compile itself would change;
- IC403: a Dockerfile that installs a requirements file it never copies in;
- IC404: ``resolve`` was asked for but pip-compile cannot reach an index;
- IC850-IC853: an ``alembic.ini``'s revisions: several heads, a ``down_revision`` that
  points nowhere, a duplicate id, a script that cannot be read (``app.alembic``).

Files passed in are linted; a constraints file or a pyproject.toml among them means
the pins changed, so every requirement file and Dockerfile of the tree is linted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..app import Folder, alembic_findings, read_scripts
from ..checks import Check, run_selected
from ..codes import IC401, IC402, IC403, IC404, IC850, IC851, IC852, IC853
from ..errors import BadInput
from ..model import Finding, LintReport
from ..pins import Constraints
from .dockerfile import check_dockerfile
from .piptools import compile_check, index_url, no_index, unreachable
from .requirements import check_against_constraints, check_fresh

_DOCKERFILE = re.compile(r"^(Dockerfile|Containerfile)([.-].*)?$|.*\.(Dockerfile|dockerfile)$")
_REQUIREMENTS = re.compile(r"(^|.*[-_.])requirements([-_.].*)?\.(in|txt)$", re.IGNORECASE)
_SKIP_DIRS = {"node_modules", "venv", "__pycache__", "site-packages", "build", "dist"}


def is_dockerfile(path: Path) -> bool:
    return _DOCKERFILE.match(path.name) is not None


def is_requirements(path: Path) -> bool:
    return _REQUIREMENTS.match(path.name) is not None or (
        path.parent.name == "requirements" and path.suffix in (".in", ".txt")
    )


@dataclass
class LintContext:
    requirements: list[Path]
    dockerfiles: list[Path]
    constraints: Constraints
    resolve: bool = False
    constraint_files: set[Path] = field(default_factory=set)
    alembic: list[Path] = field(default_factory=list)  # alembic.ini files

    @property
    def pairs(self) -> list[tuple[Path, Path]]:
        """(requirements.in, requirements.txt) side by side, once each."""
        return [
            (p, p.with_suffix(".txt"))
            for p in self.requirements
            if p.suffix == ".in" and p.with_suffix(".txt") in self.requirements
        ]


def _conflicts(ctx: LintContext) -> Iterator[Finding]:
    for path in ctx.requirements:
        if path.resolve() in ctx.constraint_files:
            continue  # the pins themselves
        compiled = path.suffix == ".in" and path.with_suffix(".txt").is_file()
        yield from check_against_constraints(path, ctx.constraints, compiled)


def _fresh(ctx: LintContext) -> Iterator[Finding]:
    unreached: dict[str, tuple[str, list[Path]]] = {}
    probed: dict[str, str | None] = {}
    for source, compiled in ctx.pairs:
        offline = list(check_fresh(source, compiled))
        yield from offline
        if not ctx.resolve or offline:
            continue
        url = index_url(source)
        if url is not None and url not in probed:
            probed[url] = unreachable(url)
        why = probed.get(url) if url is not None else None
        if url is not None and why is not None:
            unreached.setdefault(url, (why, []))[1].append(source)
            continue
        yield from compile_check(source, compiled, url or "--no-index")
    for url, (why, sources) in unreached.items():
        yield no_index(url, why, sources)


def _dockerfiles(ctx: LintContext) -> Iterator[Finding]:
    for path in ctx.dockerfiles:
        yield from check_dockerfile(path)


def _alembic(ctx: LintContext) -> Iterator[Finding]:
    for ini in ctx.alembic:
        yield from alembic_findings(read_scripts(Folder(Path()), ini.as_posix()), image=False)


def is_alembic(path: Path) -> bool:
    """An alembic.ini, or a revision script (``versions/*.py``)."""
    return path.name == "alembic.ini" or (path.suffix == ".py" and path.parent.name == "versions")


def owning_ini(script: Path) -> Path | None:
    """The alembic.ini whose version folder holds ``script``: the nearest one up the tree."""
    if script.name == "alembic.ini":
        return script
    for folder in script.parents:
        ini = folder / "alembic.ini"
        if ini.is_file():
            return ini
    return None


LINT_CHECKS: tuple[Check[LintContext], ...] = (
    Check((IC401,), "requirements against the constraints", _conflicts, needs_pins=True),
    Check((IC402, IC404), "requirements.txt up to date with requirements.in", _fresh),
    Check((IC403,), "Dockerfiles copy the requirement files they install", _dockerfiles),
    Check((IC850, IC851, IC852, IC853), "alembic revisions", _alembic),
)


def _skip(check: Check[LintContext], ctx: LintContext) -> str | None:
    if check.needs_pins and not ctx.constraints.pins:
        return "no pins found"
    if check.codes[0] is IC401 and not ctx.requirements:
        return "no requirement files"
    if check.codes[0] is IC402 and not ctx.pairs:
        return "no requirements.in with a requirements.txt beside it"
    if check.codes[0] is IC403 and not ctx.dockerfiles:
        return "no Dockerfiles"
    if check.codes[0] is IC850 and not ctx.alembic:
        return "no alembic.ini"
    return None


def discover(root: Path) -> list[Path]:
    """Requirement files and Dockerfiles under ``root``: git's files when it is a checkout."""
    found: list[Path] = []
    git = shutil.which("git")
    listed = (
        subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=False,
        )
        if git
        else None
    )
    if listed is not None and listed.returncode == 0:
        names = [n for n in listed.stdout.decode("utf-8", "replace").split("\0") if n]
        found = [root / n for n in names]
    else:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).parts
            if any(p.startswith(".") or p in _SKIP_DIRS for p in rel[:-1]):
                continue
            found.append(path)
    return sorted(
        {
            p
            for p in found
            if p.is_file() and (is_requirements(p) or is_dockerfile(p) or p.name == "alembic.ini")
        }
    )


def lint_files(
    paths: Sequence[Path],
    constraints: Constraints,
    *,
    root: Path = Path(),
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    resolve: bool = False,
) -> LintReport:
    """Lint ``paths`` (all of ``root``'s when empty) against ``constraints``."""
    pinned = {Path(f).resolve() for f in constraints.files}
    wanted: list[Path] = []
    widen = not paths
    for path in paths:
        if not path.is_file():
            raise BadInput(f"{path}: not a file" if path.exists() else f"no such file: {path}")
        trigger = path.suffix == ".toml" or path.resolve() in pinned  # the pins changed
        widen = widen or trigger
        if is_dockerfile(path) or path.suffix in (".in", ".txt") or is_alembic(path):
            wanted.append(path)
        elif not trigger:
            raise BadInput(
                f"{path}: not a requirements file, Dockerfile, constraints file, pyproject.toml, "
                "alembic.ini or alembic revision (versions/*.py)"
            )
    if widen:
        wanted += discover(root)
    for path in list(wanted):  # a .in and its .txt go together
        if path.suffix in (".in", ".txt"):
            twin = path.with_suffix(".txt" if path.suffix == ".in" else ".in")
            if twin.is_file():
                wanted.append(twin)
    inis = {ini for p in wanted if is_alembic(p) and (ini := owning_ini(p)) is not None}
    unique = sorted({Path(p) for p in wanted if not is_alembic(p)} | inis, key=str)
    ctx = LintContext(
        requirements=[p for p in unique if not is_dockerfile(p) and p.name != "alembic.ini"],
        dockerfiles=[p for p in unique if is_dockerfile(p)],
        alembic=[p for p in unique if p.name == "alembic.ini"],
        constraints=constraints,
        resolve=resolve,
        constraint_files=pinned,
    )
    findings, results = run_selected(LINT_CHECKS, ctx, select, ignore, _skip)
    ordered = sorted(findings, key=_place)
    return LintReport(tuple(str(p) for p in unique), tuple(ordered), results, constraints.files)


def _place(f: Finding) -> tuple[str, int, str, str]:
    """File order, then line order: how people read a linter's output."""
    path, _, line = (f.location or "").rpartition(":")
    if not line.isdigit():
        return (f.location or "~", 0, f.code, f.subject)
    return (path, int(line), f.code, f.subject)
