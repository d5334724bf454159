"""Check reports as data for machines: JSON (``schemas/report.schema.json``) and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..model import Finding, LintReport, Report
from .json import header, layer_ref, tool_header


def finding_document(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity,
        "subject": f.subject,
        "message": f.message,
        "hint": f.hint,
        "layer": layer_ref(f.layer) if f.layer else None,
        "location": f.location,
    }


def _verdict_and_findings(report: Report | LintReport, fail_on: str) -> dict[str, Any]:
    counts = {
        s: sum(1 for f in report.findings if f.severity == s) for s in ("error", "warning", "info")
    }
    return {
        "verdict": verdict(report, fail_on),
        "counts": counts,
        "constraints": list(report.constraints_files),
        "findings": [finding_document(f) for f in report.findings],
        "checks": [
            {"code": c.code, "name": c.name, "status": c.status, "reason": c.reason}
            for c in report.checks
        ],
    }


def report_document(report: Report, fail_on: str) -> dict[str, Any]:
    return header(report.inventory.image) | _verdict_and_findings(report, fail_on)


def lint_document(report: LintReport, fail_on: str) -> dict[str, Any]:
    """``imagecheck lint --format json`` (``schemas/lint.schema.json``)."""
    return tool_header() | {"files": list(report.files)} | _verdict_and_findings(report, fail_on)


RANK = {"error": 0, "warning": 1, "info": 2}


def failing(report: Report | LintReport, fail_on: str) -> list[Finding]:
    return [f for f in report.findings if RANK.get(f.severity, 3) <= RANK[fail_on]]


def verdict(report: Report | LintReport, fail_on: str) -> str:
    return "fail" if failing(report, fail_on) else "pass"


def junit(report: Report | LintReport, fail_on: str) -> str:
    """One testsuite; a testcase per check, a failure element per finding at or over fail-on."""
    what = report.inventory.image.ref if isinstance(report, Report) else "lint"
    suite = ET.Element("testsuite", name=f"imagecheck {what}")
    failures = skipped = 0
    for result in report.checks:
        case = ET.SubElement(
            suite, "testcase", classname="imagecheck", name=f"{result.code} {result.name}"
        )
        if result.status == "skipped":
            ET.SubElement(case, "skipped", message=result.reason)
            skipped += 1
            continue
        prefixes = tuple(result.code.split("/"))
        bad = [f for f in failing(report, fail_on) if f.code.startswith(prefixes)]
        for f in bad:
            where = f"{f.location}: " if f.location else ""
            node = ET.SubElement(
                case,
                "failure",
                message=f"{where}{f.code} {f.subject}: {f.message}",
                type=f.severity,
            )
            node.text = f"{f.message}\nhint: {f.hint}" + (
                f"\nlayer #{f.layer.index}: {f.layer.created_by}" if f.layer else ""
            )
        failures += bool(bad)
    suite.set("tests", str(len(report.checks)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
