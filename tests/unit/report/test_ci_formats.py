"""The CI formats as CI reads them: SARIF, GitHub commands and summary, GitLab Code Quality,
JUnit and CycloneDX, each validated against its published schema (tests/data/README.md)."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from imagecheck.checks import Context
from imagecheck.model import Finding, HistoryEntry, LayerRef
from imagecheck.report.github import escape_data, escape_property
from imagecheck.report.locations import anchor, split_location
from imagecheck.stale import BuildInput, StaleFacts, match_history
from imagecheck.suite import anchored
from tests.builders import Layer, make_image
from tests.helpers import run_cli
from tests.unit.test_suite import PY, dist

DATA = Path(__file__).resolve().parents[2] / "data"


@cache
def sarif_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / "sarif-2.1.0-rtm.5.json").read_text())
    return loaded


def validate_sarif(doc: object) -> None:
    jsonschema.Draft4Validator(sarif_schema()).validate(doc)


@cache
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / "junit-10.xsd"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding the pins in deploy/pins.txt, and an image of two layers:
    bcrypt 4.2.0 where the pins say 4.0.0 (IC102 on line 2), passlib with it (IC301)."""
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "deploy" / "pins.txt").write_text("passlib==1.7.4\nbcrypt==4.0.0\n")
    make_image(
        tmp_path,
        [Layer(PY), Layer(dist("passlib", "1.7.4") + dist("bcrypt", "4.2.0"))],
        layout="oci-dir",
        config={"Cmd": ["python3"]},
    )
    return root


def _run(repo: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    image = next(p for p in repo.parent.iterdir() if p.is_dir() and p.name != "repo")
    return run_cli(
        "check",
        f"oci-dir:{image}",
        "-c",
        "deploy/pins.txt",
        "--no-cache",
        *args,
        cwd=repo,
        env=env,
        timeout=120,
    )


def test_sarif_validates_and_points_at_the_pin(repo: Path) -> None:
    result = _run(repo, "--format", "sarif", "--fail-on", "warning")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    validate_sarif(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_code = {r["ruleId"]: r for r in run["results"]}
    assert set(by_code) == {"IC102", "IC301"}
    pin = by_code["IC102"]
    assert rules[pin["ruleIndex"]]["id"] == "IC102"
    assert rules[pin["ruleIndex"]]["shortDescription"]["text"] == "version differs from the pin"
    assert pin["level"] == "error"
    physical = pin["locations"][0]["physicalLocation"]
    assert physical == {
        "artifactLocation": {"uri": "deploy/pins.txt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 2},
    }
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    known = by_code["IC301"]  # about the image alone, no Dockerfile: a logical location
    assert known["level"] == "warning"
    assert "physicalLocation" not in known["locations"][0]
    assert known["locations"][0]["logicalLocations"][0]["kind"] == "module"
    assert "Fix: " in known["message"]["text"]
    again = json.loads(_run(repo, "--format", "sarif").stdout)["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in again] == [
        r["partialFingerprints"] for r in run["results"]
    ]


def test_the_sarif_schema_rejects_what_code_scanning_would(repo: Path) -> None:
    doc = json.loads(_run(repo, "--format", "sarif").stdout)
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif(doc)


def test_github_annotations_and_step_summary(repo: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = _run(repo, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1  # IC301 is a warning: under --fail-on error, no annotation
    assert lines[0].startswith("::error file=deploy/pins.txt,line=2,title=IC102 bcrypt::")
    assert "%0Afix: " in lines[0]
    text = summary.read_text()
    assert text.startswith("earlier step\n## :x: imagecheck: FAIL ")
    assert "| :x: error | IC102 | bcrypt |" in text
    assert "<details><summary>Layers</summary>" in text
    markdown = _run(repo, "--format", "markdown")
    assert markdown.returncode == 1
    assert markdown.stdout + "\n" == text.removeprefix("earlier step\n")
    warned = _run(repo, "--format", "github", "--fail-on", "warning")
    assert [line.split(" ", 1)[0] for line in warned.stdout.splitlines()] == [
        "::error",
        "::warning",
    ]


def test_gitlab_code_quality(repo: Path) -> None:
    result = _run(repo, "--format", "gitlab")
    issues = json.loads(result.stdout)
    assert [i["check_name"] for i in issues] == ["IC102", "IC301"]
    for issue in issues:  # what GitLab's documentation requires of each
        assert isinstance(issue["description"], str)
        assert len(issue["fingerprint"]) == 32
        assert issue["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert isinstance(issue["location"]["path"], str)
        assert isinstance(issue["location"]["lines"]["begin"], int)
    assert issues[0]["location"] == {"path": "deploy/pins.txt", "lines": {"begin": 2}}
    assert issues[0]["severity"] == "critical"
    sarif = json.loads(_run(repo, "--format", "sarif").stdout)["runs"][0]["results"]
    assert issues[0]["fingerprint"] == sarif[0]["partialFingerprints"]["imagecheck/v1"]


def test_junit_follows_the_published_schema(repo: Path) -> None:
    result = _run(repo, "--format", "junit", "--fail-on", "warning")
    assert result.returncode == 1
    junit_schema().validate(result.stdout)
    assert "<failure" in result.stdout
    assert "<skipped" in result.stdout
    broken = result.stdout.replace("<testcase ", '<testcase bogus="1" ', 1)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        junit_schema().validate(broken)


def test_one_run_writes_other_formats_beside_stdout(repo: Path, tmp_path: Path) -> None:
    sarif, junit = tmp_path / "out.sarif", tmp_path / "out.xml"
    result = _run(
        repo, "--format", "github", "--report", f"sarif={sarif}", "--report", f"junit={junit}"
    )
    assert result.returncode == 1, result.stderr
    validate_sarif(json.loads(sarif.read_text()))
    junit_schema().validate(junit.read_text())
    bad = _run(repo, "--report", "pdf=x.pdf")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "--report pdf=x.pdf: want FORMAT=FILE" in bad.stderr


def test_cyclonedx_validates_with_the_librarys_validator(tmp_path: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    site = "usr/local/lib/python3.11/site-packages"
    old = [f for f in dist("idna", "3.6") if not f.path.endswith("RECORD")]
    built = make_image(
        tmp_path,
        [Layer(PY + old), Layer(dist("idna", "3.7"), created_by="RUN pip install -U idna")],
        layout="oci-dir",
        config={"Cmd": ["python3"]},
    )
    result = run_cli("inventory", f"oci-dir:{built.path}", "--format", "cyclonedx", "--no-cache")
    assert result.returncode == 0, result.stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(result.stdout) is None
    doc = json.loads(result.stdout)
    assert doc["specVersion"] == "1.6"
    image = doc["metadata"]["component"]
    assert image["type"] == "container"
    assert image["hashes"] == [{"alg": "SHA-256", "content": built.image_id.split(":")[1]}]
    props = {
        c["bom-ref"]: {p["name"]: p["value"] for p in c["properties"]} for c in doc["components"]
    }
    assert [c["purl"] for c in doc["components"]] == ["pkg:pypi/idna@3.6", "pkg:pypi/idna@3.7"]
    live = props[f"pypi:/{site}/idna-3.7.dist-info"]
    assert live["imagecheck:layer:created_by"] == "RUN pip install -U idna"
    assert live["imagecheck:live"] == "true"
    shadowed = props[f"pypi:/{site}/idna-3.6.dist-info"]
    assert shadowed["imagecheck:shadowed_by"] == f"/{site}/idna-3.7.dist-info"
    assert shadowed["imagecheck:layer:index"] == "0"
    assert (
        JsonStrictValidator(SchemaVersion.V1_6).validate_str(
            result.stdout.replace('"container"', '"box"')
        )
        is not None
    )
    assert run_cli("check", str(built.path), "--format", "cyclonedx").returncode == 2


def test_a_layers_finding_points_at_the_dockerfile_line_that_made_it(tmp_path: Path) -> None:
    text = "FROM base\nENV A=1\nRUN pip install idna\n"
    history = (
        HistoryEntry(0, None, "", "Imported from -", False, "sha256:base"),
        HistoryEntry(1, None, "/bin/sh -c #(nop)  ENV A=1", "", True, None),
        HistoryEntry(2, None, "/bin/sh -c pip install idna", "", False, "sha256:2"),
    )
    build = BuildInput(tmp_path / "Dockerfile", tmp_path)
    facts = StaleFacts(
        build=build,
        match=match_history(build, text, history),
        files=(),
        hashes=(),
        declared=(),
        requirements=(),
        state=None,
    )
    ctx = Context(inventory=None, stale=facts)  # type: ignore[arg-type]
    layer = LayerRef(2, history[2].created_by, "sha256:2")
    base = LayerRef(0, "", "sha256:base")
    found = (
        Finding("IC103", "info", "idna", "unpinned", "pin it", layer),
        Finding("IC103", "info", "six", "unpinned", "pin it", base),
        Finding("IC102", "error", "idna", "differs", "pin it", layer, "req.txt:3"),
    )
    located = anchored(found, ctx)
    assert [f.location for f in located] == [f"{tmp_path / 'Dockerfile'}:3", None, "req.txt:3"]
    assert anchored(found, Context(inventory=None)) == found  # type: ignore[arg-type]


def test_locations_relative_to_the_repository(tmp_path: Path) -> None:
    (tmp_path / "r" / ".git").mkdir(parents=True)
    (tmp_path / "r" / "sub").mkdir()
    assert split_location("a/b.txt:12") == ("a/b.txt", 12)
    assert split_location("C:thing") == ("C:thing", None)
    a = anchor("sub/../sub/Dockerfile:4", cwd=tmp_path / "r")
    assert (a.uri, a.line, a.root) == ("sub/Dockerfile", 4, tmp_path / "r")
    outside = anchor(f"{tmp_path}/x/req.txt:1")
    assert (outside.uri, outside.root) == ("req.txt", tmp_path / "x")


def test_workflow_command_escapes() -> None:
    assert escape_data("50% a\r\nb") == "50%25 a%0D%0Ab"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_lint_sarif_and_annotations_point_at_the_requirement_line(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "constraints").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "constraints" / "requirements.txt").write_text("numpy==1.26.4\n")
    (root / "app").mkdir()
    (root / "app" / "requirements.txt").write_text("fastapi==0.115.6\nnumpy>=2\n")
    sarif = run_cli("lint", "app/requirements.txt", "--format", "sarif", cwd=root)
    assert sarif.returncode == 1, sarif.stderr
    doc = json.loads(sarif.stdout)
    validate_sarif(doc)
    (result,) = doc["runs"][0]["results"]
    assert result["ruleId"] == "IC401"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "app/requirements.txt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 2},
    }
    assert "logicalLocations" not in result["locations"][0]
    github = run_cli("lint", "app/requirements.txt", "--format", "github", cwd=root)
    assert github.stdout.startswith("::error file=app/requirements.txt,line=2,title=IC401 numpy::")


def test_a_service_report_in_every_format(tmp_path: Path) -> None:
    """Smoke results and a service's state (the terminal test's report, data full of
    markup): JUnit's extra suites follow the schema; an image finding is on the
    Dockerfile's first line (code scanning needs a file)."""
    from imagecheck.report.findings import junit
    from imagecheck.report.gitlab import gitlab_document
    from imagecheck.report.markdown import markdown_summary
    from imagecheck.report.sarif import sarif_document
    from tests.unit.report.test_terminal import _report

    report = _report()
    xml = junit(report, "info")
    junit_schema().validate(xml)
    assert 'classname="smoke.import"' in xml
    assert "<system-out>" in xml
    doc = sarif_document(report, "error", cwd=tmp_path)
    validate_sarif(doc)
    (result,) = doc["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    dockerfile = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert report.stale is not None
    assert report.stale.dockerfile is not None
    assert dockerfile == Path(report.stale.dockerfile).name  # in no repository: its folder
    assert (
        result["partialFingerprints"]
        == sarif_document(report, "info", cwd=tmp_path)["runs"][0]["results"][0][
            "partialFingerprints"
        ]
    )
    (issue,) = gitlab_document(report, cwd=tmp_path)
    assert issue["location"] == {"path": dockerfile, "lines": {"begin": 1}}
    summary = markdown_summary(report, "error")
    assert "\\[\\[failure\\]\\] \\[bold\\]" in summary  # escaped: no link, no emphasis
    assert "<details>" in summary
    assert "| :x: error | IC101 |" in summary
