"""Reporters: render a report (plain data) for people (rich) or machines (JSON, JUnit,
SARIF, GitHub workflow commands, Markdown, GitLab Code Quality, CycloneDX).

Its interface is what this module names: other packages import nothing else of it.
Each name's module loads when the name is first used (``imagecheck.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .cyclonedx import cyclonedx_json
    from .diff import diff_markdown, render_diff, summary_lines
    from .diffdata import diff_data, diff_document
    from .findings import failing, junit, lint_document, report_document
    from .formats import render_as
    from .json import dumps, inventory_document
    from .markdown import markdown_summary
    from .terminal import render_inventory, render_layers, render_lint, render_report

__all__ = [
    "cyclonedx_json",
    "diff_data",
    "diff_document",
    "diff_markdown",
    "dumps",
    "failing",
    "inventory_document",
    "junit",
    "lint_document",
    "markdown_summary",
    "render_as",
    "render_diff",
    "render_inventory",
    "render_layers",
    "render_lint",
    "render_report",
    "report_document",
    "summary_lines",
]

__getattr__ = lazy.interface(__name__, __file__)
