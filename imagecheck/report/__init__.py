"""Reporters: render a report (plain data) for people (rich) or machines (JSON, JUnit,
SARIF, GitHub workflow commands, Markdown, GitLab Code Quality, CycloneDX).

This module is the package's interface: other packages import only what it names.
"""

from .cyclonedx import cyclonedx_json
from .findings import failing, junit, lint_document, report_document
from .formats import render_as
from .json import dumps, inventory_document
from .markdown import markdown_summary
from .terminal import render_inventory, render_layers, render_lint, render_report

__all__ = [
    "cyclonedx_json",
    "dumps",
    "failing",
    "inventory_document",
    "junit",
    "lint_document",
    "markdown_summary",
    "render_as",
    "render_inventory",
    "render_layers",
    "render_lint",
    "render_report",
    "report_document",
]
