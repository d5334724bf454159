"""``--format sarif``: SARIF 2.1.0 for code scanning (GitHub's, and any SARIF viewer).

One rule per registered code (its title, its one-line doc), one result per finding with
its level from the severity. A finding that names a file line (a pin in requirements.txt,
the Dockerfile line that installed a layer) is a physical location relative to the
repository's root (``%SRCROOT%``); every result also names the image as a logical
location. GitHub's code scanning needs a physical location on each result, so a finding
about the image alone points at line 1 of its Dockerfile when the report knows it.
``partialFingerprints`` hold the code, the subject and the file: stable across runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import __version__
from ..codes import REGISTRY
from ..model import Finding, LintReport, Report
from .findings import failing, verdict
from .locations import Anchor, anchor, dockerfile_of, fingerprint, subject_of

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/imagecheck/"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rule(code: str) -> dict[str, Any]:
    c = REGISTRY[code]
    rule: dict[str, Any] = {
        "id": c.code,
        "name": "".join(w.capitalize() for w in c.title.replace("-", " ").split()),
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": c.doc},
        "help": {
            "text": f"{c.doc}. Each result says what to do next (its hint); "
            f"the README's {c.code} section lists the common causes."
        },
        "defaultConfiguration": {"level": _LEVEL[c.severity]},
        "properties": {"tags": [f"IC{c.code[2]}xx"]},
    }
    if c.varies:
        rule["properties"]["severityVaries"] = c.varies
    return rule


def _physical(a: Anchor) -> dict[str, Any]:
    loc: dict[str, Any] = {"artifactLocation": {"uri": a.uri, "uriBaseId": "%SRCROOT%"}}
    if a.line is not None:
        loc["region"] = {"startLine": a.line}
    return {"physicalLocation": loc}


def _result(
    f: Finding, index: int, image: str | None, fallback: Anchor | None, cwd: Path | None
) -> tuple[dict[str, Any], Anchor | None]:
    where = anchor(f.location, cwd) if f.location else fallback
    location: dict[str, Any] = _physical(where) if where is not None else {}
    if image is not None:
        location["logicalLocations"] = [{"name": image, "kind": "module"}]
    if image is not None and f.layer is not None:
        location["logicalLocations"].append(
            {
                "name": f"layer #{f.layer.index}",
                "fullyQualifiedName": f"{image}/layer#{f.layer.index}",
                "kind": "object",
            }
        )
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": index,
        "level": _LEVEL.get(f.severity, "none"),
        "message": {"text": f"{f.subject}: {f.message}. Fix: {f.hint}"},
        "locations": [location],
        "partialFingerprints": {
            "imagecheck/v1": fingerprint(f, where.uri if f.location and where else str(image))
        },
        "properties": {"subject": f.subject, "hint": f.hint, "severity": f.severity},
    }
    if f.layer is not None:
        result["properties"]["layer"] = {
            "index": f.layer.index,
            "created_by": f.layer.created_by,
            "diff_id": f.layer.diff_id,
        }
    return result, where


def sarif_document(
    report: Report | LintReport, fail_on: str, cwd: Path | None = None
) -> dict[str, Any]:
    """The SARIF log of one run (``schema_uri`` names the schema it validates against)."""
    codes = sorted(REGISTRY)
    index = {c: i for i, c in enumerate(codes)}
    image = subject_of(report)
    dockerfile = dockerfile_of(report)
    fallback = None
    if dockerfile is not None:
        a = anchor(dockerfile, cwd)
        fallback = Anchor(a.uri, 1, a.root)
    results: list[dict[str, Any]] = []
    roots: set[Path] = set()
    for f in report.findings:
        lint = isinstance(report, LintReport)  # files only: no image to name
        result, where = _result(f, index[f.code], None if lint else image, fallback, cwd)
        results.append(result)
        if where is not None:
            roots.add(where.root)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "imagecheck",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(c) for c in codes],
            }
        },
        "automationDetails": {"id": f"imagecheck/{image}/"},
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {
                        "level": "note",
                        "message": {"text": f"{c.code} {c.name}: skipped ({c.reason})"},
                    }
                    for c in report.checks
                    if c.status == "skipped"
                ],
            }
        ],
        "results": results,
        "properties": {
            "verdict": verdict(report, fail_on),
            "failOn": fail_on,
            "failing": len(failing(report, fail_on)),
        },
    }
    if len(roots) == 1:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": roots.pop().as_uri() + "/"}}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
