"""Rich tables for people. Rich decides colour: NO_COLOR, TERM=dumb and pipes are honoured.

Everything shown is data from images, logs and config files, where ``[bold]``, ``[/]`` and
``[[failure]]`` are text. Rich reads a plain ``str`` as console markup, so no ``str`` of
data reaches it: lines are printed with ``_line`` (parts assembled into a ``Text``), and
tables are ``_Table``s, which make every title, caption and cell a ``Text``.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from ..model import (
    Change,
    Finding,
    Inventory,
    LayerRef,
    LayerSummary,
    LintReport,
    Report,
    SmokeRun,
    StaleVerdict,
    TriageRun,
    short,
)


class _Table(Table):
    """A table of plain text: a title, caption or cell given as ``str`` is never markup."""

    def __init__(self, title: str, caption: str | None = None, **kw: Any) -> None:
        super().__init__(
            title=Text(title, style="table.title"),
            caption=None if caption is None else _caption(caption),
            title_justify="left",
            **kw,
        )

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        cells = [Text(c) if isinstance(c, str) else c for c in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


def _caption(text: str) -> Text:
    return Text(text, style="table.caption")


def _line(console: Console, *parts: str | tuple[str, str], soft_wrap: bool = False) -> None:
    """One line of plain text: ``str`` parts as they are, ``(text, style)`` parts styled."""
    console.print(Text.assemble(*parts), highlight=False, soft_wrap=soft_wrap)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


#: Instructions BuildKit records by their keyword (the legacy builder writes ``#(nop)``).
_KEYWORDS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})  # fmt: skip
_BUILD_ARGS = re.compile(r"\|(\d+) ")


def step_text(created_by: str) -> str:
    """A history entry as its Dockerfile line reads, whichever builder wrote it:
    ``RUN apt-get ...`` for the legacy ``/bin/sh -c apt-get ...`` and for BuildKit's
    ``RUN /bin/sh -c apt-get ... # buildkit`` alike, without the ``|N NAME=value``
    build arguments either records in front of a RUN."""
    text = " ".join(created_by.split())
    kit = text.endswith(" # buildkit")
    text = text.removesuffix(" # buildkit")
    if text.startswith("/bin/sh -c #(nop) "):
        return text[len("/bin/sh -c #(nop) ") :].strip()
    keyword = text.partition(" ")[0]
    if keyword == "RUN" and (kit or text != "RUN"):
        text = text[len("RUN ") :]
    elif keyword in _KEYWORDS or not text:
        return text  # another instruction, as BuildKit wrote it
    args = _BUILD_ARGS.match(text)
    if args:  # drop the N build arguments: ``|1 A=b /bin/sh -c ...``
        text = " ".join(text[args.end() :].split(" ")[int(args.group(1)) :])
    return "RUN " + text.removeprefix("/bin/sh -c ")


def _command(created_by: str, width: int = 70) -> str:
    text = step_text(created_by)
    return text if len(text) <= width else text[: width - 1] + "…"


def layer_label(ref: LayerRef) -> str:
    return f"#{ref.index} {_command(ref.created_by, 40) or short(ref.diff_id or '')}"


def _changes_text(changes: tuple[Change, ...], limit: int = 5) -> Text:
    """Python changes by name first; Debian ones by name when few, else counted."""
    text = Text()
    marks = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}
    python = [c for c in changes if c.kind == "python"]
    debian = [c for c in changes if c.kind == "debian"]
    named = python[:limit] + (debian if len(python) + len(debian) <= limit else [])
    for n, c in enumerate(named):
        mark, style = marks[c.action]
        version = c.old_version if c.action == "removed" else c.new_version
        if c.action == "changed":
            version = f"{c.old_version}→{c.new_version}"
        if n:
            text.append(", ")
        text.append(f"{mark}{c.name} {version}", style=style)
    rest = [c for c in changes if c not in named]
    for kind, label in (("python", "Python"), ("debian", "Debian")):
        counts = {a: sum(1 for c in rest if c.kind == kind and c.action == a) for a in marks}
        summary = " ".join(f"{marks[a][0]}{n}" for a, n in counts.items() if n)
        if summary:
            text.append(("; " if len(text) else "") + f"{summary} {label}", style="dim")
    return text


def _header(console: Console, inv: Inventory, verbose: bool) -> None:
    img = inv.image
    if not img.id:  # a service's image that could not be read (Inventory.placeholder)
        for note in inv.notes:
            _line(console, (img.ref, "bold"), f"  {note}")
        return
    tags = ", ".join(img.repo_tags) or "untagged"
    _line(console, (img.ref, "bold"), f"  {short(img.id)}  {img.platform}  ({tags})")
    interp = inv.interpreter
    if interp is not None:
        venv = f", venv {interp.venv}" if interp.venv else ""
        _line(console, f"Python {interp.version or '?'}: {interp.path} ({interp.reason}{venv})")
    else:
        _line(console, "No Python interpreter found on the image's PATH.")
    if verbose:
        for note in inv.notes:
            _line(console, (f"· {note}", "dim"))


def render_layers(console: Console, inv: Inventory, verbose: bool = False) -> None:
    _header(console, inv, verbose)
    table = _Table("Layers", expand=False)
    for col, kw in (
        ("#", {"justify": "right"}),
        ("created", {}),
        ("created by", {"overflow": "fold"}),
        ("size", {"justify": "right"}),
        ("files +/~/-", {"justify": "right"}),
        ("wasted", {"justify": "right"}),
        ("packages", {"overflow": "fold"}),
    ):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    total_wasted = 0
    for s in inv.layers:
        table.add_row(*_layer_row(s))
        total_wasted += s.wasted_bytes
    console.print(table)
    total = sum(s.size for s in inv.layers)
    _line(
        console,
        f"{len(inv.layers)} history entries, {sum(1 for s in inv.layers if s.entry.diff_id)} "
        f"layers, {human_bytes(total)} written, {human_bytes(total_wasted)} wasted",
    )


def _layer_row(s: LayerSummary) -> tuple[str | Text, ...]:
    created = (s.entry.created or "")[:16].replace("T", " ")
    if s.entry.diff_id is None:
        return (str(s.entry.index), created, _command(s.entry.created_by), "", "", "", "")
    files = f"{s.files_added}/{s.files_changed}/{s.files_removed}"
    wasted = human_bytes(s.wasted_bytes) if s.wasted_bytes else ""
    return (
        str(s.entry.index),
        created,
        _command(s.entry.created_by) or "(no history)",
        human_bytes(s.size),
        files,
        wasted,
        _changes_text(s.changes),
    )


def render_inventory(
    console: Console, inv: Inventory, verbose: bool = False, show_all: bool = False
) -> None:
    _header(console, inv, verbose)
    envs = _Table("Python environments")
    for col in ("folder", "kind", "python", "on runtime path", "distributions"):
        envs.add_column(col)
    counts: dict[str, int] = {}
    for d in inv.python:
        counts[d.environment] = counts.get(d.environment, 0) + 1
    for e in inv.environments:
        envs.add_row(
            e.path,
            e.kind + (f" ({e.venv})" if e.venv else ""),
            e.python_version or "",
            "yes" if e.on_runtime_path else Text("no", style="dim"),
            str(counts.get(e.path, 0)),
        )
    console.print(envs)

    dists = _Table(f"Python distributions ({len(inv.python)})")
    for col in ("name", "version", "environment", "live", "layer"):
        dists.add_column(col, overflow="fold")
    for d in inv.python:
        live = "yes" if d.live else Text(f"shadowed by {d.shadowed_by}", style="yellow")
        name = Text.assemble(d.name, (" (application)", "bold") if d.application else "")
        dists.add_row(name, d.version, d.environment, live, layer_label(d.layer))
    console.print(dists)

    if inv.removed:
        removed = _Table("Removed by a later layer")
        for col in ("kind", "name", "version", "added by", "removed by"):
            removed.add_column(col, overflow="fold")
        for r in inv.removed:
            removed.add_row(
                r.kind, r.name, r.version, layer_label(r.added_by), layer_label(r.removed_by)
            )
        console.print(removed)

    if inv.debian:
        deb = _Table(f"Debian packages ({len(inv.debian)})")
        for col in ("name", "version", "arch", "layer"):
            deb.add_column(col, overflow="fold")
        base = inv.debian[0].layer.index if not show_all else None
        shown = [p for p in inv.debian if show_all or p.layer.index != base]
        for p in shown:
            deb.add_row(p.name, p.version, p.architecture, layer_label(p.layer))
        hidden = len(inv.debian) - len(shown)
        if hidden:
            deb.caption = _caption(f"{hidden} more from the base layer #{base}: --all lists them")
        console.print(deb)

    if show_all:
        table = _Table(f"Shared libraries ({len(inv.libraries)})")
        for col in ("path", "soname", "needed", "layer"):
            table.add_column(col, overflow="fold")
        for lib in inv.libraries:
            table.add_row(lib.path, lib.soname or "", ", ".join(lib.needed), f"#{lib.layer.index}")
        console.print(table)
        return
    groups: dict[tuple[str, int], list[str]] = {}
    for lib in inv.libraries:
        groups.setdefault((_library_group(lib.path), lib.layer.index), []).append(lib.path)
    table = _Table(
        f"Shared libraries ({len(inv.libraries)})",
        caption="--all lists each library with its SONAME and NEEDED",
    )
    for col, justify in (("where", "left"), ("count", "right"), ("layer", "left")):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for (group, index), paths in sorted(groups.items()):
        table.add_row(group, str(len(paths)), f"#{index}")
    console.print(table)


def _library_group(path: str) -> str:
    """A distribution's folder inside a site folder, else the library's folder."""
    for marker in ("/site-packages/", "/dist-packages/"):
        site, sep, rest = path.partition(marker)
        if sep:
            return f"{site}{marker}{rest.split('/', 1)[0]}"
    return "/".join(path.rpartition("/")[0].split("/")[:5]) or "/"


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
# Below this many columns (80 in a terminal, a CI log's default) six table columns
# squeeze each message into a few letters a line: findings are blocks instead.
WIDE = 100


def render_finding_blocks(console: Console, findings: tuple[Finding, ...]) -> None:
    """A finding per block: code, severity, subject and where on one line, then the
    message and the fix indented, wrapped by words to the console's width."""
    from rich.padding import Padding

    console.print(Text(f"Findings ({len(findings)})", style="table.title"))
    for f in findings:
        where = [f.location] if f.location else []
        if f.layer is not None:
            where.append(f"layer {layer_label(f.layer)}")
        head = Text.assemble(
            (f.code, "bold"),
            " ",
            (f.severity, _STYLE.get(f.severity, "")),
            " ",
            (f.subject, "bold"),
            *([("  " + "; ".join(where), "dim")] if where else []),
        )
        console.print(head, highlight=False)
        console.print(Padding(Text(f.message), (0, 0, 0, 4)), highlight=False)
        console.print(Padding(Text.assemble(("fix: ", "bold"), f.hint), (0, 0, 0, 4)))


def render_report(console: Console, report: Report, fail_on: str, verbose: bool = False) -> None:
    """The verdict first (what is wrong, which layer, what to run), then the detail."""
    rank = {"error": 0, "warning": 1, "info": 2}
    bad = [f for f in report.findings if rank.get(f.severity, 3) <= rank[fail_on]]
    img = report.inventory.image
    if report.triage is not None:
        render_triage(console, report.triage, bad, verbose)
    if bad:
        _line(
            console,
            ("FAIL ", "bold red"),
            f"{img.ref}: {len(bad)} finding(s) at or above {fail_on}",
        )
        for f in bad[:5]:
            where = f" (layer #{f.layer.index})" if f.layer else ""
            _line(
                console,
                ("  • ", _STYLE[f.severity]),
                (f"{f.code} ", "bold"),
                f"{f.subject}{where}: ",
                f.hint,
            )
    elif not img.id:  # the service's image could not be read: nothing passed
        _line(console, ("NOT CHECKED ", "yellow"), img.ref)
    else:
        _line(console, ("PASS ", "bold green"), img.ref)
    if report.stale is not None:
        render_stale(console, report.stale)
    _header(console, report.inventory, verbose)
    if report.constraints_files:
        _line(console, (f"constraints: {', '.join(report.constraints_files)}", "dim"))
    if report.findings and console.width < WIDE:
        render_finding_blocks(console, report.findings)
    elif report.findings:
        table = _Table(f"Findings ({len(report.findings)})")
        for col in ("code", "severity", "subject", "message", "hint", "layer"):
            table.add_column(col, overflow="fold")
        for f in report.findings:
            table.add_row(
                f.code,
                Text(f.severity, style=_STYLE.get(f.severity, "")),
                f.subject,
                f.message,
                f.hint,
                layer_label(f.layer) if f.layer else "",
            )
        console.print(table)
    checks = _Table("Checks")
    for col in ("codes", "check", "status", "detail"):
        checks.add_column(col)
    marks = {"passed": "green", "failed": "red", "skipped": "dim"}
    for c in report.checks:
        checks.add_row(c.code, c.name, Text(c.status, style=marks[c.status]), c.reason)
    console.print(checks)
    if report.smoke is not None:
        render_smoke(console, report.smoke, verbose)


_SMOKE_STYLE = {"ok": "green", "error": "bold red", "timeout": "red", "crash": "bold red"}


def render_smoke(console: Console, run: SmokeRun, verbose: bool = False) -> None:
    """Failures and the slowest imports; every item with ``-v``."""
    if run.status == "skipped":
        _line(console, (f"smoke tests skipped: {run.reason}", "dim"))
        return
    ok = [r for r in run.results if r.status == "ok"]
    shown = list(run.results) if verbose else [r for r in run.results if r.status != "ok"]
    slow = sorted(ok, key=lambda r: -r.seconds)[: 0 if verbose else 5]
    title = (
        f"Smoke: {len(ok)} of {len(run.results)} ok in {run.seconds:.1f} s "
        f"({run.interpreter}, Python {run.python_version or '?'})"
    )
    table = _Table(title)
    for col in ("kind", "name", "distribution", "status", "seconds", "detail"):
        table.add_column(col, overflow="fold")
    for r in [*shown, *slow]:
        detail = r.last_line or r.signal or r.reason or ("slowest" if r in slow else "")
        table.add_row(
            r.kind,
            r.name,
            r.distribution or "",
            Text(r.status, style=_SMOKE_STYLE.get(r.status, "dim")),
            f"{r.seconds:.2f}",
            detail,
        )
    console.print(table)
    if run.app is not None:
        render_app(console, run, verbose)


def render_app(console: Console, run: SmokeRun, verbose: bool = False) -> None:
    """One line on the application imported; ``-v`` says how it was found."""
    entry = run.app
    if entry is None:
        return
    if not entry.found:
        _line(console, (f"application: not found ({entry.how})", "dim"), soft_wrap=True)
        return
    mine = [r for r in run.results if r.kind in ("app", "mappers")]
    ok = sum(1 for r in mine if r.status in ("ok", "skipped"))
    _line(
        console,
        f"application: {entry.spec}, {ok} of {len(mine)} import(s) ok",
        (f" (found from {entry.how})" if verbose else "", "dim"),
        soft_wrap=True,
    )
    given = "; ".join(run.environment_from) or "the image's ENV only"
    note = f" ({run.environment_note})" if run.environment_note else ""
    _line(console, (f"environment: {given}{note}", "dim"), soft_wrap=True)


def render_lint(console: Console, report: LintReport, fail_on: str, verbose: bool = False) -> None:
    """A line per finding as compilers write them (``file:line: CODE ...``), then the verdict."""
    for f in report.findings:
        _line(
            console,
            f"{f.location}: " if f.location else "",
            (f.code, "bold"),
            " ",
            (f.severity, _STYLE.get(f.severity, "")),
            f" {f.subject}: {f.message}",
            soft_wrap=True,
        )
        _line(console, (f"    fix: {f.hint}", "dim"), soft_wrap=True)
    from .findings import failing

    bad = failing(report, fail_on)
    files = f"{len(report.files)} file(s)"
    pins = ", ".join(report.constraints_files) or "none found"
    if bad:
        head = Text.assemble(
            ("FAIL ", "bold red"), f"{len(bad)} finding(s) at or above {fail_on} in {files}"
        )
    else:
        head = Text.assemble(("PASS ", "bold green"), f"{files} linted")
    head.append(f" (constraints: {pins})", style="dim")
    console.print(head, highlight=False, soft_wrap=True)
    if verbose:
        for c in report.checks:
            _line(console, f"  {c.code} {c.name}: {c.status} ({c.reason})", soft_wrap=True)


def render_stale(console: Console, verdict: StaleVerdict) -> None:
    """One line for the verdict; the commands to run, in order, when stale."""
    if verdict.status == "skipped":
        _line(console, (f"staleness not checked: {verdict.reason}", "dim"))
        return
    style = "bold green" if verdict.status == "fresh" else "bold yellow"
    _line(console, (f"{verdict.status.upper()} ", style), verdict.reason)
    if verdict.how:
        _line(console, (f"  Dockerfile: {verdict.how}", "dim"))
    for command in verdict.commands:
        _line(console, ("  $ ", "dim"), (command, "bold"))


_TRIAGE_STYLE = {
    "crashlooping": "bold red",
    "exited": "red",
    "running": "bold green",
    "completed": "bold green",
    "no-container": "yellow",
    "skipped": "yellow",
}


def _render_changes(console: Console, run: TriageRun) -> None:
    """What changed between the image that ran (or worked) and the one checked: a few lines."""
    from .diff import summary_lines

    _line(console, ("  changed: ", "bold"), run.changes_why, soft_wrap=True)
    if run.changes is not None:
        for line in summary_lines(run.changes):
            _line(console, f"    {line}", soft_wrap=True)


def render_triage(
    console: Console, run: TriageRun, bad: list[Finding], verbose: bool = False
) -> None:
    """The service's verdict on one screen: state, cause, evidence, the commands to run."""
    d = run.diagnosis
    failed = any(f.code in ("IC701", "IC702", "IC703") for f in bad)
    status = run.status.upper() if failed or run.status != "exited" else "EXITED (code 0)"
    _line(
        console,
        (f"{status} ", _TRIAGE_STYLE.get(run.status, "")),
        (run.service, "bold"),
        f": {run.reason}",
        soft_wrap=True,
    )
    if d is not None:
        label = "harmless" if d.harmless else "cause"
        _line(console, (f"  {label}: ", "bold"), f"{d.title}. {d.cause}")
    _line(console, ("  evidence:", "bold"))
    if d is not None:
        _line(console, f"    {d.source}: {d.evidence}", soft_wrap=True)
        for line in d.related:
            _line(console, f"    {line}", soft_wrap=True)
    for f in [f for f in bad if f.code not in ("IC701", "IC702", "IC703")][:4]:
        where = f" (layer {layer_label(f.layer)})" if f.layer else ""
        _line(console, "    ", (f.code, "bold"), f" {f.subject}{where}: {f.message}")
    if d is None and not bad:
        _line(console, ("    nothing failing found", "dim"))
    if d is not None and not d.harmless:
        _line(console, ("  fix: ", "bold"), d.fix)
    if run.commands:
        _line(console, ("  run:", "bold"))
        for command in run.commands:
            _line(console, (f"    {command}", "cyan"), soft_wrap=True)
    image = run.image_ref or "none found"
    source = f" ({run.image_source})" if run.image_source else ""
    build = f"; build {run.build_context} ({run.dockerfile})" if run.build_context else ""
    files = ", ".join(run.compose_files)
    _line(
        console,
        (f"project {run.project}: {files}; image {image}{source}{build}", "dim"),
        soft_wrap=True,
    )
    for warning in run.warnings:
        _line(console, (f"compose: {warning}", "yellow"))
    if run.changes is not None or run.changes_why:
        _render_changes(console, run)
    if run.containers:
        table = _Table("Containers")
        for col in ("name", "status", "restarts", "exit", "OOM", "health", "started", "finished"):
            table.add_column(col, overflow="fold")
        for c in run.containers:
            table.add_row(
                c.name,
                c.status,
                str(c.restart_count),
                str(c.exit_code),
                "yes" if c.oom_killed else "",
                c.health or "",
                (c.started_at or "")[:19].replace("T", " "),
                (c.finished_at or "")[:19].replace("T", " "),
            )
        console.print(table)
    lines = run.log_tail.rstrip("\n").splitlines()
    shown = lines if verbose else lines[-12:]
    if shown:
        more = "" if verbose or len(lines) <= 12 else f" ({len(lines)} read: -v shows them)"
        _line(console, (f"Last log lines{more}:", "bold"))
        for line in shown:
            _line(console, (f"  {line}", "dim"), soft_wrap=True)
