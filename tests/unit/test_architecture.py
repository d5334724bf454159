"""The dependency direction of DESIGN.md, held by walking the package's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "imagecheck"


def _imports(path: Path) -> set[str]:
    """Modules of ours that ``path`` imports, as dotted names relative to the package."""
    tree = ast.parse(path.read_text())
    here = path.relative_to(PACKAGE).with_suffix("").parts
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level])
                mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("imagecheck"):
                mod = node.module.removeprefix("imagecheck").lstrip(".")
            else:
                continue
            found.add(mod)
            found.update(f"{mod}.{a.name}".strip(".") for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("imagecheck").lstrip(".")
                for a in node.names
                if a.name.startswith("imagecheck")
            )
    return found


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_engine_imports_docker(path: Path) -> None:
    if _name(path) == "engine":
        assert "docker" in _third_party(path)
    else:
        assert not {"docker", "requests", "urllib3"} & _third_party(path)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_cli_and_reporters_use_rich(path: Path) -> None:
    name = _name(path)
    if "rich" in _third_party(path):
        assert name == "cli" or name.startswith("report.")


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_dependency_direction(path: Path) -> None:
    name = _name(path)
    ours = {m for m in _imports(path) if m}
    if name in ("model", "errors"):
        assert not ours - {"__version__"}
    if name.startswith("catalog."):
        assert not any(m.startswith(("sources", "engine", "cache", "api", "cli")) for m in ours)
    if name.startswith("checks."):
        assert not any(m.startswith(("sources", "engine", "cache", "api", "imagefs")) for m in ours)
    if name.startswith("report."):
        assert not any(
            m.startswith(("sources", "engine", "catalog", "imagefs", "api")) for m in ours
        )
    if name not in ("cli", "__main__"):
        assert not any(m == "cli" or m.startswith("cli.") for m in ours)


def test_the_walk_sees_imports() -> None:
    """Guard against a walker that finds nothing and so passes everything."""
    assert "engine" in _imports(PACKAGE / "sources" / "daemon.py")
    assert "docker" in _third_party(PACKAGE / "engine.py")
