"""``--format github``: workflow commands GitHub Actions turns into annotations.

One ``::error``/``::warning``/``::notice`` line per finding at or above ``--fail-on``,
on the file and line it is about (relative to the repository's root, which is where a
workflow checks the repository out), titled with its code. The Markdown summary for
``$GITHUB_STEP_SUMMARY`` is ``markdown.markdown_summary``; the CLI appends it there.
"""

from __future__ import annotations

from pathlib import Path

from ..model import Finding, LintReport, Report
from .findings import failing
from .locations import anchor, dockerfile_of, subject_of

_COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """A command's message: ``%``, CR and LF escaped as the runner reads them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value: as data, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(f: Finding, image: str, fallback: str | None, cwd: Path | None) -> str:
    props: list[tuple[str, str]] = []
    where = f.location or fallback
    if where:
        a = anchor(where, cwd)
        props.append(("file", a.uri))
        if a.line is not None and f.location:
            props.append(("line", str(a.line)))
    props.append(("title", f"{f.code} {f.subject}"))
    text = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    layer = (
        f" (layer #{f.layer.index})"
        if f.layer and f"layer #{f.layer.index}" not in f.message
        else ""
    )
    message = f"{image}: {f.message}{layer}\nfix: {f.hint}"
    return f"::{_COMMAND.get(f.severity, 'notice')} {text}::{escape_data(message)}"


def github_commands(report: Report | LintReport, fail_on: str, cwd: Path | None = None) -> str:
    """The workflow commands, a line each, ending in a newline (empty when none fail)."""
    image = subject_of(report)
    fallback = dockerfile_of(report)
    lines = [_command(f, image, fallback, cwd) for f in failing(report, fail_on)]
    return "".join(line + "\n" for line in lines)
