"""The dependency direction of DESIGN.md, held by walking the package's imports."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from imagecheck import lazy

PACKAGE = Path(__file__).resolve().parents[2] / "imagecheck"
#: The concept packages: each ``__init__.py`` is the package's interface.
PACKAGES = frozenset(
    p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
)


def _from_modules(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """``(line, module)`` of each ``from X import ...`` of ours, X dotted relative to ``root``."""
    here = path.relative_to(root).with_suffix("").parts
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = list(here[: len(here) - node.level])
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
        elif node.module and node.module.startswith(root.name):
            mod = node.module.removeprefix(root.name).lstrip(".")
        else:
            continue
        found.append((node.lineno, mod))
    return found


def _around_interfaces(path: Path, root: Path = PACKAGE) -> list[str]:
    """Imports that reach past another package's ``__init__`` into its modules."""
    packages = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    own = path.relative_to(root).parts[0]
    return [
        f"{line}: {mod}"
        for line, mod in _from_modules(path, root)
        if "." in mod and mod.split(".")[0] in packages and mod.split(".")[0] != own
    ]


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
def test_only_tomlfile_parses_toml(path: Path) -> None:
    """One TOML loader, so a malformed file gets one error shape wherever it is read."""
    if _name(path) == "tomlfile":
        assert "tomllib" in _third_party(path)
    else:
        assert not {"tomllib", "tomli"} & _third_party(path)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_cli_and_reporters_use_rich(path: Path) -> None:
    name = _name(path)
    if "rich" in _third_party(path):
        assert name == "cli" or name.startswith("report.")


#: Each package's interface: the names its ``__init__`` loads on first use.
INTERFACES = {
    pkg: lazy.names(PACKAGE / pkg / "__init__.py")
    for pkg in sorted(PACKAGES)
    if "lazy.interface(" in (PACKAGE / pkg / "__init__.py").read_text()
}
TESTS = sorted((PACKAGE.parent / "tests").rglob("*.py"))


@pytest.mark.parametrize("pkg", sorted(INTERFACES))
def test_each_interface_loads_what_it_lists(pkg: str) -> None:
    """``__all__`` is the TYPE_CHECKING imports, and every name loads from its module."""
    module = importlib.import_module(f"imagecheck.{pkg}")
    assert sorted(module.__all__) == sorted(INTERFACES[pkg])
    for name in module.__all__:
        assert getattr(module, name) is not None


def _interface_misses(path: Path) -> list[str]:
    """Names imported from a package that its interface does not list: mypy types a lazy
    package's unknown names as Any, so a typo would pass it and fail only at run time."""
    misses: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level and path.is_relative_to(PACKAGE):
            here = path.relative_to(PACKAGE).with_suffix("").parts
            base = list(here[: len(here) - node.level])
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
        elif node.module and node.module.startswith("imagecheck."):
            mod = node.module.removeprefix("imagecheck.")
        else:
            continue
        if mod in INTERFACES:
            misses += [
                f"{node.lineno}: {mod}.{a.name}"
                for a in node.names
                if a.name not in INTERFACES[mod]
            ]
    return misses


@pytest.mark.parametrize("path", MODULES + TESTS, ids=str)
def test_imports_name_what_an_interface_lists(path: Path) -> None:
    assert _interface_misses(path) == []


def test_the_interface_check_sees_a_typo(tmp_path: Path) -> None:
    bad = tmp_path / "typo.py"
    bad.write_text("from imagecheck.smoke import SmokeOptions, smoke_imagee\n")
    assert _interface_misses(bad) == ["1: smoke.smoke_imagee"]


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_packages_are_imported_through_their_init(path: Path) -> None:
    """A package's ``__init__`` is its interface; the rest of it is private to it."""
    assert _around_interfaces(path) == []


_CATALOG_MAY_SEE = ("ImageFS", "LayerIndex", "Progress", "ProgressFn", "no_progress")


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_dependency_direction(path: Path) -> None:
    name = _name(path)
    ours = {m for m in _imports(path) if m}
    if name in ("model", "errors"):
        assert not ours - {"__version__"}
    if name == "engine":
        # the engine boundary depends on nothing but the data it returns
        assert {m.split(".")[0] for m in ours} <= {"errors", "model"}
    if name.startswith("catalog."):
        # catalogers see the image filesystem and layer indexes, never a source or the cache
        seen = {m for m in ours if m.startswith("image")}
        assert seen <= {"image", *(f"image.{n}" for n in _CATALOG_MAY_SEE)}
        assert not any(m.startswith(("engine", "api", "cli")) for m in ours)
    if name.startswith("checks."):
        assert not any(m.startswith(("image", "engine", "api")) for m in ours)
    if name.startswith("report."):
        # reporters know only the report
        assert not any(m.startswith(("image", "engine", "catalog", "api", "suite")) for m in ours)
    if name not in ("cli", "__main__"):
        assert not any(m == "cli" or m.startswith("cli.") for m in ours)


def test_the_walk_sees_imports() -> None:
    """Guard against a walker that finds nothing and so passes everything."""
    assert "engine" in _imports(PACKAGE / "image" / "sources" / "daemon.py")
    assert "docker" in _third_party(PACKAGE / "engine.py")
    assert {"image", "catalog", "pins", "smoke", "stale", "triage", "report"} <= PACKAGES


def test_the_interface_walk_sees_a_reach_around(tmp_path: Path) -> None:
    """A module importing another package's private module is caught; its own is not."""
    root = tmp_path / "pkg"
    for folder in ("image", "stale"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "image" / "layerindex.py").write_text("X = 1\n")
    bad = root / "stale" / "facts.py"
    bad.write_text(
        "from ..image import X\nfrom ..image.layerindex import X\n"
        "from pkg.image.layerindex import X\nfrom .check import Y\nfrom .. import model\n"
    )
    assert _around_interfaces(bad, root) == ["2: image.layerindex", "3: image.layerindex"]
    assert _around_interfaces(root / "image" / "layerindex.py", root) == []


#: Keys of the engine API's JSON answers, including the few that are not CamelCase.
DOCKER_KEYS = frozenset(
    {"ID", "Id", "Config", "State", "RestartCount", "GraphDriver", "BuildCache", "RepoTags"}
    | {"RootFS", "Layers", "ContainerConfig", "HostConfig", "ServerVersion", "DockerRootDir"}
)
#: Modules that read files in Docker's, OCI's or Debian's published formats (the
#: ``docker save`` manifest, the image config, dpkg's status file): their keys are the
#: format's, not the engine's answers. The registry source speaks HTTP and reads the
#: credential helpers' answers (``Username``, ``Secret``).
FILE_FORMATS = frozenset(
    {"image.sources.archive", "image.sources.base", "image.sources.registry", "catalog.dpkg"}
)
_CAMEL = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*")


def _raw_keys(path: Path) -> list[str]:
    """String keys that look like the engine's JSON, subscripted or ``.get``, by line."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
        ):
            key = node.args[0]
        if (
            isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and (key.value in DOCKER_KEYS or _CAMEL.fullmatch(key.value))
        ):
            found.append(f"{key.lineno}: {key.value!r}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_engine_reads_the_engines_json(path: Path) -> None:
    """engine.py turns the engine's answers into dataclasses; nobody else indexes them."""
    if _name(path) in FILE_FORMATS | {"engine"}:
        return
    assert _raw_keys(path) == []


def test_the_key_walk_sees_raw_keys(tmp_path: Path) -> None:
    """Guard against a walker that finds nothing and so passes everything."""
    bad = tmp_path / "bad.py"
    bad.write_text('s = info["State"]\nn = s.get("RestartCount")\nx = d["ID"]\nok = e["HOME"]\n')
    assert _raw_keys(bad) == ["1: 'State'", "2: 'RestartCount'", "3: 'ID'"]
