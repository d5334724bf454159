"""Reporters: render a report (plain data) for people (rich) or machines (JSON, JUnit).

This module is the package's interface: other packages import only what it names.
"""

from .findings import failing, junit, lint_document, report_document
from .json import dumps, inventory_document
from .terminal import render_inventory, render_layers, render_lint, render_report

__all__ = [
    "dumps",
    "failing",
    "inventory_document",
    "junit",
    "lint_document",
    "render_inventory",
    "render_layers",
    "render_lint",
    "render_report",
    "report_document",
]
