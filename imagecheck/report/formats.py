"""A check or lint report as text in one machine format: each is one reporter module."""

from __future__ import annotations

import json

from ..model import LintReport, Report
from .findings import junit, lint_document, report_document
from .json import dumps


def render_as(fmt: str, report: Report | LintReport, fail_on: str) -> str:
    """``fmt`` is json, junit, sarif, github, markdown or gitlab; the text ends in a newline.
    Each other reporter loads only when asked for: none is on a terminal run's path."""
    if fmt == "json":
        if isinstance(report, LintReport):
            return dumps(lint_document(report, fail_on))
        return dumps(report_document(report, fail_on))
    if fmt == "junit":
        return junit(report, fail_on)
    if fmt == "sarif":
        from .sarif import sarif_document

        return dumps(sarif_document(report, fail_on))
    if fmt == "github":
        from .github import github_commands

        return github_commands(report, fail_on)
    if fmt == "gitlab":
        from .gitlab import gitlab_document

        return json.dumps(gitlab_document(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        from .markdown import markdown_summary

        return markdown_summary(report, fail_on)
    msg = f"unknown report format {fmt!r}"
    raise ValueError(msg)
