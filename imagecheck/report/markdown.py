"""``--format markdown``: the report as a Markdown summary (a PR comment, a job summary).

The verdict, a table of the findings, the layer table of an image report, and each
finding's detail (message, fix, layer) collapsed under ``<details>``. ``--format github``
appends the same text to ``$GITHUB_STEP_SUMMARY``. Data from the image is escaped: a
``|`` or a newline cannot break a table, and ``<``/``>`` cannot open a tag.
"""

from __future__ import annotations

from ..model import Finding, LayerRef, LintReport, Report
from .findings import failing, verdict
from .locations import subject_of
from .terminal import human_bytes, layer_label

_ICON = {"error": ":x:", "warning": ":warning:", "info": ":information_source:"}
MAX_LAYER_ROWS = 60


def cell(text: str) -> str:
    """One table cell: on one line, with Markdown's and HTML's specials escaped."""
    text = " ".join(text.split())
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, escaped)
    for char in "\\|`*_[]":
        text = text.replace(char, "\\" + char)
    return text


def _code_block(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"


def _where(f: Finding) -> str:
    if f.location:
        return f.location
    return f"layer {layer_label(f.layer)}" if f.layer else ""


def _findings(findings: tuple[Finding, ...]) -> list[str]:
    lines = ["| | code | subject | message | where |", "|---|---|---|---|---|"]
    for f in findings:
        lines.append(
            f"| {_ICON.get(f.severity, '')} {f.severity} | {f.code} | {cell(f.subject)} "
            f"| {cell(f.message)} | {cell(_where(f))} |"
        )
    return lines


def _details(findings: tuple[Finding, ...]) -> list[str]:
    lines = ["<details><summary>Details: what to do for each finding</summary>", ""]
    for f in findings:
        lines.append(f"**{f.code} {cell(f.subject)}** ({f.severity}): {cell(f.message)}")
        lines.append("")
        lines.append(_code_block(f.hint))
        if f.layer is not None:
            lines.append(f"Layer #{f.layer.index}: {cell(f.layer.created_by[:200])}")
        lines.append("")
    lines.append("</details>")
    return lines


def _layers(report: Report) -> list[str]:
    layers = report.inventory.layers
    lines = [
        "<details><summary>Layers</summary>",
        "",
        "| # | created by | size | files +/~/- | wasted |",
        "|---:|---|---:|---:|---:|",
    ]
    for s in layers[:MAX_LAYER_ROWS]:
        e = s.entry
        label = layer_label(LayerRef(e.index, e.created_by, e.diff_id)).partition(" ")[2]
        if e.diff_id is None:
            lines.append(f"| {e.index} | {cell(label)} | | | |")
            continue
        wasted = human_bytes(s.wasted_bytes) if s.wasted_bytes else ""
        lines.append(
            f"| {e.index} | {cell(label)} | {human_bytes(s.size)} "
            f"| {s.files_added}/{s.files_changed}/{s.files_removed} | {wasted} |"
        )
    if len(layers) > MAX_LAYER_ROWS:
        lines.append(f"| | … {len(layers) - MAX_LAYER_ROWS} more | | | |")
    lines += ["", "</details>"]
    return lines


def markdown_summary(report: Report | LintReport, fail_on: str) -> str:
    """The whole summary, ending in a newline."""
    what = subject_of(report)
    bad = failing(report, fail_on)
    if verdict(report, fail_on) == "fail":
        head = f"## :x: imagecheck: FAIL {cell(what)}: {len(bad)} finding(s) at or above {fail_on}"
    else:
        head = f"## :white_check_mark: imagecheck: PASS {cell(what)}"
    lines = [head, ""]
    counts = ", ".join(
        f"{sum(1 for f in report.findings if f.severity == s)} {s}"
        for s in ("error", "warning", "info")
    )
    lines.append(f"{len(report.findings)} finding(s): {counts}.")
    skipped = [c for c in report.checks if c.status == "skipped"]
    if skipped:
        lines.append(
            "Skipped: " + "; ".join(f"{c.code} {cell(c.name)} ({cell(c.reason)})" for c in skipped)
        )
    lines.append("")
    if report.findings:
        lines += [*_findings(report.findings), "", *_details(report.findings), ""]
    if isinstance(report, Report) and report.inventory.layers:
        lines += [*_layers(report), ""]
    return "\n".join(lines)
