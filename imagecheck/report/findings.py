"""Check reports as data for machines: JSON (``schemas/report.schema.json``) and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import asdict
from typing import Any

from ..model import (
    SEVERITIES,
    SEVERITY_RANK,
    Finding,
    LintReport,
    MigrationSummary,
    ModuleResult,
    Report,
    SmokeRun,
    StaleVerdict,
    TriageRun,
    severity_rank,
)
from .diffdata import diff_data
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
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITIES}
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


def _module(r: ModuleResult) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "name": r.name,
        "status": r.status,
        "seconds": r.seconds,
        "distribution": r.distribution,
        "exc_type": r.exc_type,
        "last_line": r.last_line,
        "traceback_tail": r.traceback_tail,
        "signal": r.signal,
        "output": r.output,
        "warnings": list(r.warnings),
        "logs": list(r.logs),
        "reason": r.reason,
        "alone": r.alone,
        "location": r.location,
        "close_names": list(r.close_names),
        "missing_env": list(r.missing_env),
        "role": r.role,
    }


def smoke_document(run: SmokeRun) -> dict[str, Any]:
    return {
        "status": run.status,
        "reason": run.reason,
        "interpreter": run.interpreter,
        "python_version": run.python_version,
        "seconds": run.seconds,
        "results": [_module(r) for r in run.results],
        "app": None
        if run.app is None
        else {
            "found": run.app.found,
            "module": run.app.module,
            "attribute": run.app.attribute,
            "path": run.app.path,
            "how": run.app.how,
            "modules": list(run.app_modules),
        },
        "environment_from": list(run.environment_from),
    }


def triage_document(run: TriageRun) -> dict[str, Any]:
    """The ``triage`` section: what ``imagecheck SERVICE`` found before reading the image.

    Containers and the diagnosis are their dataclasses' fields, name for name (the schema,
    with additionalProperties false, holds them)."""
    d = run.diagnosis
    return {
        "service": run.service,
        "project": run.project,
        "compose_files": list(run.compose_files),
        "status": run.status,
        "reason": run.reason,
        "image_ref": run.image_ref,
        "image_source": run.image_source,
        "newer_image": run.newer_image,
        "build_context": run.build_context,
        "dockerfile": run.dockerfile,
        "containers": [asdict(c) for c in run.containers],
        "log_tail": run.log_tail,
        "diagnosis": None if d is None else asdict(d),
        "commands": list(run.commands),
        "warnings": list(run.warnings),
        "engine_error": run.engine_error,
        "dependencies": [asdict(dep) for dep in run.dependencies],
        "database": None if run.database is None else asdict(run.database),
        "changes": None if run.changes is None else diff_data(run.changes),
        "changes_why": run.changes_why,
    }


def report_document(report: Report, fail_on: str) -> dict[str, Any]:
    smoke = {"smoke": smoke_document(report.smoke) if report.smoke else None}
    stale = {"stale": stale_document(report.stale) if report.stale else None}
    triage = {"triage": triage_document(report.triage) if report.triage else None}
    mig = {"migrations": migrations_document(report.migrations) if report.migrations else None}
    doc = header(report.inventory.image) | _verdict_and_findings(report, fail_on)
    return doc | smoke | stale | triage | mig


def migrations_document(run: MigrationSummary) -> dict[str, Any]:
    """The ``migrations`` section: the migration check's run, step by step (its findings
    are in ``findings``); the dataclass's fields, name for name."""
    doc = asdict(run)
    return doc | {
        "heads": list(run.heads),
        "applied": list(run.applied),
        "steps": [asdict(step) for step in run.steps],
    }


def stale_document(verdict: StaleVerdict) -> dict[str, Any]:
    return {
        "status": verdict.status,
        "reason": verdict.reason,
        "dockerfile": verdict.dockerfile,
        "context": verdict.context,
        "how": verdict.how,
        "commands": list(verdict.commands),
    }


def lint_document(report: LintReport, fail_on: str) -> dict[str, Any]:
    """``imagecheck lint --format json`` (``schemas/lint.schema.json``)."""
    return tool_header() | {"files": list(report.files)} | _verdict_and_findings(report, fail_on)


def failing(report: Report | LintReport, fail_on: str) -> list[Finding]:
    return [f for f in report.findings if severity_rank(f.severity) <= SEVERITY_RANK[fail_on]]


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
    if isinstance(report, Report) and report.smoke is not None and report.smoke.results:
        root.append(_smoke_suite(report, fail_on))
    if isinstance(report, Report) and report.triage is not None:
        root.append(_triage_suite(report.triage, report, fail_on))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _smoke_suite(report: Report, fail_on: str) -> ET.Element:
    """A testcase per import and probe, failed by its findings at or over fail-on."""
    assert report.smoke is not None  # noqa: S101 - the caller checked
    suite = ET.Element("testsuite", name=f"imagecheck smoke {report.inventory.image.ref}")
    bad = failing(report, fail_on)
    failures = skipped = 0
    for r in report.smoke.results:
        case = ET.SubElement(
            suite, "testcase", classname=f"smoke.{r.kind}", name=r.name, time=f"{r.seconds:.3f}"
        )
        mine = [f for f in bad if f.subject == r.name and f.code.startswith("IC50")]
        for f in mine:
            node = ET.SubElement(case, "failure", message=f"{f.code}: {f.message}", type=f.severity)
            node.text = "\n".join(x for x in (r.traceback_tail, f"hint: {f.hint}") if x)
        if r.status in ("skipped", "not-run") and not mine:
            ET.SubElement(case, "skipped", message=r.reason or r.status)
            skipped += 1
        if r.output:
            ET.SubElement(case, "system-out").text = r.output
        failures += bool(mine)
    suite.set("tests", str(len(report.smoke.results)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")
    suite.set("time", f"{report.smoke.seconds:.3f}")
    return suite


def _triage_suite(run: TriageRun, report: Report, fail_on: str) -> ET.Element:
    """A testcase for the service's state: failed when it crashloops or exited with an
    error (its IC7xx findings at or over fail-on), skipped when no container was seen."""
    suite = ET.Element("testsuite", name=f"imagecheck service {run.service}")
    case = ET.SubElement(
        suite, "testcase", classname=f"service.{run.project}", name=f"{run.service} state"
    )
    bad = [f for f in failing(report, fail_on) if f.code.startswith("IC7")]
    for f in bad:
        node = ET.SubElement(case, "failure", message=f"{f.code}: {f.message}", type=f.severity)
        node.text = "\n".join(x for x in (f"hint: {f.hint}", *run.commands) if x)
    if not bad and run.status in ("no-container", "skipped"):
        ET.SubElement(case, "skipped", message=run.reason)
    if run.log_tail:
        ET.SubElement(case, "system-out").text = run.log_tail
    suite.set("tests", "1")
    suite.set("failures", str(int(bool(bad))))
    suite.set("skipped", str(int(not bad and run.status in ("no-container", "skipped"))))
    suite.set("errors", "0")
    return suite
