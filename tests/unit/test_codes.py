"""The registry of finding codes is the one place findings are made, and the README agrees.

The walks read the package's source with ``ast``; the README test parses its code tables.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import tomllib

from imagecheck import codes
from imagecheck.lint import LINT_CHECKS
from imagecheck.suite import CHECKS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "imagecheck"
REGISTRY_MODULE = PACKAGE / "codes.py"


def _finding_calls(path: Path) -> list[ast.Call]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "Finding":
                calls.append(node)
    return calls


MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_findings_are_made_only_by_the_registry(path: Path) -> None:
    if path == REGISTRY_MODULE:
        return
    lines = [c.lineno for c in _finding_calls(path)]
    assert not lines, f"{_name(path)}:{lines}: Finding(...) outside codes.py"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_positional_finding_arguments(path: Path) -> None:
    lines = [c.lineno for c in _finding_calls(path) if c.args]
    assert not lines, f"{_name(path)}:{lines}: Finding(...) with positional arguments"


def test_the_walk_sees_finding_calls(tmp_path: Path) -> None:
    """Guard against a walker that finds nothing and so passes everything."""
    assert len(_finding_calls(REGISTRY_MODULE)) == 1
    src = tmp_path / "m.py"
    src.write_text("from x import model\nmodel.Finding('IC1', 'error')\nFinding(code='IC2')\n")
    calls = _finding_calls(src)
    assert [(c.lineno, bool(c.args)) for c in calls] == [(2, True), (3, False)]


_ROW = re.compile(r"^\| (IC\d{3}(?:/IC\d{3})*) \| ([^|]*) \|", re.MULTILINE)


def readme_codes(text: str) -> dict[str, str]:
    """Code -> the severity its README row states (its first word), from every table."""
    found: dict[str, str] = {}
    for match in _ROW.finditer(text):
        severity = match.group(2).split()[0] if match.group(2).split() else ""
        for code in match.group(1).split("/"):
            assert code not in found, f"{code} has two rows in the README"
            found[code] = severity
    return found


def _readme_problems(text: str) -> list[str]:
    documented = readme_codes(text)
    problems = [f"{c} is not in the README" for c in codes.REGISTRY if c not in documented]
    problems += [
        f"{c} is in the README, not the registry" for c in documented if c not in codes.REGISTRY
    ]
    problems += [
        f"{c}: README says {documented[c]}, the registry {code.severity}"
        for c, code in codes.REGISTRY.items()
        if c in documented and documented[c] != code.severity
    ]
    return problems


def test_readme_tables_match_the_registry() -> None:
    assert _readme_problems((ROOT / "README.md").read_text()) == []


def test_readme_check_catches_drift() -> None:
    """The comparison fails on a bogus row, a missing row and a wrong severity."""
    text = (ROOT / "README.md").read_text()
    assert len(readme_codes(text)) == len(codes.REGISTRY)
    bogus = text + "\n| IC999 | error | nothing | nothing | nothing |\n"
    assert _readme_problems(bogus) == ["IC999 is in the README, not the registry"]
    missing = re.sub(r"^\| IC504 \|.*\n", "", text, flags=re.MULTILINE)
    assert _readme_problems(missing) == ["IC504 is not in the README"]
    wrong = text.replace("| IC104 | warning |", "| IC104 | error |")
    assert _readme_problems(wrong) == ["IC104: README says error, the registry warning"]


def test_known_issues_use_registered_codes() -> None:
    data = tomllib.loads((PACKAGE / "pins" / "known_issues.toml").read_text())
    for issue in data["issue"]:
        code = codes.lookup(issue["code"])
        assert code.varies
        assert issue.get("severity", code.severity) == code.severity


def test_every_code_belongs_to_one_check() -> None:
    """The check lists' codes (and so their results' labels) are the registry's codes: once
    in each list (the alembic codes are both an image check and a lint check)."""
    image = [c.code for check in CHECKS for c in check.codes]
    lint = [c.code for check in LINT_CHECKS for c in check.codes]
    assert len(image) == len(set(image))
    assert len(lint) == len(set(lint))
    assert sorted(set(image) | set(lint)) == sorted(codes.REGISTRY)
    assert set(image) & set(lint) == {"IC850", "IC851", "IC852", "IC853"}


def test_codes_are_well_formed() -> None:
    for name, code in codes.REGISTRY.items():
        assert re.fullmatch(r"IC\d{3}", name)
        assert code.code == name
        assert code.severity in ("error", "warning", "info")
        assert code.title
        assert code.doc
        assert "\n" not in code.doc


def test_a_fixed_severity_cannot_be_overridden() -> None:
    with pytest.raises(ValueError, match="IC102's severity is fixed"):
        codes.IC102.finding(subject="numpy", message="m", hint="h", severity="warning")


def test_a_varying_severity_can_be_overridden() -> None:
    f = codes.IC103.finding(subject="numpy", message="m", hint="h", severity="error")
    assert (f.code, f.severity, f.subject, f.layer, f.location) == (
        "IC103",
        "error",
        "numpy",
        None,
        None,
    )
    assert codes.IC103.finding(subject="numpy", message="m", hint="h").severity == "info"
    with pytest.raises(ValueError, match="unknown severity"):
        codes.IC103.finding(subject="numpy", message="m", hint="h", severity="off")


def test_family_is_in_code_order() -> None:
    assert [c.code for c in codes.family("IC7")] == [f"IC7{n:02d}" for n in range(1, 11)]
