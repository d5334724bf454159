"""``imagecheck diff``: the changes as tables (a section per kind that changed, counts
first), as JSON (``schemas/diff.schema.json``) and as Markdown; and the few lines triage
shows of them."""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from ..model import ImageDiff, VersionChange, short
from .diffdata import KINDS, counts, diff_data, has_changes
from .terminal import _line, _Table, human_bytes, step_text

_MAX_FILES = 50  # rows of changed files shown without -v
_DIGEST = re.compile(r"\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b")


def _step(created_by: str) -> str:
    """The Dockerfile line, a legacy COPY's content digest cut short."""
    return _DIGEST.sub(r"\1:\2…", step_text(created_by))


def _count_text(kind: str, d: ImageDiff) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts(d)[kind].items())


def _version(c: VersionChange) -> str:
    if c.change == "added":
        return f"+ {c.name} {c.new_version}"
    if c.change == "removed":
        return f"- {c.name} {c.old_version}"
    return f"{c.name} {c.old_version} → {c.new_version}"


def summary_lines(d: ImageDiff, limit: int = 5) -> list[str]:
    """A few lines: the counts, then what matters most (distributions, CMD, env, head)."""
    if not d.changed:
        same = d.old_id == d.new_id
        return ["the same image" if same else "no change found (only the config's metadata)"]
    kinds = [f"{label.lower()}: {_count_text(k, d)}" for k, label in KINDS if has_changes(k, d)]
    lines = ["; ".join(kinds)]
    python = list(d.python)
    if python:
        shown = ", ".join(_version(c) for c in python[:limit])
        more = f" (+{len(python) - limit} more)" if len(python) > limit else ""
        lines.append(f"Python: {shown}{more}")
    for c in d.config:
        if c.field in ("cmd", "entrypoint", "user", "working_dir"):
            lines.append(f"{c.field.upper()}: {c.old or '(unset)'} → {c.new or '(unset)'}")
    env = [c for c in d.config if c.field == "env"]
    if env:
        lines.append("env: " + ", ".join(_env_text(c.key, c.old, c.new) for c in env[:limit]))
    for a in d.alembic:
        old, new = ", ".join(a.old_heads) or "none", ", ".join(a.new_heads) or "none"
        lines.append(f"alembic head ({a.config}): {old} → {new}")
    return lines


def _env_text(key: str, old: str | None, new: str | None) -> str:
    if old is None:
        return f"+{key}"
    if new is None:
        return f"-{key}"
    return f"~{key}"


def render_diff(console: Console, d: ImageDiff, verbose: bool = False) -> None:
    """A section per kind that changed; nothing for a kind that did not."""
    _line(
        console,
        ("OLD ", "bold"),
        f"{d.old_ref} ({short(d.old_id)})",
        ("  NEW ", "bold"),
        f"{d.new_ref} ({short(d.new_id)})",
        soft_wrap=True,
    )
    if not d.changed:
        _line(console, ("no changes", "green"))
    for kind, title in KINDS:
        if has_changes(kind, d):
            table = _Table(f"{title}: {_count_text(kind, d)}")
            _SECTIONS[kind](table, d, verbose)
            console.print(table)
    for note in d.notes:
        _line(console, (f"note: {note}", "dim"), soft_wrap=True)


def _layers(table: _Table, d: ImageDiff, verbose: bool) -> None:
    for col in ("", "command", "old", "new"):
        table.add_column(col, overflow="fold")
    for x in d.layers:
        if x.status == "kept" and not verbose:
            continue
        old = human_bytes(x.old_size) if x.old_diff_id else ""
        new = human_bytes(x.new_size) if x.new_diff_id else ""
        table.add_row(x.status, _step(x.created_by), old, new)


def _versions(table: _Table, changes: tuple[VersionChange, ...], where: bool) -> None:
    for col in ("", "name", "old", "new", *(("environment",) if where else ())):
        table.add_column(col, overflow="fold")
    for c in changes:
        row = [c.change, c.name, c.old_version or "", c.new_version or ""]
        table.add_row(*row, *((c.where,) if where else ()))


def _python(table: _Table, d: ImageDiff, verbose: bool) -> None:
    _versions(table, d.python, where=True)


def _debian(table: _Table, d: ImageDiff, verbose: bool) -> None:
    _versions(table, d.debian, where=False)


def _libraries(table: _Table, d: ImageDiff, verbose: bool) -> None:
    for col in ("", "SONAME", "old", "new"):
        table.add_column(col, overflow="fold")
    for c in d.libraries:
        table.add_row(c.change, c.soname, "\n".join(c.old_paths), "\n".join(c.new_paths))


def _files(table: _Table, d: ImageDiff, verbose: bool) -> None:
    for col in ("", "path", "old", "new", "by"):
        table.add_column(col, overflow="fold")
    shown = d.files if verbose else d.files[:_MAX_FILES]
    if len(shown) < len(d.files):
        table.caption = Text(f"{len(d.files) - len(shown)} more: -v lists them", "table.caption")
    for c in shown:
        old = "" if c.old_size is None else human_bytes(c.old_size)
        new = "" if c.new_size is None else human_bytes(c.new_size)
        table.add_row(c.change, c.path, old, new, c.basis)


def _config(table: _Table, d: ImageDiff, verbose: bool) -> None:
    for col in ("setting", "old", "new"):
        table.add_column(col, overflow="fold")
    for c in d.config:
        name = f"{c.field} {c.key}" if c.key else c.field
        table.add_row(
            name, "(unset)" if c.old is None else c.old, "(unset)" if c.new is None else c.new
        )


def _alembic(table: _Table, d: ImageDiff, verbose: bool) -> None:
    for col in ("alembic.ini", "old head", "new head", "added", "removed"):
        table.add_column(col, overflow="fold")
    for a in d.alembic:
        table.add_row(
            a.config,
            "\n".join(a.old_heads) or "none",
            "\n".join(a.new_heads) or "none",
            "\n".join(a.added),
            "\n".join(a.removed),
        )


_SECTIONS: dict[str, Callable[[_Table, ImageDiff, bool], None]] = {
    "layers": _layers,
    "python": _python,
    "debian": _debian,
    "libraries": _libraries,
    "files": _files,
    "config": _config,
    "alembic": _alembic,
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def diff_markdown(d: ImageDiff) -> str:
    """The same sections as Markdown tables (a pull request comment, a job summary)."""
    out = [f"## imagecheck diff: `{d.old_ref}` → `{d.new_ref}`", ""]
    if not d.changed:
        out.append("No changes.")
    data = diff_data(d)
    columns = {
        "layers": ("status", "created_by", "old_size", "new_size"),
        "python": ("change", "name", "old_version", "new_version", "where"),
        "debian": ("change", "name", "old_version", "new_version"),
        "libraries": ("change", "soname", "old_paths", "new_paths"),
        "files": ("change", "path", "old_size", "new_size", "basis"),
        "config": ("field", "key", "old", "new"),
        "alembic": ("config", "old_heads", "new_heads", "added", "removed"),
    }
    for kind, title in KINDS:
        if not has_changes(kind, d):
            continue
        cols = columns[kind]
        out += [f"### {title}: {_count_text(kind, d)}", "", "| " + " | ".join(cols) + " |"]
        out.append("|" + "---|" * len(cols))
        for row in data[kind]:
            if kind == "layers" and row["status"] == "kept":
                continue
            cells = []
            for col in cols:
                value = row[col]
                if col == "created_by":
                    value = _step(value)
                text = "<br>".join(value) if isinstance(value, list) else str(value or "")
                cells.append(_cell(text))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    out += [f"_{note}_" for note in d.notes]
    return "\n".join(out).rstrip("\n") + "\n"
