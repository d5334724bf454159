"""Where a finding points, as CI tools want it: a file relative to its repository and a line.

A finding's ``location`` is ``"path:line"`` (or a bare path) as the check read the file;
code scanning, annotations and GitLab want the path relative to the repository's root.
The root is the nearest folder above the file holding ``.git`` (a folder, or the file a
worktree has); a file in no repository is named relative to its own folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..model import Finding, LintReport, Report


@dataclass(frozen=True, slots=True)
class Anchor:
    """A finding's place in a file: ``uri`` relative to ``root`` (posix), ``line`` from 1."""

    uri: str
    line: int | None
    root: Path  # the repository's root, or the file's folder


def split_location(location: str) -> tuple[str, int | None]:
    """``"a/req.txt:7"`` -> ``("a/req.txt", 7)``; a path without a line number -> line None."""
    path, sep, tail = location.rpartition(":")
    if sep and tail.isdigit() and path:
        return path, int(tail)
    return location, None


def repository_root(path: Path) -> Path | None:
    """The nearest folder at or above ``path``'s folder that holds ``.git``."""
    for folder in path.parents:
        if (folder / ".git").exists():
            return folder
    return None


def anchor(location: str, cwd: Path | None = None) -> Anchor:
    """The repository-relative place of a ``"path:line"`` location."""
    text, line = split_location(location)
    path = Path(text)
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    path = Path(*_normal(path.parts))
    root = repository_root(path) or path.parent
    return Anchor(PurePosixPath(path.relative_to(root)).as_posix(), line, root)


def _normal(parts: tuple[str, ...]) -> list[str]:
    """``..`` and ``.`` resolved lexically (the file may be gone; symlinks are kept)."""
    out: list[str] = []
    for part in parts:
        if part == "..":
            if len(out) > 1:
                out.pop()
        elif part != ".":
            out.append(part)
    return out


def dockerfile_of(report: Report | LintReport) -> str | None:
    """The Dockerfile the report's image was built from, when the command knew it."""
    if isinstance(report, LintReport):
        return None
    if report.stale is not None and report.stale.dockerfile:
        return report.stale.dockerfile
    if report.triage is not None and report.triage.dockerfile:
        return report.triage.dockerfile
    return None


def subject_of(report: Report | LintReport) -> str:
    """What the report is about: the image as the user named it, or "lint"."""
    return report.inventory.image.ref if isinstance(report, Report) else "lint"


def fingerprint(f: Finding, where: str) -> str:
    """Stable across runs of the same check on a rebuilt image: the code, the subject and
    the file (or image) it is about, never the message (versions, layer numbers) or the
    line (an edit above it moves it)."""
    text = "\0".join((f.code, f.subject, where))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
