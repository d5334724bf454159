"""``--format gitlab``: a GitLab Code Quality report (``artifacts:reports:codequality``).

A JSON array, an object per finding: ``description``, ``check_name`` (the code),
``fingerprint`` (stable across runs), ``severity`` (GitLab's words) and
``location.path`` / ``location.lines.begin`` relative to the repository's root. GitLab
requires a path: a finding about the image alone is on line 1 of its Dockerfile when the
report knows it, else on the image's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model import LintReport, Report
from .locations import anchor, dockerfile_of, fingerprint, subject_of

SEVERITY = {"error": "critical", "warning": "major", "info": "info"}


def gitlab_document(report: Report | LintReport, cwd: Path | None = None) -> list[dict[str, Any]]:
    image = subject_of(report)
    dockerfile = dockerfile_of(report)
    issues: list[dict[str, Any]] = []
    for f in report.findings:
        where = f.location or dockerfile
        if where:
            a = anchor(where, cwd)
            path, line = a.uri, (a.line if f.location and a.line else 1)
        else:
            path, line = image, 1
        issues.append(
            {
                "type": "issue",
                "description": f"{f.code} {f.subject}: {f.message}",
                "content": {"body": f"Fix: {f.hint}"},
                "check_name": f.code,
                "categories": ["Bug Risk"],
                "fingerprint": fingerprint(f, path if f.location else image),
                "severity": SEVERITY.get(f.severity, "info"),
                "location": {"path": path, "lines": {"begin": line}},
            }
        )
    return issues
